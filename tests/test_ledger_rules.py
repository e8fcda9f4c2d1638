"""The ledger never lies (SPEC §10, "Backups and restores"): end-to-end reproductions of
reported bugs where ``mig status`` / ``history`` / ``check`` disagreed with the schema the
database really had after restores, cascades and half-applied migrations.

Everything runs through the CLI on real SQLite files; the same rules on PostgreSQL and
MariaDB are in ``tests/dialects/test_dialects_ledger.py``.
"""

from __future__ import annotations

import json
import re
import shutil
import signal
import sqlite3
import time
from pathlib import Path

import pytest
from mig.testing import Project

EXAMPLE_IDS = [
    "001_create_users_table",
    "002_create_portfolio_table",
    "003_create_orders_table",
    "004_create_trades_table",
    "005_add_user_preferences",
]


# -- helpers ------------------------------------------------------------------------------------


def status(project: Project) -> dict:
    return json.loads(project.ok("status", "--json"))


def history(project: Project) -> list[dict]:
    return json.loads(project.ok("history", "--json"))


def apply_rows(project: Project, migration_id: str) -> list[dict]:
    return [h for h in history(project)
            if h["migration_id"] == migration_id and h["operation"] == "apply"]


def in_effect(project: Project, migration_id: str) -> dict:
    """The one apply execution of ``migration_id`` that is in effect (COMPLETED)."""
    rows = [h for h in apply_rows(project, migration_id) if h["status"] == "COMPLETED"]
    assert len(rows) == 1, (
        f"expected exactly one COMPLETED apply execution of {migration_id} in `mig history`,"
        f" found {len(rows)}: {rows}"
    )
    return rows[0]


def check(project: Project) -> tuple[int, str]:
    code, out, err = project.run("check")
    return code, out + err


def user_objects(project: Project) -> set[tuple[str, str]]:
    """Every table, index, view and trigger that is not mig's or SQLite's own."""
    rows = project.query(
        "SELECT type, name FROM sqlite_master"
        " WHERE name NOT LIKE 'sqlite_%' AND name NOT LIKE 'mig_%'"
    )
    return {(kind, name) for kind, name in rows}


def schema_version(project: Project) -> str:
    return project.query("SELECT current_version FROM mig_schema_version")[0][0]


# -- 2. a cascade through a restore -------------------------------------------------------------


def test_cascade_through_a_restore_leaves_no_dependent_applied(mig_project: Project) -> None:
    """Report: ``rollback <002_b>``, then ``rollback <001_a> --cascade`` left no user objects
    but status said 002_b applied and 001_a pending; ``up`` then never re-created ix2. (003_c
    is irreversible, so the cascade restores its pre-migration backup, taken while 002_b was
    still in effect.)"""
    project = mig_project
    project.write_config(backup="full")
    project.write_migration("001_a", "CREATE TABLE t1 (a INTEGER);", "DROP TABLE t1;")
    project.write_migration("002_b", "CREATE INDEX ix2 ON t1(a);", "DROP INDEX ix2;",
                            {"dependencies": ["001_a"]})
    project.write_migration("003_c", "ALTER TABLE t1 ADD COLUMN c INTEGER;", None,
                            {"dependencies": ["001_a"], "reversible": False})
    project.ok("up")
    a_id = in_effect(project, "001_a")["execution_id"]
    b_id = in_effect(project, "002_b")["execution_id"]

    code, out, err = project.run("rollback", b_id, "--yes")
    assert code == 0, err
    assert ("index", "ix2") not in user_objects(project), "rollback of 002_b left ix2 in place"
    assert status(project)["applied"] == ["001_a", "003_c"]
    code, text = check(project)
    assert code == 0, f"`mig check` after rolling back 002_b exited {code}: {text}"

    code, out, err = project.run("rollback", a_id, "--cascade", "--yes")
    assert code == 0, err
    assert user_objects(project) == set(), (
        f"the cascade should leave no user objects, found {user_objects(project)}"
    )
    st = status(project)
    assert st["applied"] == [], (
        f"nothing is left in the database, yet `mig status` says applied={st['applied']}"
    )
    assert st["pending"] == ["001_a", "002_b", "003_c"], (
        f"all three migrations should be pending again, status says pending={st['pending']}"
    )
    assert st["current_version"] is None, st
    assert schema_version(project) == "", "mig_schema_version should say nothing is applied"
    code, text = check(project)
    assert code == 0, f"`mig check` after the cascade exited {code}: {text}"

    code, out, err = project.run("up")
    assert code == 0, err
    objects = user_objects(project)
    assert ("table", "t1") in objects
    assert ("index", "ix2") in objects, (
        f"`mig up` after the cascade should re-create ix2 (002_b), objects are {objects}"
    )
    columns = [row[1] for row in project.query("PRAGMA table_info(t1)")]
    assert columns == ["a", "c"], f"t1 should have columns a and c again, has {columns}"
    st = status(project)
    assert st["applied"] == ["001_a", "002_b", "003_c"] and st["pending"] == [], st
    code, text = check(project)
    assert code == 0, f"`mig check` after re-applying exited {code}: {text}"


