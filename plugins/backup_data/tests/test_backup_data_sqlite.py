"""Data backups of SQLite databases: real files, the real engine and the CLI in subprocesses."""

from __future__ import annotations

import json
import sqlite3
import stat
from pathlib import Path
from types import SimpleNamespace

import pytest
from mig import BackupError
from mig.protocols import Dialect
from mig.testing import Project
from mig_backup_data.plugin import DataBackup

SCHEMA = """\
CREATE TABLE people (id INTEGER PRIMARY KEY, name TEXT NOT NULL, born INTEGER, score REAL,
                     photo BLOB, note);
CREATE TABLE pets (owner INTEGER NOT NULL REFERENCES people(id) ON DELETE CASCADE, name TEXT,
                   tag TEXT GENERATED ALWAYS AS (upper(name)) STORED);
CREATE TABLE anything (a, b);
CREATE TABLE odd ("rowid" TEXT, "select" INTEGER, "quote""d" TEXT);
CREATE TABLE kv (k TEXT PRIMARY KEY, v) WITHOUT ROWID;
CREATE TABLE log (what TEXT);
CREATE TRIGGER people_log AFTER INSERT ON people BEGIN INSERT INTO log VALUES (NEW.name); END;
CREATE VIEW grown AS SELECT name FROM people WHERE born < 2000;
"""
DOWN = ("DROP VIEW grown; DROP TABLE log; DROP TABLE kv; DROP TABLE odd; DROP TABLE anything;"
        " DROP TABLE pets; DROP TABLE people;")

VALUES = [
    (1, "Ada", 1815, 0.1, b"\x00\x01\xff", None),
    (2, "Grace", 1906, -0.0, b"", "1e3"),
    (5, "Tim", 2**62 + 1, 1e308, None, 42),
    (9, "Émile ✓", None, float("inf"), b"\x00" * 1000, 3.25),
]


def typed_rows(db: Path) -> dict[str, list[tuple]]:
    """Every user table's rows with their rowid and each value's storage class."""
    conn = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
    try:
        out = {}
        tables = conn.execute(
            "SELECT name, sql FROM sqlite_master WHERE type = 'table'"
            " AND name NOT LIKE 'mig\\_%' ESCAPE '\\' AND name NOT LIKE 'sqlite\\_%' ESCAPE '\\'"
        ).fetchall()
        for name, sql in tables:
            cols = [r[1] for r in conn.execute(f'PRAGMA table_xinfo("{name}")')]
            typed = ", ".join(f'"{c}", typeof("{c}")' for c in (x.replace('"', '""') for x in cols))
            rowid = "" if "WITHOUT ROWID" in sql else "_rowid_, "
            out[name] = sorted(
                conn.execute(f'SELECT {rowid}{typed} FROM "{name}"').fetchall(), key=repr)
        return out
    finally:
        conn.close()


def history(project: Project) -> list[dict]:
    return json.loads(project.ok("history", "--json"))


@pytest.fixture
def project(mig_project: Project) -> Project:
    mig_project.write_config(backup="data")
    mig_project.write_migration("001_people", SCHEMA, DOWN)
    mig_project.table_migration("002", "later")
    return mig_project


def fill(db: Path) -> None:
    conn = sqlite3.connect(db)
    conn.execute("PRAGMA foreign_keys = ON")
    with conn:
        conn.executemany("INSERT INTO people VALUES (?, ?, ?, ?, ?, ?)", VALUES)
        conn.executemany("INSERT INTO pets (owner, name) VALUES (?, ?)",
                         [(1, "cat"), (2, "dog"), (2, None)])
        conn.executemany("INSERT INTO anything VALUES (?, ?)",
                         [(1, "1"), ("text", 2.5), (b"\x01", None), ("007", 7)])
        conn.execute("INSERT INTO odd VALUES ('r', 1, 'q')")
        conn.execute("DELETE FROM anything WHERE a = 1")  # a gap in the rowids
        conn.executemany("INSERT INTO kv VALUES (?, ?)", [("b", 2), ("a", b"1")])
    conn.close()


