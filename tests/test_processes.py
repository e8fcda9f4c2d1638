"""Real processes: one killed with SIGKILL mid-migration, two migrating at once, and a lock
that cannot be taken in time (SPEC §3)."""

from __future__ import annotations

import json
import signal
import sqlite3
import subprocess
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from mig.testing import Project

ROWS = 4_000_000
SLOW_UP = f"""\
CREATE TABLE crash_marker (id INTEGER PRIMARY KEY);
INSERT INTO crash_marker VALUES (1);
CREATE TABLE big AS
    WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c LIMIT {ROWS})
    SELECT x FROM c;
"""


@pytest.fixture
def spawn() -> Iterator[Callable[..., subprocess.Popen[str]]]:
    """Start CLI processes that are killed at the end of the test if still running."""
    procs: list[subprocess.Popen[str]] = []

    def start(project: Project, *args: str) -> subprocess.Popen[str]:
        proc = project.popen(*args)
        procs.append(proc)
        return proc

    yield start
    for proc in procs:
        if proc.poll() is None:
            proc.kill()
        proc.communicate()


def wait_for(condition: Callable[[], bool], timeout: float = 20, what: str = "") -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.005)


def lock_held(project: Project) -> bool:
    lock = project.path / "app.db.miglock"
    return lock.exists() and b'"pid"' in lock.read_bytes()


def slow_project(project: Project) -> Project:
    project.table_migration("001", "first")
    project.write_migration("002_slow", SLOW_UP, "DROP TABLE big;\nDROP TABLE crash_marker;")
    project.table_migration("003", "last")
    return project


def kill_mid_migration(project: Project, spawn: Callable[..., subprocess.Popen[str]]) -> None:
    proc = spawn(project, "up")
    # The database file grows once 002 starts spilling rows to disk: it is mid-statement.
    wait_for(lambda: proc.poll() is not None or (
        project.db_path.exists() and project.db_path.stat().st_size > 4_000_000
    ), what="the slow migration to start writing")
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    assert proc.returncode == -signal.SIGKILL, proc.communicate()


@pytest.mark.slow
def test_sigkill_mid_migration_leaves_it_all_or_nothing(
    mig_project: Project, spawn: Callable[..., subprocess.Popen[str]]
) -> None:
    project = slow_project(mig_project)
    kill_mid_migration(project, spawn)
    # Open for writing, as the next mig would: SQLite rolls the hot journal back.
    conn = sqlite3.connect(project.db_path)
    tables = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
    rows = conn.execute(
        "SELECT migration_id, status FROM mig_migration_executions ORDER BY seq"
    ).fetchall()
    version = conn.execute("SELECT current_version FROM mig_schema_version").fetchone()
    conn.close()
    assert "first" in tables and "last" not in tables
    slow_rows = [status for migration_id, status in rows if migration_id == "002_slow"]
    if "big" in tables:  # it finished just before the kill: applied and recorded together
        assert "crash_marker" in tables
        assert slow_rows == ["COMPLETED"] and version == ("002",)
    else:
        assert "crash_marker" not in tables
        assert "COMPLETED" not in slow_rows and version == ("001",)
    code, out, err = project.run("up")
    assert code == 0, err
    assert project.query("SELECT count(*) FROM big") == [(ROWS,)]
    assert {"crash_marker", "last"} <= project.tables()
    completed = [r for r in project.executions("002_slow") if r["status"] == "COMPLETED"]
    assert len(completed) == 1
    status = json.loads(project.run("status", "--json").out)
    assert status["pending"] == [] and status["current_version"] == "003"
    project.ok("check")


@pytest.mark.slow
def test_read_only_commands_work_right_after_a_crash(
    mig_project: Project, spawn: Callable[..., subprocess.Popen[str]]
) -> None:
    project = slow_project(mig_project)
    kill_mid_migration(project, spawn)
    # Read-only opens must cope with the hot journal the killed writer left.
    code, out, err = project.run("status", "--json")
    assert code == 0, err
    assert json.loads(out)["applied"] == ["001_create_first"]
    project.ok("history")
    project.ok("check")