# -- 3. down after a restore ----------------------------------------------------------------------


def test_down_after_a_restore_takes_the_newest_every_time(
    example_project: Project, tmp_path: Path
) -> None:
    """Report: on the example, ``up; B=backup create; down --all; backup restore B; down``
    rolled back an arbitrary migration (sometimes 005, sometimes 002, sometimes refused for
    dependents). It must be 005_add_user_preferences, every time."""
    rolled_back: list[list[str]] = []
    for attempt in range(5):
        project = Project(tmp_path / f"run{attempt}")
        shutil.rmtree(project.migrations_dir)
        shutil.copytree(example_project.migrations_dir, project.migrations_dir)
        project.write_config(backup="full")
        project.ok("up")
        backup_id = project.ok("backup", "create").strip()
        project.ok("down", "--all", "--yes")
        project.ok("backup", "restore", backup_id, "--yes")
        assert sorted(status(project)["applied"]) == EXAMPLE_IDS

        code, out, err = project.run("down", "--yes")
        assert code == 0, f"attempt {attempt + 1}: `mig down` after the restore failed: {err}"
        said = re.findall(r"^rolled back\s+(\S+) \(", out, flags=re.MULTILINE)
        rolled_back.append(said)
        assert said == ["005_add_user_preferences"], (
            f"attempt {attempt + 1}: `mig down` after the restore rolled back {said},"
            f" not the newest applied migration 005_add_user_preferences"
        )
        tables = project.tables()
        assert "user_preferences" not in tables, f"attempt {attempt + 1}: tables {tables}"
        assert {"users", "portfolio", "orders", "trades"} <= tables, (
            f"attempt {attempt + 1}: tables {tables}"
        )
        st = status(project)
        assert sorted(st["applied"]) == EXAMPLE_IDS[:4], f"attempt {attempt + 1}: {st}"
        assert st["pending"] == ["005_add_user_preferences"], f"attempt {attempt + 1}: {st}"
        assert st["current_version"] == "004" and schema_version(project) == "004"
    assert all(ids == rolled_back[0] for ids in rolled_back), rolled_back


# -- 5. a retry must not clear "needs attention" --------------------------------------------------

HALF_UP = """\
CREATE TABLE half (a INTEGER);
CREATE TABLE other (b INTEGER);
INSERT INTO nope VALUES (1);
"""
HALF_DOWN = "DROP TABLE other;\nDROP TABLE half;"


def assert_needs_attention(project: Project, migration_id: str, when: str) -> None:
    st = status(project)
    listed = [e["migration_id"] for e in st["needs_attention"]]
    assert listed == [migration_id], (
        f"{when}: `mig status --json` should list {migration_id} under needs_attention,"
        f" lists {listed}"
    )
    code, text = check(project)
    assert code == 4 and migration_id in text, (
        f"{when}: `mig check` should exit 4 naming {migration_id}; exited {code}: {text}"
    )


