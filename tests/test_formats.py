"""mig-formats on SQLite: other tools' folders read as they are (each format's corner cases),
`mig import --convert` and `mig import --history` (one-command switch, no re-run, refusals)."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import pytest
from format_folders import FOLDERS, history_ddl, history_rows, write
from mig import ConfigError, MigError, MigrationFileError
from mig.plugins import Plugins
from mig.testing import Project
from mig_formats import detect, load_folder

TOOLS = list(FOLDERS)


def folder(tmp_path: Path, files: dict[str, str]) -> Path:
    return write(tmp_path / "m", files)


def load(path: Path, tool: str) -> list:
    found = load_folder(path, tool)
    assert found is not None
    plugins = Plugins().load()
    return plugins.resolve_order(found[1])


def statements(m, direction: str = "up") -> list[str]:
    plugins = Plugins().load()
    ready = m.up_statements if direction == "up" else m.down_statements
    if ready is not None:
        return [s.sql for s in ready]
    sql, line = (m.up_sql, m.up_line) if direction == "up" else (m.down_sql, m.down_line)
    return [s.sql for s in plugins.split(sql, "sqlite", line, m.path)]


def old_tool_ran(project: Project, tool: str, count: int, *, dirty: bool = False) -> list[str]:
    """Do what ``tool`` does when it applies the first ``count`` migrations of the folder:
    run their SQL, create its history table and record them."""
    files, ids = FOLDERS[tool]
    migrations = load(project.migrations_dir, tool)
    conn = sqlite3.connect(project.db_path)
    try:
        for m in migrations[:count]:
            for sql in statements(m):
                conn.execute(sql)
        for sql in history_ddl(tool, "sqlite") + history_rows(
            tool, "sqlite", project.migrations_dir, ids[:count], dirty=dirty
        ):
            conn.execute(sql)
        conn.commit()
    finally:
        conn.close()
    return ids[:count]


def with_break(sql: str) -> str:
    return sql if sql == "" or sql.endswith("\n") else sql + "\n"


def status(project: Project) -> dict:
    """What `mig status --json` prints, computed in-process (the CLI is exercised once per
    tool; a subprocess per check would make this file slow)."""
    with project.engine() as engine:
        result: dict = engine.status().to_dict()
    return result


def import_(project: Project, **kwargs: object) -> dict:
    """`mig import` in-process."""
    from mig_formats.importer import run_import

    settings = {"source": None, "directory": None, "convert": None, "history": False, **kwargs}
    with project.engine() as engine:
        report: dict = run_import(engine, **settings)  # type: ignore[arg-type]
    return report


def ids_of(entries: list) -> list[str]:
    return [e["id"] if isinstance(e, dict) else e for e in entries]


# -- detection and each format's rules ---------------------------------------------------------


@pytest.mark.parametrize("tool", TOOLS)
def test_each_folder_is_detected_as_its_tool(tmp_path: Path, tool: str) -> None:
    path = folder(tmp_path, FOLDERS[tool][0])
    assert detect(path) == tool
    assert [m.id for m in load(path, tool)] == FOLDERS[tool][1]


def test_a_mig_folder_is_none_of_theirs(mig_project: Project) -> None:
    mig_project.table_migration("001", "a")
    assert detect(mig_project.migrations_dir) is None


def test_golang_migrate_pairs_missing_and_comment_only_downs(tmp_path: Path) -> None:
    up = "CREATE TABLE a (x int);\nCREATE TRIGGER t AFTER INSERT ON a BEGIN\n  SELECT 1;\nEND"
    path = folder(tmp_path, {
        "1_a.up.sql": up,
        "1_a.down.sql": "-- nothing to do\n",
        "2_b.up.sql": "CREATE INDEX CONCURRENTLY b ON a (x);\n",
        "3_c.up.sql": "BEGIN;\nCREATE TABLE c (x int);\nCOMMIT;\n",
        "3_c.down.sql": "DROP TABLE c;\n",
        "README.md": "not a migration\n",
    })
    a, b, c = load(path, "golang-migrate")
    assert (a.id, a.version, a.up_sql, a.down_sql) == ("1_a", "1", up, "-- nothing to do\n")
    assert not a.reversible and a.transactional  # a comment-only down undoes nothing
    assert statements(a)[-1].startswith("CREATE TRIGGER") and statements(a)[-1].endswith("END")
    assert not b.reversible and b.down_sql == "" and not b.transactional
    assert c.reversible and not c.transactional  # it commits its own transaction


def test_golang_migrate_refuses_a_down_without_up_and_two_ups(tmp_path: Path) -> None:
    with pytest.raises(MigrationFileError, match="no matching"):
        load(folder(tmp_path, {"1_a.down.sql": "x"}), "golang-migrate")
    with pytest.raises(MigrationFileError, match="duplicate version 1"):
        load(folder(tmp_path / "2", {"1_a.up.sql": "x", "01_b.up.sql": "y"}), "golang-migrate")


def test_dbmate_blocks_and_transaction_option(tmp_path: Path) -> None:
    text = ("-- a comment before the block\n-- migrate:up transaction:false\n"
            "CREATE INDEX CONCURRENTLY i ON t (x)\n\n-- migrate:down\nDROP INDEX i;\n")
    path = folder(tmp_path, {"20240101000000_idx.sql": text,
                             "20240102000000_t.sql": "-- migrate:up\nSELECT 1;\n"})
    idx, t = load(path, "dbmate")
    assert idx.up_sql == "CREATE INDEX CONCURRENTLY i ON t (x)\n\n"
    assert idx.down_sql == "DROP INDEX i;\n" and idx.up_line == 3 and idx.down_line == 6
    assert not idx.transactional and t.transactional and not t.reversible
    with pytest.raises(MigrationFileError, match="migrate:up"):
        load(folder(tmp_path / "2", {"1_x.sql": "SELECT 1;\n-- migrate:up\nSELECT 2;\n"}),
             "dbmate")


GOOSE_TRIGGER = """\
-- +goose NO TRANSACTION
-- +goose Up
CREATE TABLE t (x int); -- first
-- a comment between statements

