"""Schema backups of SQLite databases: real files, the real engine and the CLI in subprocesses."""

from __future__ import annotations

import json
import os
import sqlite3
import stat
from pathlib import Path
from types import SimpleNamespace

import pytest
from mig import BackupError
from mig.backups import sha256_file
from mig.protocols import Dialect
from mig.testing import Project
from mig_backup_schema.plugin import SchemaBackup

SCHEMA = """\
CREATE TABLE authors (id INTEGER PRIMARY KEY AUTOINCREMENT, name TEXT NOT NULL UNIQUE);
CREATE TABLE books (
    id INTEGER PRIMARY KEY,
    author_id INTEGER NOT NULL REFERENCES authors(id) ON DELETE CASCADE,
    title TEXT NOT NULL,
    price REAL CHECK (price >= 0),
    tag TEXT GENERATED ALWAYS AS (upper(title)) VIRTUAL
);
CREATE TABLE kv (k TEXT PRIMARY KEY, v BLOB) WITHOUT ROWID;
CREATE INDEX idx_books_title ON books(title);
CREATE UNIQUE INDEX idx_books_author_title ON books(author_id, title) WHERE price IS NOT NULL;
CREATE VIEW cheap AS SELECT * FROM pricey WHERE price < 100;
CREATE VIEW pricey AS SELECT title, price FROM books WHERE price IS NOT NULL;
CREATE TABLE audit (at TEXT, what TEXT);
CREATE TRIGGER books_audit AFTER INSERT ON books BEGIN
    INSERT INTO audit VALUES (datetime('now'), 'book ' || NEW.title);
END;
CREATE TRIGGER cheap_insert INSTEAD OF INSERT ON cheap BEGIN
    INSERT INTO audit VALUES ('never', NEW.title);
END;
CREATE VIRTUAL TABLE notes USING fts5(body);
"""


def objects(db: Path) -> list[tuple]:
    """The user schema as sqlite_master holds it, without mig's tables."""
    conn = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
    try:
        return conn.execute(
            "SELECT type, name, tbl_name, sql FROM sqlite_master"
            " WHERE tbl_name NOT LIKE 'mig\\_%' ESCAPE '\\' ORDER BY type, name"
        ).fetchall()
    finally:
        conn.close()


def count_rows(db: Path, table: str) -> int:
    conn = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
    try:
        return conn.execute(f'SELECT count(*) FROM "{table}"').fetchone()[0]
    finally:
        conn.close()


def history(project: Project) -> list[dict]:
    return json.loads(project.ok("history", "--json"))


@pytest.fixture
def project(mig_project: Project) -> Project:
    mig_project.write_config(backup="schema")
    mig_project.write_migration("001_library", SCHEMA,
                                "DROP TABLE notes; DROP VIEW cheap; DROP VIEW pricey;"
                                " DROP TABLE audit; DROP TABLE kv; DROP TABLE books;"
                                " DROP TABLE authors;")
    mig_project.table_migration("002", "later")
    return mig_project


def fill(db: Path) -> None:
    conn = sqlite3.connect(db)
    with conn:
        conn.execute("PRAGMA user_version = 7")
        conn.execute("INSERT INTO authors (name) VALUES ('Ada'), ('Grace')")
        conn.execute("INSERT INTO books (author_id, title, price) VALUES (1, 'Notes', 12.5)")
        conn.execute("INSERT INTO kv VALUES ('a', x'00ff')")
        conn.execute("INSERT INTO notes VALUES ('full text')")
    conn.close()


