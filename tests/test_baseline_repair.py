"""``mig baseline`` and ``mig repair`` on SQLite (issue 10, items 1 and 2); the same on every
dialect in tests/dialects/test_dialects_admin.py."""

from __future__ import annotations

import json
import sqlite3
import time

import pytest
from mig.errors import HistoryConflict
from mig.testing import Project

pytest_plugins = ["mig.testing"]


def three(project: Project) -> None:
    project.table_migration("001", "a")
    project.table_migration("002", "b", ["001_create_a"])
    project.table_migration("003", "c")


def by_hand(project: Project, *statements: str) -> None:
    conn = sqlite3.connect(project.db_path)
    try:
        for sql in statements:
            conn.execute(sql)
        conn.commit()
    finally:
        conn.close()


def status(project: Project) -> dict:
    """``status --json`` in-process (the CLI's own output is checked where it matters)."""
    with project.engine() as eng:
        return json.loads(json.dumps(eng.status().to_dict(), default=str))


# -- baseline ------------------------------------------------------------------------------------


def test_baseline_adopts_a_database_mig_did_not_build(mig_project: Project) -> None:
    three(mig_project)
    by_hand(mig_project, "CREATE TABLE a (id INTEGER PRIMARY KEY, note TEXT)",
            "CREATE TABLE b (id INTEGER PRIMARY KEY, note TEXT)")
    code, _, err = mig_project.run("up")
    assert code == 1 and "table a already exists" in err

    out = mig_project.ok("baseline", "002", "--dry-run")
    assert "would record 001_create_a as applied" in out
    assert "would record 002_create_b as applied" in out and "003" not in out
    # (the failed `up` above left a FAILED row that changed nothing: not history)
    assert mig_project.applied() == []

    out = mig_project.ok("baseline", "2")
    assert "baselined 2 migration(s); database is at version 002" in out
    rows = [r for r in mig_project.executions() if r["status"] == "COMPLETED"]
    assert [(r["migration_id"], r["method"], r["operation"]) for r in rows] == [
        ("001_create_a", "baseline", "apply"), ("002_create_b", "baseline", "apply")]
    assert all("mig did not run it" in r["error_message"] for r in rows)
    assert len({r["run_id"] for r in rows}) == 1
    st = status(mig_project)
    assert st["baselined"] == ["001_create_a", "002_create_b"]
    assert st["pending"] == ["003_create_c"]
    assert "baselined (recorded as applied by `mig baseline`" in mig_project.ok("status")
    assert "[baseline]" in mig_project.ok("history")

    mig_project.migrate()
    assert mig_project.applied() == ["001_create_a", "002_create_b", "003_create_c"]
    assert mig_project.ok("check").strip() == "no problems found"


def test_baseline_refuses_over_mig_history(mig_project: Project) -> None:
    three(mig_project)
    mig_project.migrate("001")
    before = mig_project.executions()
    for args in (("baseline", "002"), ("baseline", "002", "--dry-run")):
        code, _, err = mig_project.run(*args)
        assert code == 2, err
        assert err.startswith("mig: error: cannot baseline: the database already has mig"
                              " history for 001_create_a")
    assert mig_project.executions() == before
    code, _, err = mig_project.run("baseline", "042")
    assert code == 2 and "no migration '042'" in err


def test_a_failed_attempt_that_left_statements_counts_as_history(mig_project: Project) -> None:
    mig_project.write_migration("001_half", "CREATE TABLE x (a INTEGER); CREATE TABLE x (;",
                                "DROP TABLE x;", {"transactional": False})
    assert mig_project.run("up").code == 1
    with mig_project.engine() as eng, pytest.raises(HistoryConflict, match="001_half"):
        eng.baseline("001")


def test_baselined_migrations_roll_back_by_down_not_by_restore(mig_project: Project) -> None:
    three(mig_project)
    by_hand(mig_project, "CREATE TABLE a (id INTEGER PRIMARY KEY, note TEXT)",
            "CREATE TABLE b (id INTEGER PRIMARY KEY, note TEXT)")
    with mig_project.engine() as eng:
        done = eng.baseline("002", note="adopted from the old deploy scripts")
    assert [e.error_message for e in done] == ["adopted from the old deploy scripts"] * 2
    code, _, err = mig_project.run("down", "--method", "restore", "--yes")
    assert code == 1
    assert "recorded by `mig baseline`, not run by mig, so no backup was taken" in err
    out = mig_project.ok("down")  # auto: its DOWN
    assert "rolled back 1 migration(s); database is at version 001" in out
    assert mig_project.tables() >= {"a"} and "b" not in mig_project.tables()


def test_baseline_waits_for_the_lock(mig_project: Project) -> None:
    three(mig_project)
    mig_project.write_config(lock_timeout=0.5)
    with mig_project.engine() as eng, eng.db.lock(5):
        code, _, err = mig_project.run("baseline", "001")
    assert code == 3, err
    assert mig_project.applied() == []


# -- repair --------------------------------------------------------------------------------------


def test_repair_accepts_edited_files_and_keeps_the_old_checksum(mig_project: Project) -> None:
    three(mig_project)
    mig_project.migrate()
    old = mig_project.executions("001_create_a")[0]["checksum"]
    path = mig_project.migrations_dir / "001_create_a.sql"
    path.write_text(path.read_text() + "-- a comment added after the fact\n")
    mig_project.table_migration("004", "d")
    code, _, err = mig_project.run("up")
    assert code == 4 and "edited since it was applied" in err

    before = mig_project.executions()
    out = mig_project.ok("repair", "--dry-run")
    assert f"would accept the edited file of 001_create_a (checksum {old[:12]} ->" in out
    assert mig_project.executions() == before

    out = mig_project.ok("repair")
    assert "accepted the edited file of 001_create_a" in out
    [row] = [r for r in mig_project.executions() if r["operation"] == "repair"]
    assert row["checksum"] == old and row["method"] == "accept-checksum"
    assert mig_project.executions("001_create_a")[0]["checksum"] != old
    assert status(mig_project)["drift"] == []
    mig_project.migrate()
    assert mig_project.ok("repair").strip() == "nothing to repair"


