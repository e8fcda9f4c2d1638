"""mig-formats' ``node-pg-migrate`` format on real SQLite files: ``<timestamp>_<name>.sql``
files with ``-- Up Migration`` / ``-- Down Migration`` run in place with ``mig up``/``status``/
``down``, the marker rules, the file errors, and adopting ``pgmigrations``. (PostgreSQL, with a
``-- no transaction`` file: tests/dialects/test_dialects_formats_more.py.)"""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import pytest
from format_folders import FOLDERS, history_ddl, history_rows, write
from mig import DependencyError, MigrationFileError
from mig.plugins import Plugins
from mig.testing import Project
from mig_formats import detect, load_folder

SHELF = {
    "1700000000000_create-shelves.sql":
        "-- Up Migration\nCREATE TABLE shelves (id INTEGER PRIMARY KEY, label TEXT NOT NULL);\n"
        "INSERT INTO shelves (id, label) VALUES (1, 'A; top');\n\n"
        "-- Down Migration\nDROP TABLE shelves;\n",
    # node-pg-migrate's markers: any case, any dashes and spaces after "--", words after
    "1700000100000_add-bins.sql":
        "---   UP MIGRATION (bins)\nCREATE TABLE bins (id INTEGER PRIMARY KEY,"
        " shelf_id INTEGER REFERENCES shelves (id));\n"
        "-- down migration\nDROP TABLE bins;\n",
    "1700000200000_shelf-colour.sql":
        "-- Up Migration\nALTER TABLE shelves ADD COLUMN colour TEXT;\n\n"
        "-- Down Migration\n-- SQLite before 3.35 cannot drop a column\n",
    "README.md": "not a migration\n",
}
IDS = ["1700000000000_create-shelves", "1700000100000_add-bins", "1700000200000_shelf-colour"]


def load(path: Path) -> list:
    found = load_folder(path, "node-pg-migrate")
    assert found is not None
    return Plugins().load().resolve_order(found[1])


def test_node_pg_migrate_files_and_markers(tmp_path: Path) -> None:
    path = write(tmp_path / "migrations", SHELF)
    assert detect(path) == "node-pg-migrate"
    ms = load(path)
    assert [m.id for m in ms] == IDS
    assert [m.version for m in ms] == ["1700000000000", "1700000100000", "1700000200000"]
    first = ms[0]
    assert first.name == "create shelves" and first.path == path / f"{IDS[0]}.sql"
    assert first.up_sql.startswith("-- Up Migration\nCREATE TABLE shelves")
    assert first.up_sql.endswith("'A; top');\n\n") and first.up_line == 1
    assert first.down_sql == "-- Down Migration\nDROP TABLE shelves;\n" and first.down_line == 5
    assert ms[1].down_sql == "-- down migration\nDROP TABLE bins;\n"
    assert [m.reversible for m in ms] == [True, True, False]  # a comment-only Down section
    assert all(m.transactional for m in ms)
    assert load_folder(path, "node_pg_migrate") == load_folder(path, "node-pg-migrate")


def test_node_pg_migrate_no_up_marker_and_no_transaction(tmp_path: Path) -> None:
    path = write(tmp_path / "m", {
        # no marker at all: node-pg-migrate runs the whole file up, with no down
        "1_a.sql": "CREATE TABLE a (x int);\n",
        "2_b.sql": "-- Up Migration\nCREATE TABLE b (x int);\n",
        "3_c.sql": "-- builds without locking\n--no transaction\n\n-- Up Migration\nSELECT 1;\n",
    })
    ms = load(path)
    assert ms[0].up_sql == "CREATE TABLE a (x int);\n" and not ms[0].reversible
    assert [m.transactional for m in ms] == [True, True, False]
    assert ms[2].up_line == 4


@pytest.mark.parametrize("files, error, message, line", [
    ({"1_a.sql": "-- Down Migration\nDROP TABLE a;\n-- Up Migration\nCREATE TABLE a (x int);\n"},
     MigrationFileError, "'-- Down Migration' before '-- Up Migration'", 1),
    ({"1_a.sql": "CREATE TABLE a (x int);\n-- Down Migration\nDROP TABLE a;\n"},
     MigrationFileError, "'-- Down Migration' with no '-- Up Migration'", 2),
    ({"1_a.sql": "-- a note\nSELECT 1;\n-- Up Migration\nSELECT 2;\n"},
     MigrationFileError, "SQL before '-- Up Migration'", 2),
    ({"1_a.sql": "-- Up Migration\nSELECT 1;\n", "2_b.js": "exports.up = () => {};\n"},
     MigrationFileError, "JavaScript/TypeScript", None),
    ({"9_a.sql": "-- Up Migration\nSELECT 1;\n", "10_b.sql": "-- Up Migration\nSELECT 2;\n"},
     DependencyError, "9_a.sql comes after 10_b.sql", None),
])
def test_node_pg_migrate_errors_name_file_and_line(
    tmp_path: Path, files: dict[str, str], error: type, message: str, line: int | None
) -> None:
    path = write(tmp_path / "m", files)
    with pytest.raises(error, match=message) as info:
        load(path)
    assert info.value.path is not None and Path(info.value.path).parent == path
    if line is not None:
        assert info.value.line == line


