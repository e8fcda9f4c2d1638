"""Backups and restores, checked on every dialect: SQLite, PostgreSQL and MariaDB/MySQL.

Each test works on a fresh database (the ``dialect`` fixture) holding the bundled example plus
a table of awkward values, and compares the database row by row (and its schema fact by fact)
through the driver, never through mig.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from dialect_targets import DialectTarget
from mig.testing import Project

#: A table of values that are easy to get wrong, per dialect.
KINDS = {
    "sqlite": "CREATE TABLE kinds (id INTEGER PRIMARY KEY, t TEXT, r REAL, b BLOB, n INTEGER);",
    "postgres": "CREATE TABLE kinds (id INTEGER PRIMARY KEY, t TEXT, r DOUBLE PRECISION,"
                " b BYTEA, n BIGINT);",
    "mysql": "CREATE TABLE kinds (id INTEGER PRIMARY KEY, t TEXT, r DOUBLE, b BLOB, n BIGINT);",
}
TRICKY = "two\nlines, 'single' \"double\" back\\slash\ttab; \\. ☃ \\N"
KIND_ROWS = [
    (1, TRICKY, 0.1, b"\x00\xff\n\\.\r\n", 2**62),
    (2, None, None, None, None),
    (3, "\\.", -1.5e-300, b"", -7),
    (4, "", 1e300, bytes(range(256)), 0),
]
BREAKS = """\
CREATE TABLE halfway (id INTEGER PRIMARY KEY);
INSERT INTO users (user_id, email, password_hash) VALUES ('u9', 'z@b.io', 'x');
INSERT INTO no_such_table VALUES (1);
"""


def seed(dialect: DialectTarget, users: tuple[str, ...] = ("u1", "u2")) -> None:
    m = dialect.mark
    for i, user in enumerate(users):
        dialect.query(
            f"INSERT INTO users (user_id, email, password_hash) VALUES ({m}, {m}, {m})",
            (user, f"{user}@example.com", TRICKY if i == 0 else "plain"),
        )
    dialect.execute("INSERT INTO portfolio (user_id, symbol) SELECT id, 'ACME' FROM users")


def seed_kinds(dialect: DialectTarget) -> None:
    m = dialect.mark
    for row in KIND_ROWS:
        dialect.query(f"INSERT INTO kinds (id, t, r, b, n) VALUES ({m}, {m}, {m}, {m}, {m})", row)


def project_with_data(dialect: DialectTarget, tmp_path: Path, backup: str = "none") -> Project:
    """The example (and ``kinds``) applied, with rows in users, portfolio and kinds."""
    project = dialect.project(tmp_path / "p", example=True, backup=backup)
    project.write_migration("006_kinds", KINDS[dialect.name], "DROP TABLE kinds;")
    project.ok("up")
    seed(dialect)
    seed_kinds(dialect)
    return project


def history(project: Project) -> list[dict]:
    return json.loads(project.ok("history", "--json"))


def status(project: Project) -> dict:
    return json.loads(project.ok("status", "--json"))


def as_bytes(value: object) -> object:
    return bytes(value) if isinstance(value, bytearray | memoryview) else value


def contents(dialect: DialectTarget) -> dict[str, list[tuple]]:
    """Every user table's rows (blobs as bytes whatever the driver returns)."""
    return {
        table: sorted((tuple(as_bytes(v) for v in row) for row in rows), key=repr)
        for table, rows in dialect.contents().items()
    }


# -- round trips --------------------------------------------------------------------------------