def test_failed_retry_keeps_needs_attention(mig_project: Project) -> None:
    """Report: a ``@transactional: false`` migration failed after two statements committed
    (needs attention); the retry failed at once on ``table half already exists``, and that
    failed retry cleared "needs attention" although ``half`` and ``other`` were still
    there."""
    project = mig_project
    project.write_migration("001_h", HALF_UP, HALF_DOWN, {"transactional": False})
    code, _, err = project.run("up")
    assert code == 1 and "no such table: nope" in err, err
    assert {"half", "other"} <= project.tables()
    assert_needs_attention(project, "001_h", "after the first failure")

    # The author fixes the last statement and retries; the leftovers stop it at statement 1.
    project.write_migration("001_h", HALF_UP.replace("nope", "other"), HALF_DOWN,
                            {"transactional": False})
    code, _, err = project.run("up")
    assert code == 1 and "half already exists" in err, err
    assert {"half", "other"} <= project.tables()
    assert_needs_attention(project, "001_h", "after a retry that failed on the leftovers")

    # Only a successful apply clears it: the operator removes the leftovers, the retry works.
    conn = sqlite3.connect(project.db_path)
    conn.executescript("DROP TABLE half; DROP TABLE other;")
    conn.close()
    project.ok("up")
    st = status(project)
    assert st["applied"] == ["001_h"] and st["needs_attention"] == [], st
    code, text = check(project)
    assert code == 0, text


SLOW_HALF = """\
CREATE TABLE half (a INTEGER);
CREATE TABLE big AS
    WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c LIMIT {rows})
    SELECT x FROM c;
"""


@pytest.mark.slow
def test_retry_after_a_kill_keeps_needs_attention(mig_project: Project) -> None:
    """The same with the first attempt SIGKILLed between statements: ``half`` committed,
    the slow second statement cut off. The retry fails on ``table half already exists``;
    the migration must still need attention until an apply succeeds."""
    project = mig_project
    project.write_migration("001_h", SLOW_HALF.format(rows=4_000_000),
                            "DROP TABLE big;\nDROP TABLE half;", {"transactional": False})
    proc = project.popen("up")
    try:
        deadline = time.monotonic() + 30
        # The file grows past 4 MB once the second statement spills rows to disk.
        while proc.poll() is None and not (
            project.db_path.exists() and project.db_path.stat().st_size > 4_000_000
        ):
            assert time.monotonic() < deadline, "the slow statement never started writing"
            time.sleep(0.005)
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=10)
    finally:
        if proc.poll() is None:
            proc.kill()
        proc.communicate()
    assert proc.returncode == -signal.SIGKILL, "mig up ended before it could be killed"
    # Open for writing once, as the next mig would: SQLite rolls the hot journal back.
    conn = sqlite3.connect(project.db_path)
    conn.execute("SELECT count(*) FROM sqlite_master").fetchall()
    conn.close()
    assert "half" in project.tables() and "big" not in project.tables()
    assert_needs_attention(project, "001_h", "after the kill")

    code, _, err = project.run("up")
    assert code == 1 and "half already exists" in err, err
    assert "half" in project.tables()
    assert_needs_attention(project, "001_h", "after a retry that failed on the leftover")

    conn = sqlite3.connect(project.db_path)
    conn.execute("DROP TABLE half")
    conn.close()
    # Smaller, so the successful retry is quick (a failed migration's file may change).
    project.write_migration("001_h", SLOW_HALF.format(rows=10),
                            "DROP TABLE big;\nDROP TABLE half;", {"transactional": False})
    project.ok("up")
    st = status(project)
    assert st["applied"] == ["001_h"] and st["needs_attention"] == [], st
    code, text = check(project)
    assert code == 0, text


# -- a ledger written by an older mig -----------------------------------------------------------


def test_a_ledger_from_before_the_schema_record_is_upgraded_in_place(mig_project: Project) -> None:
    """Databases migrated by a mig without the schema record (no ``schema_snapshots`` table,
    no ``schema_hash`` column) keep working: reads see them as they are, and the first command
    that writes adds what is missing without losing a row."""
    mig_project.table_migration("001", "a")
    mig_project.table_migration("002", "b")
    mig_project.ok("up", "001")
    conn = sqlite3.connect(mig_project.db_path)
    with conn:
        conn.execute("DROP TABLE mig_schema_snapshots")
        conn.execute("ALTER TABLE mig_migration_executions DROP COLUMN schema_hash")
    conn.close()
    st = json.loads(mig_project.ok("status", "--json"))
    assert st["applied"] == ["001_create_a"] and st["schema_changed_outside_mig"] == []
    assert mig_project.run("check").code == 0
    mig_project.ok("up")
    assert "mig_schema_snapshots" in mig_project.tables()
    assert mig_project.applied() == ["001_create_a", "002_create_b"]
    [last] = [r for r in mig_project.executions() if r["migration_id"] == "002_create_b"]
    assert last["schema_hash"]
    assert mig_project.run("check").code == 0