def change(db: Path) -> None:
    conn = sqlite3.connect(db)
    conn.execute("PRAGMA foreign_keys = ON")
    with conn:
        conn.execute("DELETE FROM people WHERE id = 1")  # cascades to pets
        conn.execute("UPDATE people SET score = 99, photo = NULL")
        conn.execute("INSERT INTO people (name) VALUES ('New')")
        conn.execute("INSERT INTO anything VALUES ('x', 'y')")
        conn.execute("UPDATE kv SET v = 'changed'")
        conn.execute("DELETE FROM odd")
    conn.close()


def test_round_trip_is_exact_and_keeps_the_schema(project):
    project.migrate("001")
    fill(project.db_path)
    saved = typed_rows(project.db_path)
    backup_id = project.ok("backup", "create").strip()
    assert backup_id.endswith("-data")
    before = {e["execution_id"] for e in history(project)}
    change(project.db_path)
    project.migrate()  # a new table, which the restore must keep (schema as it is)
    conn = sqlite3.connect(project.db_path)
    with conn:
        conn.execute("INSERT INTO later (note) VALUES ('kept')")
    conn.close()
    code, _, err = project.run("backup", "restore", backup_id, "--yes")
    assert code == 0, err
    restored = typed_rows(project.db_path)
    later = restored.pop("later")
    assert later == [(1, 1, "integer", "kept", "text")]
    # The trigger's log rows are data too: as saved, and no new ones from the re-inserts.
    assert restored == saved
    assert project.query("PRAGMA integrity_check") == [("ok",)]
    assert project.query("PRAGMA foreign_key_check") == []
    # The trigger is back and works.
    conn = sqlite3.connect(project.db_path)
    with conn:
        conn.execute("INSERT INTO people (name) VALUES ('After')")
    assert conn.execute("SELECT count(*) FROM log WHERE what = 'After'").fetchone() == (1,)
    conn.close()
    # A data restore undoes no migration; it is recorded and the history is whole.
    rows = history(project)
    assert before <= {e["execution_id"] for e in rows}
    assert rows[0]["operation"] == "restore" and rows[0]["method"] == "data"
    status = json.loads(project.ok("status", "--json"))
    assert status["applied"] == ["001_people", "002_create_later"] and status["pending"] == []
    assert {r[0] for r in project.query("SELECT backup_id FROM mig_backup_info")} == {
        b["backup_id"] for b in json.loads(project.ok("backup", "list", "--json"))}


