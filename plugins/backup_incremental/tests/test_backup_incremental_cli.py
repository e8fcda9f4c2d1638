"""Incremental backups through the command line: the bundled example, rollback by restore,
and a restore killed at random moments."""

from __future__ import annotations

import hashlib
import json
import signal
import sqlite3
import time
from pathlib import Path

import pytest
from mig.testing import Project

CONFIG = """\
[mig]
database = "sqlite:///app.db"
migrations_dir = "migrations"
backups_dir = "backups"
backup = "incremental"
lock_timeout = 10
"""

EXAMPLE_TABLES = {"users", "portfolio", "orders", "trades", "user_preferences"}
BOOKKEEPING = {"mig_migration_metadata", "mig_migration_executions", "mig_backup_info",
               "mig_schema_version", "mig_schema_snapshots"}


def backups(project: Project) -> list[dict[str, object]]:
    code, out, err = project.run("backup", "list", "--json")
    assert code == 0, err
    return json.loads(out)


def test_up_of_the_example_takes_a_chain(example_project: Project) -> None:
    project = example_project
    project.write_config(CONFIG)
    code, out, err = project.run("up")
    assert code == 0, err
    executions = project.executions()
    assert len(executions) == 5
    listed = backups(project)
    assert [b["migration_id"] for b in listed] == [e["migration_id"] for e in executions]
    by_migration = {b["migration_id"]: b for b in listed}
    for e in executions:
        assert e["backup_id"] == by_migration[e["migration_id"]]["backup_id"]
    assert listed[0]["parent_id"] is None
    assert listed[0]["extra"]["kind"] == "base"
    for parent, child in zip(listed, listed[1:], strict=False):
        assert child["parent_id"] == parent["backup_id"]
        assert child["backup_type"] == "incremental"
        assert child["extra"]["kind"] == "increment"
    code, out, err = project.run("backup", "verify")
    assert code == 0 and "5 backup(s): OK" in out, err
    code, out, err = project.run("backup", "verify", str(listed[-1]["backup_id"]))
    assert code == 0 and "5 link(s) checked" in out, err
    code, _, err = project.run("check")
    assert code == 0, err


def test_down_by_restore_walks_back_the_chain(example_project: Project) -> None:
    project = example_project
    project.write_config(CONFIG)
    assert project.run("up").code == 0
    project_db = project.db_path
    conn = sqlite3.connect(project_db)
    with conn:
        conn.execute("INSERT INTO users (user_id, email, password_hash)"
                     " VALUES ('ann', 'ann@example.com', 'x')")
    conn.close()

    code, out, err = project.run("down", "--method", "restore", "--yes")
    assert code == 0, err
    assert project.tables() == EXAMPLE_TABLES - {"user_preferences"} | BOOKKEEPING
    # the row inserted after 005's backup went with the restore
    assert project.query("SELECT count(*) FROM users") == [(0,)]
    code, out, _ = project.run("status", "--json")
    status = json.loads(out)
    assert status["current_version"] == "004"
    assert status["pending"] == ["005_add_user_preferences"]

    code, out, err = project.run("down", "--steps", "2", "--method", "restore", "--yes")
    assert code == 0, err
    assert project.tables() == {"users", "portfolio"} | BOOKKEEPING

    code, out, err = project.run("up")
    assert code == 0, err
    assert project.tables() == EXAMPLE_TABLES | BOOKKEEPING

    code, out, err = project.run("down", "--all", "--method", "restore", "--yes")
    assert code == 0, err
    assert project.tables() == BOOKKEEPING
    code, out, _ = project.run("history", "--json")
    history = json.loads(out)
    restores = [h for h in history if h["operation"] == "restore"]
    assert len(restores) == 3
    assert project.query("PRAGMA integrity_check") == [("ok",)]
    # every backup, old chain and new, is still whole
    code, out, err = project.run("backup", "verify")
    assert code == 0, err


def fingerprint(db: Path) -> str:
    conn = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
    try:
        digest = hashlib.sha256()
        for row in conn.execute("SELECT id, name, qty, payload FROM items ORDER BY id"):
            digest.update(repr(row).encode())
        return digest.hexdigest()
    finally:
        conn.close()


def integrity(db: Path) -> str:
    conn = sqlite3.connect(db)
    try:
        return conn.execute("PRAGMA integrity_check").fetchone()[0]
    finally:
        conn.close()


@pytest.mark.slow
def test_restore_killed_at_any_moment_leaves_old_or_new(mig_project: Project) -> None:
    project = mig_project
    project.write_config(CONFIG)
    db = project.db_path
    conn = sqlite3.connect(db)
    with conn:
        conn.execute("CREATE TABLE items (id INTEGER PRIMARY KEY, name TEXT, qty INTEGER,"
                     " payload BLOB)")
        conn.execute("CREATE INDEX idx_items_name ON items(name)")
        conn.executemany("INSERT INTO items VALUES (?, ?, ?, randomblob(400))",
                         ((i, f"item {i}", i % 10) for i in range(1, 80_001)))
    conn.close()
    assert project.run("backup", "create").code == 0

    def change(sql: str) -> None:
        c = sqlite3.connect(db)
        with c:
            c.execute(sql)
        c.close()

    change("UPDATE items SET qty = qty + 100 WHERE id <= 3000")
    code, out, err = project.run("backup", "create")
    assert code == 0, err
    target = out.strip()
    restored = fingerprint(db)
    to_old = "UPDATE items SET qty = -1 WHERE id BETWEEN 40000 AND 42000"
    change(to_old)
    old = fingerprint(db)

    start = time.perf_counter()
    code, _, err = project.run("backup", "restore", target, "--yes")
    duration = time.perf_counter() - start
    assert code == 0, err
    assert fingerprint(db) == restored

    outcomes = {"old": 0, "new": 0}
    for step in range(12):
        change(to_old)
        assert fingerprint(db) == old
        proc = project.popen("backup", "restore", target, "--yes")
        time.sleep(duration * (0.15 + step * 0.08))
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=30)
        assert integrity(db) == "ok"
        now = fingerprint(db)
        assert now in (old, restored)
        outcomes["old" if now == old else "new"] += 1
    assert outcomes["old"] and outcomes["new"], outcomes  # both sides of the rename were hit

    code, _, err = project.run("backup", "restore", target, "--yes")
    assert code == 0, err
    assert fingerprint(db) == restored
    assert sorted(p.name for p in db.parent.iterdir() if p.name.startswith(".app.db")) == []
    assert not any(Path(f"{db}{s}").exists() for s in ("-journal", "-wal"))