-- +goose StatementBegin
CREATE TRIGGER t_ins AFTER INSERT ON t BEGIN
  INSERT INTO log VALUES (NEW.x);
  UPDATE t SET x = x;
END;
-- +goose StatementEnd
INSERT INTO t VALUES ('a;b');

-- +goose Down
DROP TABLE t;
"""


def test_goose_statement_blocks_stay_one_statement(tmp_path: Path) -> None:
    (m,) = load(folder(tmp_path, {"20240101120000_t.sql": GOOSE_TRIGGER}), "goose")
    assert m.version == "20240101120000" and not m.transactional and m.reversible
    assert statements(m) == [
        "CREATE TABLE t (x int); -- first",
        "CREATE TRIGGER t_ins AFTER INSERT ON t BEGIN\n  INSERT INTO log VALUES (NEW.x);\n"
        "  UPDATE t SET x = x;\nEND;",
        "INSERT INTO t VALUES ('a;b');",
    ]
    assert [s.line for s in m.up_statements] == [3, 7, 12]
    assert statements(m, "down") == ["DROP TABLE t;"]
    assert "-- +goose StatementBegin" in m.up_sql and "+goose Down" not in m.up_sql


def test_goose_annotation_spellings_envsub_and_errors(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("MIG_T_TABLE", "people")
    text = ("--  +goose  up\n-- +goose envsub on\nCREATE TABLE ${MIG_T_TABLE} (x int);\n"
            "-- +goose ENVSUB OFF\nSELECT '${MIG_T_TABLE}';\n-- +GOOSE DOWN\n")
    (m,) = load(folder(tmp_path, {"1_x.sql": text}), "goose")
    assert statements(m) == ["CREATE TABLE people (x int);", "SELECT '${MIG_T_TABLE}';"]
    assert "${MIG_T_TABLE}" in m.up_sql  # the file's text is kept; only execution substitutes
    bad = {"2_y.sql": "-- +goose Up\n-- +goose StatementBegin\nSELECT 1;\n"}
    with pytest.raises(MigrationFileError, match="StatementEnd"):
        load(folder(tmp_path / "b", bad), "goose")
    with pytest.raises(MigrationFileError, match="Go migrations"):
        load(folder(tmp_path / "c", {"3_z.go": "package m\n"}), "goose")


def test_flyway_versions_undo_repeatables_and_conf(tmp_path: Path) -> None:
    path = folder(tmp_path, {
        "V1__a.sql": "SELECT 1;\n", "V1.1__b.sql": "SELECT 2;\n", "V1_10__d.sql": "SELECT 4;\n",
        "V1.9__c.sql": "SELECT 3;\n", "V2__e.sql": "CREATE TABLE e (x int);\n",
        "U2__e.sql": "DROP TABLE e;\n", "R__view_b.sql": "SELECT 'b';\n",
        "R__view_a.sql": "SELECT 'a';\n", "V3__f.sql": "VACUUM\n",
        "V4__g.sql": "SELECT 5;\n", "V4__g.sql.conf": "executeInTransaction=false\n",
    })
    (path / "sub").mkdir()
    (path / "sub" / "V1.9__c.sql").write_text("SELECT 3;\n")  # Flyway scans subfolders
    (path / "V1.9__c.sql").unlink()
    ms = load(path, "flyway")
    assert [m.id for m in ms] == ["V1__a", "V1.1__b", "V1.9__c", "V1_10__d", "V2__e", "V3__f",
                                  "V4__g", "R__view_a", "R__view_b"]
    e = ms[4]
    assert e.down_sql == "DROP TABLE e;\n" and e.reversible and e.name == "e"
    assert int(ms[1].version) == 1_0001_0000_0000
    assert not ms[5].transactional and not ms[6].transactional and ms[0].transactional
    assert not ms[-1].reversible
    with pytest.raises(MigrationFileError, match="duplicate version"):
        load(folder(tmp_path / "d", {"V1__a.sql": "x", "V1.0__b.sql": "y"}), "flyway")
    plain = load(folder(tmp_path / "p", {"V7__a.sql": "x", "V12__b.sql": "y"}), "flyway")
    assert [m.version for m in plain] == ["7", "12"]


def test_flyway_versions_of_many_parts_or_wide_parts(tmp_path: Path) -> None:
    # Five parts (1.0.9.0.1) and a wide part after the first (a time of day): each version's
    # parts side by side, zero-padded per position, still order as Flyway orders them.
    path = folder(tmp_path, {
        "V1.0.9.0.1__a.sql": "SELECT 1;\n", "V1.0.9.0.2__b.sql": "SELECT 2;\n",
        "V1.0.10__c.sql": "SELECT 3;\n", "V1.2__d.sql": "SELECT 4;\n",
        "V2024.01.15.143000__e.sql": "SELECT 5;\n", "R__f.sql": "SELECT 6;\n",
    })
    ms = load(path, "flyway")
    assert [m.id for m in ms] == ["V1.0.9.0.1__a", "V1.0.9.0.2__b", "V1.0.10__c", "V1.2__d",
                                  "V2024.01.15.143000__e", "R__f"]
    versions = [int(m.version) for m in ms]
    assert versions == sorted(versions) and len(set(versions)) == len(versions)
    assert ms[0].metadata["flyway_version"] == "1.0.9.0.1"


def test_flyway_checksum_matches_flyway(tmp_path: Path) -> None:
    from mig_formats.flyway import checksum

    # CRC-32 of the lines without their breaks: line endings and a BOM do not count.
    assert checksum("a\nb\n") == checksum("a\r\nb") == checksum("\ufeffa\nb")
    assert checksum("") == 0 and checksum("a\nb\n") != checksum("a\nc\n")
    assert checksum("a\nb\n") == -1635563411  # zlib.crc32(b"ab") as a signed int


def test_sql_migrate_order_blocks_and_notransaction(tmp_path: Path) -> None:
    path = folder(tmp_path, {
        "10_b.sql": "-- +migrate Up\nCREATE TABLE b (x int);\n-- +migrate Down notransaction\n"
                    "DROP TABLE b;\n",
        "9_a.sql": "-- +migrate Up\n-- +migrate StatementBegin\nCREATE TRIGGER t AFTER INSERT ON a"
                   " BEGIN\n  SELECT 1;\nEND;\n-- +migrate StatementEnd\n",
        "README.md": "not a migration\n",
    })
    assert detect(path) == "sql-migrate"
    a, b = ms = load(path, "sql-migrate")
    assert [(m.id, m.version) for m in ms] == [("9_a", "9"), ("10_b", "10")]
    assert a.transactional and not a.reversible and not b.transactional and b.reversible
    assert statements(a) == ["CREATE TRIGGER t AFTER INSERT ON a BEGIN\n  SELECT 1;\nEND;"]
    # Files without a numeric prefix come after the numbered ones, by name; versions are then
    # positions.
    named = load(folder(tmp_path / "n", {"b.sql": "-- +migrate Up\nSELECT 1;\n",
                                        "1_a.sql": "-- +migrate Up\nSELECT 2;\n"}),
                 "sql-migrate")
    assert [(m.id, m.version) for m in named] == [("1_a", "1"), ("b", "2")]
    with pytest.raises(MigrationFileError, match="unknown migrate annotation"):
        load(folder(tmp_path / "u", {"1_x.sql": "-- +migrate Up sometimes\nSELECT 1;\n"}),
             "sql-migrate")
    with pytest.raises(MigrationFileError, match="SQL before '-- \\+migrate Up'"):
        load(folder(tmp_path / "m", {"1_x.sql": "SELECT 1;\n"}), "sql-migrate")


def test_yoyo_depends_rollback_and_transactional(tmp_path: Path) -> None:
    path = folder(tmp_path, {
        "20240101_01_abcde-z.sql": "-- depends: 20240101_02_fghij-a\nSELECT 1;\n",
        "20240101_02_fghij-a.sql": "-- a leading comment\n-- transactional: false\nSELECT 2;\n",
        "20240101_02_fghij-a.rollback.sql": "SELECT 3;\n",
    })
    a, z = ms = load(path, "yoyo")
    assert [m.id for m in ms] == ["20240101_02_fghij-a", "20240101_01_abcde-z"]
    assert (a.version, z.version) == ("2024010102", "2024010101")
    assert z.dependencies == ("20240101_02_fghij-a",)
    assert not a.transactional and a.down_sql == "SELECT 3;\n" and not z.reversible
    named = load(folder(tmp_path / "n", {"b.sql": "SELECT 1;\n", "a.sql": "SELECT 2;\n",
                                        "a.rollback.sql": "SELECT 3;\n"}), "yoyo")
    assert [(m.id, m.version) for m in named] == [("a", "1"), ("b", "2")]
    with pytest.raises(MigrationFileError, match="not in the folder"):
        load(folder(tmp_path / "x", {"a.sql": "-- depends: nope\nSELECT 1;\n"}), "yoyo")


# -- running a folder as it is -------------------------------------------------------------------


def test_goose_folder_runs_in_place_with_its_trigger(mig_project: Project) -> None:
    write(mig_project.migrations_dir, {
        "1_log.sql": "-- +goose Up\nCREATE TABLE log (x int);\n-- +goose Down\nDROP TABLE log;\n",
        "2_t.sql": GOOSE_TRIGGER,
    })
    mig_project.write_config(migrations_format="auto")
    mig_project.migrate()
    assert mig_project.query("SELECT x FROM log") == [("a;b",)]
    with mig_project.engine() as engine:
        engine.down()
    assert "t" not in mig_project.tables() and "log" in mig_project.tables()


def test_bad_and_unknown_formats_are_config_errors(mig_project: Project) -> None:
    mig_project.write_config(migrations_format="Goose!")
    result = mig_project.run("status")
    assert result.code == 2 and "migrations_format" in result.err
    mig_project.write_config(migrations_format="alembic")
    result = mig_project.run("status")
    assert result.code == 2 and "no installed plugin reads that format" in result.err


@pytest.mark.parametrize("configured", ["goose", "auto"])
def test_new_refuses_to_add_a_mig_file_to_another_tools_folder(
    mig_project: Project, configured: str
) -> None:
    # A mig-format file would make the goose folder unreadable.
    write(mig_project.migrations_dir, FOLDERS["goose"][0])
    mig_project.write_config(migrations_format=configured)
    before = sorted(p.name for p in mig_project.migrations_dir.iterdir())
    result = mig_project.run("new", "add thing")
    assert result.code == 2 and "another tool's folder" in result.err
    assert "mig import --convert" in result.err
    assert sorted(p.name for p in mig_project.migrations_dir.iterdir()) == before
    assert mig_project.run("validate").code == 0


def test_new_in_an_empty_folder_with_auto_writes_a_mig_file(mig_project: Project) -> None:
    mig_project.write_config(migrations_format="auto")
    result = mig_project.run("new", "first")
    assert result.code == 0 and result.out.strip().endswith("001_first.sql")
    assert mig_project.run("validate").code == 0


@pytest.mark.parametrize("tool, files, hint", [
    ("goose", {"1_t.sql": "-- +goose Up\nBEGIN;\nCREATE TABLE t (x int);\n"},
     "add '-- +goose NO TRANSACTION' to the file"),
    ("dbmate", {"1_t.sql": "-- migrate:up\nBEGIN;\nCREATE TABLE t (x int);\n"},
     "add transaction:false after '-- migrate:up'"),
    ("flyway", {"V1__t.sql": "BEGIN;\nCREATE TABLE t (x int);\n"},
     "add V1__t.sql.conf beside it holding executeInTransaction=false"),
    ("yoyo", {"0001.t.sql": "-- depends:\nBEGIN;\nCREATE TABLE t (x int);\n"},
     "add '-- transactional: false' to the file's leading comments"),
    ("golang-migrate", {"1_t.up.sql": "BEGIN;\nCREATE TABLE t (x int);\n"},
     "a golang-migrate file cannot say so"),
    ("sql-migrate", {"1_t.sql": "-- +migrate Up\nBEGIN;\nCREATE TABLE t (x int);\n"},
     "add notransaction after '-- +migrate Up'"),
])
def test_transaction_errors_say_how_the_tools_file_runs_outside_one(
    mig_project: Project, tool: str, files: dict[str, str], hint: str
) -> None:
    write(mig_project.migrations_dir, files)
    mig_project.write_config(migrations_format=tool)
    result = mig_project.run("up")
    assert result.code == 1
    assert "transaction control statements are not allowed" in result.err
    assert hint in result.err and "set @transactional: false;" not in result.err


def test_a_body_goose_cut_at_a_semicolon_says_to_use_a_statement_block(
    mig_project: Project,
) -> None:
    write(mig_project.migrations_dir, {
        "1_t.sql": "-- +goose Up\nCREATE TABLE a (x int);\nCREATE TRIGGER t AFTER INSERT ON a"
                   " BEGIN\n  UPDATE a SET x = 1;\nEND;\n",
    })
    mig_project.write_config(migrations_format="goose")
    result = mig_project.run("validate")
    assert result.code == 2
    assert "1_t.sql:3: unterminated BEGIN ... END block" in result.err
    assert "'-- +goose StatementBegin'" in result.err


def test_a_format_that_reads_none_of_the_files_is_a_config_error(mig_project: Project) -> None:
    # Every tool skips files it does not name so, but skipping all of them is a mistake.
    write(mig_project.migrations_dir, FOLDERS["goose"][0])
    mig_project.write_config(migrations_format="flyway")
    result = mig_project.run("validate")
    assert result.code == 2
    assert "migrations_format = 'flyway' reads none of the" in result.err
    assert "auto" in result.err
    assert load(folder(mig_project.path / "empty", {}), "flyway") == []


# -- switching with mig import -------------------------------------------------------------------


@pytest.mark.parametrize("tool", TOOLS)
def test_switch_in_one_command_without_rerunning(mig_project: Project, tool: str) -> None:
    write(mig_project.migrations_dir, FOLDERS[tool][0])
    mig_project.write_config(migrations_format=tool)
    ran = old_tool_ran(mig_project, tool, 2)
    out = mig_project.ok("import", "--history")
    assert f"adopted 2 migration(s) from {tool}" in out
    state = status(mig_project)
    assert ids_of(state["applied"]) == ran
    assert ids_of(state["pending"]) == FOLDERS[tool][1][2:]
    rows = mig_project.executions()
    assert [r["method"] for r in rows] == [f"import:{tool}"] * 2
    # Run again: nothing is adopted twice.
    again = import_(mig_project, history=True)
    assert again["adopted"] == [] and again["already"] == ran
    # `mig up` runs only the new migration (re-running the others would fail: their tables
    # and index exist).
    mig_project.migrate()
    assert mig_project.applied() == FOLDERS[tool][1]
    assert "posts" in mig_project.tables()
    assert mig_project.query("SELECT name FROM users") == [("semi;colon",)]


def test_auto_format_and_history_from_a_mig_config(mig_project: Project) -> None:
    write(mig_project.migrations_dir, FOLDERS["goose"][0])
    old_tool_ran(mig_project, "goose", 1)
    out = import_(mig_project, history=True, source="goose")
    assert 'migrations_format = "goose"' in out["lines"][-1]
    mig_project.write_config(migrations_format="auto")
    assert ids_of(status(mig_project)["applied"]) == FOLDERS["goose"][1][:1]


def test_golang_migrate_dirty_state_is_refused(mig_project: Project) -> None:
    write(mig_project.migrations_dir, FOLDERS["golang-migrate"][0])
    mig_project.write_config(migrations_format="golang-migrate")
    old_tool_ran(mig_project, "golang-migrate", 2, dirty=True)
    result = mig_project.run("import", "--history")
    assert result.code == 1
    assert "dirty at version 2" in result.err and "migrate force" in result.err
    assert mig_project.executions() == []


def test_flyway_failed_row_is_refused(mig_project: Project) -> None:
    write(mig_project.migrations_dir, FOLDERS["flyway"][0])
    mig_project.write_config(migrations_format="flyway")
    old_tool_ran(mig_project, "flyway", 2, dirty=True)
    with pytest.raises(MigError, match="failed migration.*flyway repair") as info:
        import_(mig_project, history=True)
    assert info.value.exit_code == 1
    assert mig_project.executions() == []


def test_history_naming_a_missing_file_is_refused(mig_project: Project) -> None:
    files, ids = FOLDERS["dbmate"]
    write(mig_project.migrations_dir, files)
    mig_project.write_config(migrations_format="dbmate")
    old_tool_ran(mig_project, "dbmate", 2)
    (mig_project.migrations_dir / f"{ids[1]}.sql").unlink()
    with pytest.raises(MigError, match="20240101110000") as info:
        import_(mig_project, history=True)
    assert info.value.exit_code == 1


def test_no_history_table_is_an_error(mig_project: Project) -> None:
    write(mig_project.migrations_dir, FOLDERS["yoyo"][0])
    mig_project.write_config(migrations_format="yoyo")
    with pytest.raises(ConfigError, match="no _yoyo_migration table") as info:
        import_(mig_project, history=True)
    assert info.value.exit_code == 2
    result = mig_project.run("import")
    assert result.code == 2 and "--convert OUT_DIR, --history" in result.err


def test_flyway_changed_repeatable_stays_pending(mig_project: Project) -> None:
    view = "CREATE VIEW names AS SELECT name FROM users;\n"
    files = {**FOLDERS["flyway"][0], "R__names.sql": view}
    write(mig_project.migrations_dir, files)
    mig_project.write_config(migrations_format="flyway")
    old_tool_ran(mig_project, "flyway", 3)
    from mig_formats.flyway import checksum

    with sqlite3.connect(mig_project.db_path) as conn:
        conn.execute(files["R__names.sql"])
        conn.execute(
            "INSERT INTO flyway_schema_history VALUES (4, NULL, 'names', 'SQL', 'R__names.sql',"
            f" {checksum('CREATE VIEW names AS SELECT id FROM users;')}, 'f', '2024', 1, 1)"
        )
    import_(mig_project, history=True)
    assert ids_of(status(mig_project)["pending"]) == ["R__names"]


def test_flyway_versions_are_shown_as_flyway_names_them(mig_project: Project) -> None:
    """Dotted versions order as big numbers; people see ``1.1``, and a repeatable (which has
    no version in Flyway) leaves the version at the newest versioned migration."""
    write(mig_project.migrations_dir, {
        "V1__init.sql": "CREATE TABLE a (id INTEGER PRIMARY KEY);\n",
        "V1_1__add_b.sql": "ALTER TABLE a ADD COLUMN b TEXT;\n",
        "U1_1__add_b.sql": "ALTER TABLE a DROP COLUMN b;\n",
        "V2__c.sql": "CREATE TABLE c (id INTEGER);\n",
        "U2__c.sql": "DROP TABLE c;\n",
        "R__view.sql": "CREATE VIEW v AS SELECT id FROM a;\n",
    })
    mig_project.write_config(migrations_format="flyway", backup="full")
    assert "database is at version 2\n" in mig_project.ok("up")
    assert "current version: 2\n" in mig_project.ok("status")
    mig_project.ok("down", "--steps", "2", "--yes")  # the repeatable by its backup
    assert "current version: 1.1\n" in mig_project.ok("status")
    assert mig_project.applied() == ["V1__init", "V1_1__add_b"]
    raw = json.loads(mig_project.ok("status", "--json"))["current_version"]
    assert raw != "1.1" and int(raw) > 10**12  # the ledger keeps the number it orders as


@pytest.mark.parametrize("tool", ["flyway", "goose", "yoyo", "dbmate", "golang-migrate", "prisma",
                                  "liquibase", "diesel", "node-pg-migrate"])
def test_convert_writes_mig_files_and_adopts_their_ids(mig_project: Project, tool: str) -> None:
    files, ids = FOLDERS[tool]
    write(mig_project.migrations_dir, files)
    old_tool_ran(mig_project, tool, 2)
    out = mig_project.path / "converted"
    if tool == "flyway":  # once through the command line
        report = json.loads(mig_project.ok("import", "--from", tool, "--convert", str(out),
                                           "--history", "--json"))
    else:
        report = import_(mig_project, source=tool, convert=out, history=True)
    assert len(report["converted"]) == 3 and len(report["adopted"]) == 2
    source = {m.id: m for m in load(mig_project.migrations_dir, tool)}
    plugins = Plugins().load()
    converted = [plugins.parse_migration(out / n, (out / n).read_text()) for n in
                 report["converted"]]
    for original, new in zip([source[i] for i in ids], converted, strict=True):
        assert new is not None and new.up_sql == with_break(original.up_sql)
        assert new.down_sql == with_break(original.down_sql)
        assert new.reversible == original.reversible
        assert new.transactional == original.transactional
    mig_project.write_config(migrations_dir="converted")
    state = status(mig_project)
    assert ids_of(state["applied"]) == report["adopted"] and len(state["pending"]) == 1
    assert state["drift"] == []
    mig_project.migrate()
    assert "posts" in mig_project.tables()
    with pytest.raises(ConfigError, match="already holds"):  # never over existing files
        import_(mig_project, source=tool, directory=mig_project.migrations_dir, convert=out)


def test_files_that_manage_their_own_transaction_run_as_written(mig_project: Project) -> None:
    write(mig_project.migrations_dir, {
        "1_a.up.sql": "BEGIN;\nCREATE TABLE a (x int);\nINSERT INTO a VALUES (1);\nCOMMIT;\n",
        "1_a.down.sql": "DROP TABLE a;\n",
        "2_b.up.sql": "CREATE TABLE b (x int);\nCREATE TRIGGER b_ins AFTER INSERT ON b BEGIN\n"
                      "  INSERT INTO a VALUES (NEW.x);\nEND;\nINSERT INTO b VALUES (2)",
    })
    mig_project.write_config(migrations_format="golang-migrate")
    mig_project.migrate()
    assert mig_project.query("SELECT x FROM a ORDER BY x") == [(1,), (2,)]
    assert mig_project.applied() == ["1_a", "2_b"]


def test_a_history_table_of_another_name(mig_project: Project) -> None:
    files, ids = FOLDERS["goose"]
    write(mig_project.migrations_dir, files)
    mig_project.write_config(migrations_format="goose")
    with sqlite3.connect(mig_project.db_path) as conn:
        for sql in history_ddl("goose", "sqlite") + history_rows(
            "goose", "sqlite", mig_project.migrations_dir, ids[:1]
        ):
            conn.execute(sql.replace("goose_db_version", "app_goose"))
    with pytest.raises(ConfigError, match="no goose_db_version table"):
        import_(mig_project, history=True)
    with pytest.raises(ConfigError, match="--table"):
        import_(mig_project, history=True, table="x; DROP TABLE y")
    assert import_(mig_project, history=True, table="app_goose")["adopted"] == ids[:1]


def test_convert_warns_where_mig_splits_a_goose_file_otherwise(mig_project: Project) -> None:
    write(mig_project.migrations_dir, {
        "1_t.sql": GOOSE_TRIGGER,
        # A block of two statements: mig runs both from the goose file and the converted one.
        "2_two.sql": "-- +goose Up\n-- +goose StatementBegin\nSELECT 1;\nSELECT 2;\n"
                     "-- +goose StatementEnd\n",
        # goose ends a statement at a line ending in ";", even inside a string.
        "3_cut.sql": "-- +goose Up\nSELECT 'a;\nb';\n",
    })
    report = import_(mig_project, source="goose", convert=mig_project.path / "out")
    warnings = [line for line in report["lines"] if line.startswith("warning")]
    assert len(warnings) == 1 and "3_cut.sql" in warnings[0] and "into 1" in warnings[0]
    assert "not whole statements" in warnings[0]


def test_goose_block_of_several_statements_runs_each(tmp_path: Path) -> None:
    project = Project(tmp_path / "p")
    write(project.migrations_dir, {
        "1_two.sql": "-- +goose Up\n-- +goose StatementBegin\nCREATE TABLE a (x int);\n"
                     "CREATE TABLE b (y int);\n-- +goose StatementEnd\n"
                     "-- +goose Down\nDROP TABLE b; DROP TABLE a;\n",
    })
    project.write_config(migrations_format="goose")
    with project.engine() as engine:
        (m,) = engine.migrations()
        assert [(s.sql, s.line) for s in engine.split(m)] == [
            ("CREATE TABLE a (x int)", 3), ("CREATE TABLE b (y int)", 4)
        ]
        assert [s.sql for s in engine.split(m, "down")] == ["DROP TABLE b", "DROP TABLE a"]