def test_node_pg_migrate_runs_with_up_status_and_down(mig_project: Project) -> None:
    write(mig_project.migrations_dir, SHELF)
    mig_project.write_config(migrations_format="auto", backup="full")
    mig_project.ok("up", IDS[1])
    state = json.loads(mig_project.ok("status", "--json"))
    assert [p["id"] if isinstance(p, dict) else p for p in state["pending"]] == IDS[2:]
    assert "database is at version 1700000200000" in mig_project.ok("up")
    assert mig_project.applied() == IDS
    assert mig_project.query("SELECT label FROM shelves") == [("A; top",)]
    # the last Down section holds no SQL: --method down is refused, the backup restores
    assert mig_project.run("down", "--method", "down").code == 1
    mig_project.ok("down", "--yes")
    assert [r[1] for r in mig_project.query("PRAGMA table_info(shelves)")] == ["id", "label"]
    mig_project.ok("down", "--method", "down", "--yes")
    assert "bins" not in mig_project.tables() and "shelves" in mig_project.tables()
    assert "current version: 1700000000000" in mig_project.ok("status")


def node_pg_migrate_ran(project: Project, count: int) -> list[str]:
    """What ``node-pg-migrate up`` leaves after applying the first ``count`` files."""
    ids = FOLDERS["node-pg-migrate"][1][:count]
    with sqlite3.connect(project.db_path) as conn:
        for m in load(project.migrations_dir)[:count]:
            conn.executescript(m.up_sql)
        for sql in history_ddl("node-pg-migrate", "sqlite") + history_rows(
            "node-pg-migrate", "sqlite", project.migrations_dir, ids
        ):
            conn.execute(sql)
    return ids


def test_node_pg_migrate_history_is_adopted(mig_project: Project) -> None:
    write(mig_project.migrations_dir, FOLDERS["node-pg-migrate"][0])
    mig_project.write_config(migrations_format="auto")
    ran = node_pg_migrate_ran(mig_project, 2)
    out = mig_project.ok("import", "--history")
    assert "adopted 2 migration(s) from node-pg-migrate's pgmigrations" in out
    notes = {r["migration_id"]: r["error_message"] for r in mig_project.executions()}
    assert list(notes) == ran and f"node-pg-migrate pgmigrations {ran[0]}" in notes[ran[0]]
    mig_project.migrate()
    assert mig_project.applied() == FOLDERS["node-pg-migrate"][1]
    assert "posts" in mig_project.tables()


def test_node_pg_migrate_history_of_a_missing_file_is_refused(mig_project: Project) -> None:
    write(mig_project.migrations_dir, FOLDERS["node-pg-migrate"][0])
    mig_project.write_config(migrations_format="node-pg-migrate")
    node_pg_migrate_ran(mig_project, 1)
    with sqlite3.connect(mig_project.db_path) as conn:
        conn.execute("INSERT INTO pgmigrations (name, run_on) VALUES ('1699999999999_gone',"
                     " '2024-01-01 09:00:00')")
    result = mig_project.run("import", "--history")
    assert result.code == 1 and "1699999999999_gone" in result.err
    assert mig_project.executions() == []


def test_node_pg_migrate_converts(mig_project: Project) -> None:
    write(mig_project.migrations_dir, FOLDERS["node-pg-migrate"][0])
    mig_project.write_config(migrations_format="node-pg-migrate")
    report = json.loads(mig_project.ok("import", "--convert", "out", "--json"))
    assert report["converted"] == [f"{i}.sql" for i in FOLDERS["node-pg-migrate"][1]]
    first = (mig_project.path / "out" / report["converted"][0]).read_text()
    assert "-- UP\n-- Up Migration\nCREATE TABLE users" in first
    assert "-- DOWN\n-- Down Migration\nDROP TABLE users;\n" in first
    second = (mig_project.path / "out" / report["converted"][1]).read_text()
    assert "-- @reversible: false" in second