@pytest.mark.parametrize("kind", ["full", "schema", "data"])
def test_round_trip(dialect: DialectTarget, tmp_path: Path, kind: str) -> None:
    project = project_with_data(dialect, tmp_path)
    rows, schema = contents(dialect), dialect.objects()
    assert rows["kinds"] == sorted(KIND_ROWS, key=repr)
    backup_id = project.ok("backup", "create", "--type", kind).strip()
    manifest = json.loads((project.path / "backups" / backup_id / "manifest.json").read_text())
    assert manifest["database"]["dialect"] == dialect.name
    assert manifest["backup_type"] == kind

    # Everything a restore must undo: rows changed, added and removed, and (but for a data
    # backup, which keeps the schema) a new table.
    dialect.execute("DELETE FROM portfolio", "DELETE FROM kinds WHERE id > 2",
                    "UPDATE kinds SET t = 'changed' WHERE id = 1")
    seed(dialect, ("u3",))
    if kind != "data":
        dialect.execute("CREATE TABLE junk (id INTEGER PRIMARY KEY)")

    code, out, err = project.run("backup", "restore", backup_id, "--yes")
    assert code == 0, err
    assert f"restored {backup_id}" in out
    assert dialect.objects() == schema
    if kind == "schema":
        assert contents(dialect) == {table: [] for table in rows}
    else:
        assert contents(dialect) == rows

    # The audit trail is whole and records the restore.
    trail = history(project)
    assert (trail[0]["operation"], trail[0]["status"], trail[0]["backup_id"]) == (
        "restore", "COMPLETED", backup_id)
    applies = [h for h in trail if h["operation"] == "apply"]
    assert len(applies) == 6 and {h["status"] for h in applies} == {"COMPLETED"}
    st = status(project)
    assert st["current_version"] == "006" and st["pending"] == []
    listed = json.loads(project.ok("backup", "list", "--json"))
    assert [b["backup_id"] for b in listed] == [backup_id]
    code, out, err = project.run("check")
    assert code == 0, out + err
    # The restored database takes backups and migrations as before.
    project.write_migration("007_more", "CREATE TABLE more_rows (id INTEGER PRIMARY KEY);",
                            "DROP TABLE more_rows;")
    project.ok("up")
    assert "more_rows" in dialect.user_tables()