@pytest.mark.slow
def test_two_processes_apply_each_migration_once(
    mig_project: Project, spawn: Callable[..., subprocess.Popen[str]]
) -> None:
    for i in range(1, 26):
        deps = [f"{i - 1:03d}_create_t{i - 1}"] if i % 3 == 0 else []
        mig_project.table_migration(f"{i:03d}", f"t{i}", deps=deps)
    first, second = spawn(mig_project, "up"), spawn(mig_project, "up")
    results = [p.communicate(timeout=60) + (p.returncode,) for p in (first, second)]
    for _out, err, code in results:
        assert code == 0, err
        assert "Traceback" not in err
    rows = mig_project.executions()
    assert len(rows) == 25
    assert all(r["operation"] == "apply" and r["status"] == "COMPLETED" for r in rows)
    assert len({r["migration_id"] for r in rows}) == 25
    outs = sorted(out for out, _, _ in results)
    assert "nothing to do" in outs[0] or "applied" in outs[0]
    assert mig_project.query("SELECT current_version FROM mig_schema_version") == [("025",)]


@pytest.mark.slow
def test_lock_timeout_exits_3(
    mig_project: Project, spawn: Callable[..., subprocess.Popen[str]]
) -> None:
    mig_project.write_config(lock_timeout=1)
    mig_project.table_migration("001", "first")
    # Pure CPU for far longer than the test waits; the holder is killed once it has served.
    mig_project.write_migration(
        "002_spin",
        "CREATE TABLE spin AS WITH RECURSIVE c(x) AS"
        " (SELECT 1 UNION ALL SELECT x + 1 FROM c LIMIT 500000000) SELECT sum(x) AS s FROM c;",
        "DROP TABLE spin;",
    )
    holder = spawn(mig_project, "up")
    wait_for(lambda: lock_held(mig_project) or holder.poll() is not None, what="the lock")
    started = time.monotonic()
    code, out, err = mig_project.run("up")
    waited = time.monotonic() - started
    assert holder.poll() is None, holder.communicate()
    assert code == 3, (out, err)
    assert "locked by another mig process" in err and "1s" in err
    assert len(err.strip().splitlines()) == 1 and "Traceback" not in err
    assert 0.9 < waited < 10
    # Read-only commands and dry runs never take the lock.
    code, out, err = mig_project.run("plan", "--json")
    assert code == 0, err
    assert [m["id"] for m in json.loads(out)] == ["002_spin"]
    for args in (("status",), ("history",), ("check",), ("up", "--dry-run")):
        code, _, err = mig_project.run(*args)
        assert code == 0, (args, err)
    holder.kill()
    holder.wait()
    # The killed holder's lock is gone with it.
    mig_project.write_migration("002_spin", "CREATE TABLE spin (s INTEGER);", "DROP TABLE spin;")
    code, _, err = mig_project.run("up")
    assert code == 0, err
    assert [r["migration_id"] for r in mig_project.executions()] == ["001_create_first", "002_spin"]


def test_lock_file_of_a_dead_process_does_not_block(mig_project: Project) -> None:
    mig_project.table_migration("001", "a")
    lock = mig_project.path / "app.db.miglock"
    lock.write_text('{"pid": 999999, "host": "elsewhere", "since": "2020-01-01T00:00:00"}')
    code, _, err = mig_project.run("up")
    assert code == 0, err
    assert Path(lock).exists()


@pytest.mark.slow
def test_backups_of_a_killed_run_are_catalogued_by_the_next_prune(
    mig_project: Project, spawn: Callable[..., subprocess.Popen[str]]
) -> None:
    """A run writes its backups' catalogue rows when it releases the lock: killed before
    that, its backups are stored and whole but not catalogued. They are listed and restore
    like any other, and the next prune (after the next run, or by hand) catalogues them."""
    project = slow_project(mig_project)
    project.write_config(backup="full")
    kill_mid_migration(project, spawn)
    listed = json.loads(project.ok("backup", "list", "--json"))
    stored = {m["backup_id"] for m in listed}
    assert len(stored) == 2  # before 001 and before 002
    project.ok("check")  # (its read rolls back the killed run's journal)
    catalogued = {r[0] for r in project.query("SELECT backup_id FROM mig_backup_info")}
    assert stored - catalogued
    said = project.ok("backup", "prune")
    assert all(f"catalogued {b}" in said for b in stored - catalogued)
    assert {r[0] for r in project.query("SELECT backup_id FROM mig_backup_info")} == stored
    first = min(listed, key=lambda m: m["created_at"])["backup_id"]
    project.ok("backup", "restore", first, "--yes")
    assert "first" not in project.tables()