def test_repair_forgets_backups_deleted_by_hand(mig_project: Project) -> None:
    mig_project.table_migration("001", "a")
    mig_project.migrate()
    backup_id = mig_project.ok("backup", "create").strip()
    for part in sorted((mig_project.path / "backups").rglob("*"), reverse=True):
        part.rmdir() if part.is_dir() else part.unlink()
    code, out, _ = mig_project.run("check")
    assert code == 4 and backup_id in out
    data = json.loads(mig_project.ok("repair", "--dry-run", "--json"))
    assert data["forget_backups"] == [backup_id]
    mig_project.ok("repair")
    [row] = [r for r in mig_project.executions() if r["operation"] == "forget"]
    assert row["backup_id"] == backup_id and "repair removed it" in row["error_message"]
    assert mig_project.query("SELECT count(*) FROM mig_backup_info") == [(0,)]
    assert mig_project.run("check").code == 0


def half_applied(project: Project) -> str:
    """002 fails after its first statement committed: it needs attention."""
    project.table_migration("001", "a")
    project.write_migration("002_half",
                            "CREATE TABLE h1 (id INTEGER); CREATE TABLE a (id INTEGER);",
                            "DROP TABLE h1;", {"transactional": False})
    code, _, err = project.run("up")
    assert code == 1, err
    [attention] = status(project)["needs_attention"]
    return str(attention["execution_id"])


def test_repair_resolves_as_rolled_back(mig_project: Project) -> None:
    execution_id = half_applied(mig_project)
    assert "needs attention: 002_half" in mig_project.run("repair").err
    by_hand(mig_project, "DROP TABLE h1")  # the operator undoes the half
    data = json.loads(mig_project.ok("repair", "--resolve", execution_id, "--as", "rolled-back",
                                     "--dry-run", "--json"))
    assert data["resolve"] == {"execution_id": execution_id, "migration_id": "002_half",
                               "as": "rolled-back"}
    assert status(mig_project)["needs_attention"]
    mig_project.ok("repair", "--resolve", execution_id, "--as", "rolled-back")
    st = status(mig_project)
    assert st["needs_attention"] == [] and st["failed"] == []
    assert st["applied"] == ["001_create_a"]
    with mig_project.engine() as eng:
        assert eng.validate_database_integrity().ok
    mig_project.write_migration("002_half", "CREATE TABLE h1 (id INTEGER);", "DROP TABLE h1;",
                                {"transactional": False})
    mig_project.migrate()
    assert status(mig_project)["applied"] == ["001_create_a", "002_half"]


def test_repair_resolves_as_applied(mig_project: Project) -> None:
    execution_id = half_applied(mig_project)
    mig_project.write_migration("002_half", "CREATE TABLE h1 (id INTEGER);", "DROP TABLE h1;",
                                {"transactional": False})  # what really is in place
    out = mig_project.ok("repair", "--resolve", execution_id, "--as", "applied")
    assert "resolved as applied" in out
    st = status(mig_project)
    assert st["applied"] == ["001_create_a", "002_half"] and st["needs_attention"] == []
    assert st["current_version"] == "002"
    rows = mig_project.executions("002_half")
    assert [(r["operation"], r["status"], r["method"]) for r in rows] == [
        ("apply", "FAILED", None), ("repair", "COMPLETED", "resolve:applied"),
        ("apply", "COMPLETED", "repair")]
    with mig_project.engine() as eng:  # its DOWN runs like any other
        eng.down()
    assert "h1" not in mig_project.tables()


def test_repair_refuses_what_needs_no_attention(mig_project: Project) -> None:
    mig_project.table_migration("001", "a")
    mig_project.migrate()
    [row] = mig_project.executions()
    code, _, err = mig_project.run("repair", "--resolve", row["execution_id"], "--as", "applied")
    assert code == 2 and "does not need attention; none does" in err
    code, _, err = mig_project.run("repair", "--resolve", row["execution_id"])
    assert code == 2 and "--resolve and --as go together" in err
    code, _, err = mig_project.run("repair", "--resolve", "x", "--as", "maybe")
    assert code == 2 and "--as must be one of applied, rolled-back" in err
    assert len(mig_project.executions()) == 1


SLOW = ("WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c WHERE x < 400000000)"
        " SELECT count(*) FROM c;")


def test_repair_resolves_a_migration_whose_process_died(mig_project: Project) -> None:
    mig_project.write_migration("001_slow", "CREATE TABLE s (id INTEGER);\n" + SLOW,
                                "DROP TABLE s;", {"transactional": False})
    proc = mig_project.popen("up")
    deadline = time.monotonic() + 30
    while not any(r["status"] == "RUNNING" for r in mig_project.executions()):
        assert time.monotonic() < deadline and proc.poll() is None
        time.sleep(0.05)
    time.sleep(0.2)
    proc.kill()
    proc.communicate()
    [attention] = status(mig_project)["needs_attention"]
    assert attention["status"] == "RUNNING"
    mig_project.ok("repair", "--resolve", attention["execution_id"], "--as", "applied")
    first = mig_project.executions("001_slow")[0]
    assert first["status"] == "FAILED" and "process died" in first["error_message"]
    assert status(mig_project)["applied"] == ["001_slow"]