def test_damaged_backup_is_refused(dialect: DialectTarget, tmp_path: Path) -> None:
    project = project_with_data(dialect, tmp_path)
    backup_id = project.ok("backup", "create", "--type", "full").strip()
    part = project.path / "backups" / backup_id / "data"
    data = bytearray(part.read_bytes())
    data[len(data) // 2] ^= 0x01  # one flipped bit, the size unchanged
    part.write_bytes(bytes(data))
    dialect.execute("DELETE FROM portfolio")
    rows, schema, trail = contents(dialect), dialect.objects(), dialect.executions()

    code, out, err = project.run("backup", "restore", backup_id, "--yes")
    assert code == 1
    assert "damaged" in err and "SHA-256" in err and "Traceback" not in err
    assert contents(dialect) == rows
    assert dialect.objects() == schema
    assert dialect.executions() == trail  # nothing recorded, nothing changed
    code, out, _ = project.run("check")
    assert code == 4 and backup_id in out


def test_down_by_restore(dialect: DialectTarget, tmp_path: Path) -> None:
    project = dialect.project(tmp_path / "p", example=True, backup="full")
    last = project.migrations_dir / "005_add_user_preferences.sql"
    held = last.rename(tmp_path / last.name)
    project.ok("up")
    held.rename(last)
    seed(dialect)
    rows, schema = contents(dialect), dialect.objects()
    project.ok("up")
    dialect.execute("DELETE FROM portfolio")  # after the backup: undone by the restore too
    assert "user_preferences" in dialect.user_tables()

    code, out, err = project.run("down", "--method", "restore", "--yes")
    assert code == 0, err
    assert "005_add_user_preferences" in out
    assert dialect.objects() == schema
    assert contents(dialect) == rows
    st = status(project)
    assert st["current_version"] == "004"
    assert st["pending"] == ["005_add_user_preferences"]
    trail = history(project)
    [undone] = [h for h in trail if h["migration_id"] == "005_add_user_preferences"
                and h["operation"] == "apply"]
    assert undone["status"] == "ROLLED_BACK"
    assert len([h for h in trail if h["operation"] == "apply"]) == 5
    assert any(h["operation"] in ("rollback", "restore") and h["status"] == "COMPLETED"
               and h["backup_id"] == undone["backup_id"] for h in trail)
    # And forward again.
    project.ok("up")
    assert status(project)["current_version"] == "005"


def test_failing_migration_is_undone_and_recorded(dialect: DialectTarget, tmp_path: Path) -> None:
    """With ``backup = "full"``, a migration that fails after DDL leaves the database as it
    was: rolled back with its transaction (SQLite, PostgreSQL) or, where DDL commits at once
    (MySQL), restored from the backup taken before it."""
    project = dialect.project(tmp_path / "p", example=True, backup="full")
    project.ok("up")
    seed(dialect)
    rows, schema = contents(dialect), dialect.objects()
    project.write_migration("006_breaks", BREAKS, "DROP TABLE halfway;")

    code, out, err = project.run("up")
    assert code == 1
    assert "006_breaks" in err and "no_such_table" in err and "Traceback" not in err
    assert dialect.objects() == schema
    assert contents(dialect) == rows
    runs = dialect.executions("006_breaks")
    [failed] = [r for r in runs if r["operation"] == "apply"]
    assert failed["status"] == "FAILED"
    if not dialect.transactional_ddl:
        assert "(restored from backup " in failed["error_message"]
        assert "(restored from backup " in err
        assert failed["statements_committed"] == 0
        [restore] = [r for r in runs if r["operation"] == "restore"]
        assert restore["status"] == "COMPLETED"
    st = status(project)
    assert st["failed"] == ["006_breaks"] and st["needs_attention"] == []
    assert st["current_version"] == "005"
    # Fixed, it applies.
    project.write_migration("006_breaks", BREAKS.replace("no_such_table", "halfway"),
                            "DROP TABLE halfway;")
    project.ok("up")
    assert "halfway" in dialect.user_tables()


def test_data_restore_refuses_a_changed_table(dialect: DialectTarget, tmp_path: Path) -> None:
    project = project_with_data(dialect, tmp_path)
    backup_id = project.ok("backup", "create", "--type", "data").strip()
    dialect.execute("ALTER TABLE kinds ADD COLUMN extra INTEGER")
    dialect.execute("DELETE FROM portfolio")
    rows, trail = contents(dialect), dialect.executions()
    code, _, err = project.run("backup", "restore", backup_id, "--yes")
    assert code == 1
    assert "kinds" in err and "extra" in err and "nothing was restored" in err
    assert contents(dialect) == rows and dialect.executions() == trail


# -- what more than tables a backup must bring back ---------------------------------------------

#: Views (one over another), a trigger and stored code, per dialect; the trigger upper-cases
#: ``notes.note`` on insert.
RICH = {
    "sqlite": [
        "CREATE TABLE notes (id INTEGER PRIMARY KEY, note TEXT, parent INTEGER"
        " REFERENCES notes(id))",
        "CREATE VIEW v_notes AS SELECT id, note FROM notes",
        "CREATE VIEW v_upper AS SELECT id FROM v_notes WHERE note = upper(note)",
        "CREATE TRIGGER t_upper AFTER INSERT ON notes BEGIN"
        " UPDATE notes SET note = upper(note) WHERE id = NEW.id; END",
    ],
    "postgres": [
        "CREATE TYPE mood AS ENUM ('ok', 'meh')",
        "CREATE TABLE notes (id SERIAL PRIMARY KEY, note TEXT, m mood,"
        " parent INTEGER REFERENCES notes(id))",
        "CREATE FUNCTION f_upper() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN"
        " NEW.note := upper(NEW.note); RETURN NEW; END $$",
        "CREATE TRIGGER t_upper BEFORE INSERT ON notes FOR EACH ROW EXECUTE FUNCTION f_upper()",
        "CREATE VIEW v_notes AS SELECT id, note FROM notes",
        "CREATE VIEW v_upper AS SELECT id FROM v_notes WHERE note = upper(note)",
        "CREATE SEQUENCE free_numbers START 100",
        "SELECT nextval('free_numbers')",
        "COMMENT ON TABLE notes IS 'kept'",
    ],
    "mysql": [
        "CREATE TABLE notes (id INTEGER AUTO_INCREMENT PRIMARY KEY, note TEXT, parent INTEGER,"
        " FOREIGN KEY (parent) REFERENCES notes(id))",
        "CREATE FUNCTION f_upper(s TEXT) RETURNS TEXT DETERMINISTIC RETURN upper(s)",
        "CREATE PROCEDURE p_count(OUT n INT) SELECT COUNT(*) INTO n FROM notes",
        "CREATE TRIGGER t_upper BEFORE INSERT ON notes FOR EACH ROW"
        " SET NEW.note = f_upper(NEW.note)",
        "CREATE VIEW v_notes AS SELECT id, note FROM notes",
        "CREATE VIEW v_upper AS SELECT id FROM v_notes WHERE note = f_upper(note)",
        "CREATE EVENT e_tidy ON SCHEDULE EVERY 1 DAY DISABLE DO DELETE FROM notes WHERE 0",
    ],
}


@pytest.mark.parametrize("kind", ["full", "schema", "data"])
def test_round_trip_of_views_triggers_and_routines(
    dialect: DialectTarget, tmp_path: Path, kind: str
) -> None:
    project = dialect.project(tmp_path / "p", example=True)
    project.ok("up")
    dialect.execute(*RICH[dialect.name])
    dialect.execute("INSERT INTO notes (note) VALUES ('first')",
                    "INSERT INTO notes (note, parent) VALUES ('second', 1)",
                    # Not upper-case: a restore that fired the insert trigger would change it.
                    "UPDATE notes SET note = 'lower' WHERE id = 2")
    rows, schema = contents(dialect), dialect.objects()
    assert [r[1] for r in rows["notes"]] == ["FIRST", "lower"]
    backup_id = project.ok("backup", "create", "--type", kind).strip()
    dialect.execute("DELETE FROM notes WHERE parent IS NOT NULL")
    if kind != "data":
        dialect.execute("DROP VIEW v_upper")
    code, _, err = project.run("backup", "restore", backup_id, "--yes")
    assert code == 0, err
    assert dialect.objects() == schema
    assert contents(dialect) == ({t: [] for t in rows} if kind == "schema" else rows)
    # The trigger works (and fires for new rows only: restored ones were not changed again).
    dialect.execute("INSERT INTO notes (id, note) VALUES (10, 'third')")
    assert dialect.query("SELECT note FROM notes WHERE id = 10") == [("THIRD",)]
    assert dialect.query("SELECT COUNT(*) FROM v_upper")[0][0] >= 1


# -- PostgreSQL: a project in one schema --------------------------------------------------------


@pytest.mark.parametrize("dialect", ["postgres"], indirect=True)
@pytest.mark.parametrize("kind", ["full", "schema", "data"])
def test_postgres_backups_of_one_schema(dialect: DialectTarget, tmp_path: Path, kind: str) -> None:
    """With ``?schema=app`` a backup holds that schema and a restore touches nothing else."""
    from dialect_targets import CONFIG

    dialect.execute("CREATE SCHEMA other", "CREATE TABLE other.keep (id INTEGER)",
                    "INSERT INTO other.keep VALUES (1)")
    project = dialect.project(tmp_path / "p", example=True)
    project.write_config(CONFIG.format(url=dialect.url + "?schema=app", lock_timeout=10,
                                       backup="none"))
    project.ok("up")
    dialect.execute("INSERT INTO app.users (user_id, email, password_hash)"
                    " VALUES ('u1', 'a@b.io', 'x')")

    def app_rows() -> list[tuple]:
        return dialect.query("SELECT user_id FROM app.users ORDER BY 1")

    backup_id = project.ok("backup", "create", "--type", kind).strip()
    dialect.execute("DELETE FROM app.users", "INSERT INTO other.keep VALUES (2)")
    if kind != "data":
        dialect.execute("CREATE TABLE app.junk (id INTEGER)")
    project.ok("backup", "restore", backup_id, "--yes")
    assert app_rows() == ([] if kind == "schema" else [("u1",)])
    assert dialect.query("SELECT id FROM other.keep ORDER BY 1") == [(1,), (2,)]
    tables = {r[0] for r in dialect.query(
        "SELECT tablename FROM pg_tables WHERE schemaname = 'app'")}
    assert "junk" not in tables and "users" in tables and "mig_migration_executions" in tables
    if kind == "data":
        return
    # Dropping the schema would take a view of another schema with it: refused, unchanged.
    dialect.execute("CREATE VIEW other.v AS SELECT user_id FROM app.users",
                    "INSERT INTO app.users (user_id, email, password_hash)"
                    " VALUES ('u2', 'b@b.io', 'x')")
    before = app_rows()
    code, _, err = project.run("backup", "restore", backup_id, "--yes")
    assert code == 1
    assert "other.v" in err and "nothing was restored" in err
    assert app_rows() == before
    # A backup of one schema does not restore into a whole-database configuration.
    project.write_config(CONFIG.format(url=dialect.url, lock_timeout=10, backup="none"))
    code, _, err = project.run("backup", "restore", backup_id, "--yes")
    assert code == 1 and "schema 'app'" in err and "the whole database" in err


@pytest.mark.parametrize("dialect", ["postgres"], indirect=True)
def test_postgres_whole_database_with_schemas_and_large_objects(
    dialect: DialectTarget, tmp_path: Path
) -> None:
    project = dialect.project(tmp_path / "p", example=True)
    project.ok("up")
    dialect.execute("CREATE SCHEMA extra", "CREATE TABLE extra.t (id INTEGER PRIMARY KEY)",
                    "INSERT INTO extra.t VALUES (1)", "SELECT lo_from_bytea(424242, 'blob')",
                    "REVOKE ALL ON SCHEMA public FROM PUBLIC")
    backup_id = project.ok("backup", "create", "--type", "full").strip()
    dialect.execute("DROP SCHEMA extra CASCADE", "SELECT lo_unlink(424242)",
                    "CREATE SCHEMA later", "GRANT USAGE ON SCHEMA public TO PUBLIC")
    project.ok("backup", "restore", backup_id, "--yes")
    assert dialect.query("SELECT id FROM extra.t") == [(1,)]
    assert dialect.query("SELECT convert_from(lo_get(424242), 'UTF8')") == [("blob",)]
    assert dialect.query("SELECT 1 FROM pg_namespace WHERE nspname = 'later'") == []
    assert dialect.query("SELECT has_schema_privilege('public', 'public', 'USAGE')") == [(False,)]


# -- MySQL / MariaDB ----------------------------------------------------------------------------


@pytest.mark.parametrize("dialect", ["postgres", "mysql"], indirect=True)
@pytest.mark.parametrize("kind", ["full", "data"])
def test_restore_blocked_by_another_session_changes_nothing(
    dialect: DialectTarget, tmp_path: Path, kind: str
) -> None:
    """Another session's open transaction that read a table holds a lock the restore needs:
    the restore waits ``lock_timeout`` seconds, gives up, and the database is as it was (on
    MySQL the staging copy is dropped too)."""
    project = project_with_data(dialect, tmp_path)
    project.write_config(project.config_path.read_text().replace("lock_timeout = 10",
                                                                 "lock_timeout = 1"))
    backup_id = project.ok("backup", "create", "--type", kind).strip()
    dialect.execute("DELETE FROM portfolio")
    rows, schema, trail = contents(dialect), dialect.objects(), dialect.executions()
    holder = dialect.connect()  # type: ignore[attr-defined]
    try:
        if dialect.name == "postgres":
            holder.execute("BEGIN")
            holder.execute("SELECT count(*) FROM users")
        else:
            with holder.cursor() as cur:
                cur.execute("START TRANSACTION")
                cur.execute("SELECT COUNT(*) FROM users")
        code, _, err = project.run("backup", "restore", backup_id, "--yes", timeout=120)
    finally:
        holder.close()
    if dialect.name == "mysql" and kind == "data":
        # Rows only: InnoDB locks rows, and a reader's snapshot does not stand in the way.
        assert code == 0, err
        assert contents(dialect)["portfolio"]
        return
    assert code == 1 and ("lock timeout" in err or "Lock wait timeout" in err), err
    assert contents(dialect) == rows and dialect.objects() == schema
    assert dialect.executions() == trail
    if dialect.name == "mysql":
        assert not [d for (d,) in dialect.query("SHOW DATABASES")
                    if str(d).endswith(_staging_suffix(dialect))]
    project.ok("backup", "restore", backup_id, "--yes")
    assert contents(dialect)["portfolio"]


def _staging_suffix(dialect: DialectTarget) -> str:
    import hashlib

    return hashlib.sha256(dialect.database.encode()).hexdigest()[:20]  # type: ignore[attr-defined]


@pytest.mark.parametrize("dialect", ["mysql"], indirect=True)
def test_mysql_password_reaches_the_tools(dialect: DialectTarget, tmp_path: Path) -> None:
    """A password full of option-file syntax works for mariadb-dump and the client."""
    import uuid
    from urllib.parse import quote, urlsplit

    from dialect_targets import CONFIG

    user = f"mig_pw_{uuid.uuid4().hex[:8]}"
    password = 'tri"ck\\y #;pa\'ss = x'
    dialect.execute(f"CREATE USER '{user}'@'%' IDENTIFIED BY "
                    + "'" + password.replace("\\", "\\\\").replace("'", "\\'") + "'",
                    f"GRANT ALL ON *.* TO '{user}'@'%'")
    try:
        parts = urlsplit(dialect.url)
        url = parts._replace(
            netloc=f"{user}:{quote(password, safe='')}@{parts.hostname}:{parts.port or 3306}"
        ).geturl()
        project = dialect.project(tmp_path / "p", example=True)
        project.write_config(CONFIG.format(url=url, lock_timeout=10, backup="full"))
        project.ok("up")
        seed(dialect)
        rows = contents(dialect)
        for kind in ("full", "schema", "data"):
            backup_id = project.ok("backup", "create", "--type", kind).strip()
            if kind == "full":
                dialect.execute("DELETE FROM portfolio")
                project.ok("backup", "restore", backup_id, "--yes")
                assert contents(dialect) == rows
    finally:
        dialect.execute(f"DROP USER IF EXISTS '{user}'@'%'")


# -- incremental chains -------------------------------------------------------------------------


def test_incremental_chain_round_trips(dialect: DialectTarget, tmp_path: Path) -> None:
    project = project_with_data(dialect, tmp_path)
    states = []

    def take() -> str:
        backup_id = project.ok("backup", "create", "--type", "incremental").strip()
        states.append((backup_id, contents(dialect), dialect.objects()))
        return backup_id

    base = take()
    # Rows changed in one table, a table emptied (its rows must not come back from the base),
    # one row added elsewhere.
    dialect.execute("UPDATE kinds SET t = 'changed' WHERE id = 2", "DELETE FROM portfolio")
    seed(dialect, ("u3",))
    dialect.execute("DELETE FROM portfolio")
    second = take()
    # A new table; nothing else changes.
    dialect.execute("CREATE TABLE later (id INTEGER PRIMARY KEY, note VARCHAR(20))",
                    "INSERT INTO later VALUES (1, 'one')")
    third = take()

    listed = {b["backup_id"]: b for b in json.loads(project.ok("backup", "list", "--json"))}
    assert listed[base]["parent_id"] is None
    assert listed[second]["parent_id"] == base and listed[third]["parent_id"] == second
    if dialect.name != "sqlite":
        manifest = json.loads((project.path / "backups" / third / "manifest.json").read_text())
        saved = manifest["extra"][dialect.name]
        assert saved["kind"] == "increment" and saved["stored"] < saved["tables"]

    for backup_id, rows, schema in [states[1], states[0], states[2]]:
        dialect.execute("DELETE FROM kinds")
        code, _, err = project.run("backup", "restore", backup_id, "--yes")
        assert code == 0, err
        assert contents(dialect) == rows, backup_id
        assert dialect.objects() == schema, backup_id
    trail = history(project)
    assert [h["backup_id"] for h in trail[:3]] == [third, base, second]
    assert len([h for h in trail if h["operation"] == "apply"]) == 6

    # A damaged link breaks every restore that needs it; the database stays as it is.
    part = next(p for p in (project.path / "backups" / second).iterdir()
                if p.name != "manifest.json" and p.stat().st_size > 0)
    data = bytearray(part.read_bytes())
    data[-1] ^= 0x01
    part.write_bytes(bytes(data))
    dialect.execute("DELETE FROM kinds")
    rows = contents(dialect)
    code, _, err = project.run("backup", "restore", third, "--yes")
    assert code == 1 and "damaged" in err
    assert contents(dialect) == rows