def test_the_backup_is_an_owner_only_sqlite_file_without_bookkeeping(project):
    project.migrate("001")
    fill(project.db_path)
    backup_id = project.ok("backup", "create").strip()
    data = project.path / "backups" / backup_id / "data"
    assert stat.S_IMODE(data.stat().st_mode) == 0o600
    conn = sqlite3.connect(f"file:{data}?mode=ro", uri=True)
    names = {n for (n,) in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
    assert names == {"people", "pets", "anything", "odd", "kv", "log"}
    assert conn.execute("SELECT count(*) FROM people").fetchone() == (4,)
    # Generated columns are computed, not saved.
    assert [r[1] for r in conn.execute("PRAGMA table_info(pets)")] == ["owner", "name"]
    conn.close()
    manifest = json.loads((data.parent / "manifest.json").read_text())
    assert manifest["extra"]["sqlite"]["rows"] == 4 + 3 + 3 + 1 + 2 + 4


def test_a_saved_table_that_is_gone_is_refused_and_nothing_changes(project):
    project.migrate("001")
    fill(project.db_path)
    backup_id = project.ok("backup", "create").strip()
    conn = sqlite3.connect(project.db_path)
    with conn:
        conn.execute("DELETE FROM people WHERE id = 9")
        conn.execute("DROP TABLE odd")
    conn.close()
    before = project.db_path.read_bytes()
    code, _, err = project.run("backup", "restore", backup_id, "--yes")
    assert code == 1 and "'odd'" in err and "Traceback" not in err
    assert project.db_path.read_bytes() == before
    assert not any(e["operation"] == "restore" for e in history(project))


def test_changed_columns_are_refused_and_nothing_changes(project):
    project.migrate("001")
    fill(project.db_path)
    backup_id = project.ok("backup", "create").strip()
    conn = sqlite3.connect(project.db_path)
    with conn:
        conn.execute("DELETE FROM people")
        conn.execute("ALTER TABLE kv ADD COLUMN extra TEXT")
    conn.close()
    before = project.db_path.read_bytes()
    code, _, err = project.run("backup", "restore", backup_id, "--yes")
    assert code == 1 and "'kv'" in err and "new: extra" in err
    assert project.db_path.read_bytes() == before


def test_rows_that_would_break_a_foreign_key_are_refused(project):
    project.migrate("001")
    backup_id = project.ok("backup", "create").strip()  # no people at all
    project.migrate()
    conn = sqlite3.connect(project.db_path)
    with conn:
        conn.execute("CREATE TABLE visits (who INTEGER REFERENCES people(id) ON DELETE CASCADE)")
        conn.execute("INSERT INTO people (id, name) VALUES (1, 'Ada')")
        conn.execute("INSERT INTO visits VALUES (1)")
    conn.close()
    before = project.db_path.read_bytes()
    code, _, err = project.run("backup", "restore", backup_id, "--yes")
    # With cascades enforced, deleting Ada would have silently emptied `visits`, a table the
    # backup never saved; instead the restore is refused.
    assert code == 1 and "'visits'" in err and "'people'" in err
    assert project.db_path.read_bytes() == before


def test_a_failing_non_transactional_migration_gets_its_rows_back_and_needs_attention(project):
    project.migrate("001")
    fill(project.db_path)
    saved = typed_rows(project.db_path)
    project.write_migration(
        "003_halfway",
        "DELETE FROM pets;\nCREATE TABLE half (x);\nINSERT INTO no_such_table VALUES (1);",
        "DROP TABLE half;",
        {"transactional": False, "dependencies": ["001_people"]},
    )
    code, _, err = project.run("up", "--only", "003")
    assert code == 1 and "no such table: no_such_table" in err
    restored = typed_rows(project.db_path)
    assert restored.pop("half") == []  # a data backup cannot take the schema back
    assert restored == saved  # but the rows are back
    failed = [e for e in project.executions("003_halfway") if e["operation"] == "apply"]
    assert failed[-1]["status"] == "FAILED"
    assert "schema changes were not undone" in failed[-1]["error_message"]
    status = json.loads(project.ok("status", "--json"))
    assert [e["migration_id"] for e in status["needs_attention"]] == ["003_halfway"]


def test_up_on_the_example_with_data_backups(example_project):
    example_project.write_config(backup="data")
    code, _, err = example_project.run("up")
    assert code == 0, err
    listed = {b["backup_id"]: b for b in json.loads(
        example_project.ok("backup", "list", "--json"))}
    applies = [e for e in history(example_project) if e["operation"] == "apply"]
    assert len(applies) == 5
    for e in applies:
        assert listed[e["backup_id"]]["backup_type"] == "data"
        assert listed[e["backup_id"]]["migration_id"] == e["migration_id"]
    assert example_project.run("backup", "verify").code == 0


def test_a_wal_database_round_trips(project):
    project.migrate("001")
    conn = sqlite3.connect(project.db_path)
    conn.execute("PRAGMA journal_mode = WAL")
    conn.close()
    fill(project.db_path)
    saved = typed_rows(project.db_path)
    backup_id = project.ok("backup", "create").strip()
    change(project.db_path)
    assert project.run("backup", "restore", backup_id, "--yes").code == 0
    assert typed_rows(project.db_path) == saved


class Oracle(Dialect):
    """A dialect that offers no backups (the protocol's default ``backup_handler``)."""

    name = "oracle"


def test_other_dialects_are_refused_clearly(tmp_path):
    ctx = SimpleNamespace(dialect=Oracle("oracle://x", base_dir=tmp_path, options={}))
    job = SimpleNamespace(workdir=tmp_path, extra={})
    with pytest.raises(BackupError, match="^data backups of oracle databases are not supported"
                       " [(]the oracle dialect offers no data backups[)]$"):
        DataBackup().create(ctx, job)  # type: ignore[arg-type]
    with pytest.raises(BackupError, match="not supported"):
        DataBackup().restore(ctx, job)  # type: ignore[arg-type]
    assert not DataBackup().calls_finish(ctx.dialect)