def test_round_trip_gives_the_saved_schema_and_no_user_rows(project):
    project.migrate("001")
    fill(project.db_path)
    schema = objects(project.db_path)
    backup_id = project.ok("backup", "create").strip()
    assert backup_id.endswith("-schema")
    before = {e["execution_id"] for e in history(project)}
    project.migrate()
    conn = sqlite3.connect(project.db_path)
    with conn:
        conn.execute("INSERT INTO authors (name) VALUES ('Barbara')")
        conn.execute("INSERT INTO later (note) VALUES ('x')")
    conn.close()
    code, out, err = project.run("backup", "restore", backup_id, "--yes")
    assert code == 0, err
    assert objects(project.db_path) == schema
    for table in ("authors", "books", "kv", "audit", "notes"):
        assert count_rows(project.db_path, table) == 0, table
    assert "later" not in project.tables()
    assert project.query("PRAGMA user_version") == [(7,)]
    assert project.query("PRAGMA integrity_check") == [("ok",)]
    # Whole history, the restore recorded, 002 pending again.
    rows = history(project)
    assert before <= {e["execution_id"] for e in rows}
    assert rows[0]["operation"] == "restore" and rows[0]["method"] == "schema"
    status = json.loads(project.ok("status", "--json"))
    assert status["applied"] == ["001_library"] and status["pending"] == ["002_create_later"]
    assert {r[0] for r in project.query("SELECT backup_id FROM mig_backup_info")} == {
        b["backup_id"] for b in json.loads(project.ok("backup", "list", "--json"))}
    # The schema works: constraints, triggers, generated columns, AUTOINCREMENT, FTS.
    conn = sqlite3.connect(project.db_path)
    with conn:
        conn.execute("INSERT INTO authors (name) VALUES ('Edsger')")
        conn.execute("INSERT INTO books (author_id, title, price) VALUES (1, 'Go To', 3)")
        conn.execute("INSERT INTO notes VALUES ('searchable words')")
    assert conn.execute("SELECT tag FROM books").fetchall() == [("GO TO",)]
    assert conn.execute("SELECT count(*) FROM audit").fetchone() == (1,)
    assert conn.execute("SELECT id FROM authors").fetchall() == [(1,)]
    assert conn.execute("SELECT body FROM notes WHERE notes MATCH 'words'").fetchall() == [
        ("searchable words",)]
    with pytest.raises(sqlite3.IntegrityError):
        conn.execute("INSERT INTO books (author_id, title, price) VALUES (1, 'x', -1)")
    conn.close()
    assert project.run("up").code == 0


def test_the_backup_is_owner_only_json_that_replays_into_an_empty_database(project, tmp_path):
    project.migrate("001")
    fill(project.db_path)
    backup_id = project.ok("backup", "create").strip()
    data = project.path / "backups" / backup_id / "data"
    assert stat.S_IMODE(data.stat().st_mode) == 0o600
    assert stat.S_IMODE(data.parent.stat().st_mode) == 0o700
    doc = json.loads(data.read_text())
    kinds = [o["type"] for o in doc["objects"]]
    assert kinds == sorted(kinds, key=["table", "index", "view", "trigger"].index)
    assert "notes_data" not in {o["name"] for o in doc["objects"]}  # FTS shadow tables
    assert not any(o["name"].startswith("sqlite_") for o in doc["objects"])
    assert "Ada" not in data.read_text()  # no user rows
    saved = doc["bookkeeping"]["mig_migration_executions"]
    assert len(saved["rows"]) == 1
    # Replayed by hand into an empty file, it makes the same schema.
    empty = tmp_path / "empty.db"
    conn = sqlite3.connect(empty)
    for o in doc["objects"]:
        conn.execute(o["sql"])
    conn.commit()
    conn.close()
    assert objects(empty) == objects(project.db_path)


def test_restore_after_the_database_was_lost_keeps_the_saved_version(project):
    project.migrate("001")
    backup_id = project.ok("backup", "create").strip()
    project.migrate()
    project.db_path.unlink()
    code, _, err = project.run("backup", "restore", backup_id, "--yes")
    assert code == 0, err
    status = json.loads(project.ok("status", "--json"))
    assert status["current_version"] == "001"
    assert status["applied"] == ["001_library"]
    assert status["pending"] == ["002_create_later"]
    assert "books" in project.tables()


def test_up_on_the_example_with_schema_backups(example_project):
    example_project.write_config(backup="schema")
    code, _, err = example_project.run("up")
    assert code == 0, err
    listed = {b["backup_id"]: b for b in json.loads(example_project.ok("backup", "list",
                                                                       "--json"))}
    applies = [e for e in history(example_project) if e["operation"] == "apply"]
    assert len(applies) == 5
    for e in applies:
        assert listed[e["backup_id"]]["backup_type"] == "schema"
        assert listed[e["backup_id"]]["migration_id"] == e["migration_id"]
    code, _, err = example_project.run("down", "--method", "restore", "--yes")
    assert code == 0, err
    assert "user_preferences" not in example_project.tables()
    assert example_project.applied()[-1] == "004_create_trades_table"


def test_a_wal_database_comes_back_in_wal_mode(project):
    project.migrate("001")
    conn = sqlite3.connect(project.db_path)
    conn.execute("PRAGMA journal_mode = WAL")
    conn.close()
    backup_id = project.ok("backup", "create").strip()
    project.migrate()
    assert project.run("backup", "restore", backup_id, "--yes").code == 0
    assert project.query("PRAGMA journal_mode") == [("wal",)]
    assert "later" not in project.tables()


def test_a_damaged_schema_backup_is_refused(project):
    project.migrate("001")
    backup_id = project.ok("backup", "create").strip()
    data = project.path / "backups" / backup_id / "data"
    os.chmod(data, 0o600)
    data.write_text(data.read_text().replace("authors", "writers", 1))
    before = project.db_path.read_bytes()
    code, _, err = project.run("backup", "restore", backup_id, "--yes")
    assert code == 1 and "damaged" in err
    assert project.db_path.read_bytes() == before


def test_a_restore_that_fails_midway_changes_nothing(project):
    project.migrate("001")
    engine = project.engine()
    info = engine.create_backup("schema")
    project.migrate()
    before = project.db_path.read_bytes()
    # Swap in a backup whose SQL fails halfway, with a valid checksum (a bug, not damage).
    data = Path(info.backup_path)
    doc = json.loads(data.read_text())
    doc["objects"].append({"type": "trigger", "name": "bad", "table": "books",
                           "sql": "CREATE TRIGGER bad AFTER INSERT ON nowhere BEGIN SELECT 1; END",
                           "bookkeeping": False})
    data.write_text(json.dumps(doc))
    manifest_path = data.parent / "manifest.json"
    manifest = json.loads(manifest_path.read_text())
    digest, size = sha256_file(data)
    manifest["parts"]["data"] = {"sha256": digest, "size": size}
    manifest["checksum"] = digest
    manifest["size_bytes"] = size + manifest["parts"].get("manifest.json", {}).get("size", 0)
    manifest_path.write_text(json.dumps(manifest))
    with pytest.raises(BackupError, match="no such table: main.nowhere"):
        engine.restore_backup(info.backup_id, confirm=True)
    engine.close()
    assert project.db_path.read_bytes() == before
    assert [p for p in project.path.iterdir() if ".mig-restore-" in p.name] == []


class Oracle(Dialect):
    """A dialect that offers no backups (the protocol's default ``backup_handler``)."""

    name = "oracle"


def test_other_dialects_are_refused_clearly(tmp_path):
    ctx = SimpleNamespace(dialect=Oracle("oracle://x", base_dir=tmp_path, options={}))
    job = SimpleNamespace(workdir=tmp_path, extra={})
    with pytest.raises(BackupError, match="^schema backups of oracle databases are not supported"
                       " [(]the oracle dialect offers no schema backups[)]$"):
        SchemaBackup().create(ctx, job)  # type: ignore[arg-type]
    with pytest.raises(BackupError, match="not supported"):
        SchemaBackup().restore(ctx, job)  # type: ignore[arg-type]
    assert not SchemaBackup().calls_finish(ctx.dialect)
