"""A failing statement, --atomic runs and --dry-run."""

from __future__ import annotations

import json

import pytest
from mig.testing import Project

FOUR_STATEMENTS = """\
CREATE TABLE part_one (id INTEGER PRIMARY KEY);
CREATE TABLE part_two (id INTEGER PRIMARY KEY);
INSERT INTO no_such_table VALUES (1);
CREATE TABLE part_four (id INTEGER PRIMARY KEY);
"""


def test_a_statement_failing_halfway_rolls_the_migration_back(mig_project: Project) -> None:
    mig_project.table_migration("001", "before")
    mig_project.write_migration("002_halfway", FOUR_STATEMENTS,
                                "DROP TABLE part_four; DROP TABLE part_two; DROP TABLE part_one;")
    mig_project.table_migration("003", "after")
    code, out, err = mig_project.run("up")
    assert code == 1
    assert "Traceback" not in err
    assert "002_halfway" in err and "no such table: no_such_table" in err
    assert "002_halfway.sql:" in err  # the statement's file and line
    tables = mig_project.tables()
    assert "before" in tables
    assert not tables & {"part_one", "part_two", "part_four", "after"}
    failed = mig_project.executions("002_halfway")
    assert len(failed) == 1
    assert failed[0]["status"] == "FAILED"
    assert "no such table: no_such_table" in failed[0]["error_message"]
    assert mig_project.executions("003_create_after") == []
    assert mig_project.query("SELECT current_version FROM mig_schema_version") == [("001",)]
    status = json.loads(mig_project.run("status", "--json").out)
    assert status["failed"] == ["002_halfway"]
    assert status["pending"] == ["002_halfway", "003_create_after"]
    assert status["needs_attention"] == []
    history = json.loads(mig_project.run("history", "--json").out)
    assert history[0]["status"] == "FAILED" and history[0]["migration_id"] == "002_halfway"
    # Fixed, it applies on the next run.
    mig_project.write_migration("002_halfway", FOUR_STATEMENTS.replace("no_such_table", "part_one"),
                                "DROP TABLE part_four; DROP TABLE part_two; DROP TABLE part_one;")
    code, _, err = mig_project.run("up")
    assert code == 0, err
    assert {"part_one", "part_two", "part_four", "after"} <= mig_project.tables()
    assert json.loads(mig_project.run("status", "--json").out)["failed"] == []


def test_atomic_run_is_all_or_nothing(mig_project: Project) -> None:
    mig_project.table_migration("001", "a")
    mig_project.table_migration("002", "b")
    mig_project.write_migration("003_bad", "CREATE TABLE c (id INTEGER);\nSELECT nope FROM b;",
                                "DROP TABLE c;")
    mig_project.table_migration("004", "d")
    code, _, err = mig_project.run("up", "--atomic")
    assert code == 1
    assert "003_bad" in err and "no such column: nope" in err
    assert not mig_project.tables() & {"a", "b", "c", "d"}
    rows = mig_project.executions()
    assert {r["migration_id"]: r["status"] for r in rows} == {
        "001_create_a": "ROLLED_BACK", "002_create_b": "ROLLED_BACK", "003_bad": "FAILED",
    }
    assert mig_project.query("SELECT current_version FROM mig_schema_version") == [("",)]
    status = json.loads(mig_project.run("status", "--json").out)
    assert status["applied"] == [] and status["current_version"] is None
    # Without --atomic the first two go in and the run stops at the third.
    code, _, _ = mig_project.run("up")
    assert code == 1
    assert {"a", "b"} <= mig_project.tables() and not mig_project.tables() & {"c", "d"}


def test_atomic_success(mig_project: Project) -> None:
    for i, t in enumerate("abc", start=1):
        mig_project.table_migration(f"00{i}", t)
    code, out, err = mig_project.run("up", "--atomic")
    assert code == 0, err
    assert {"a", "b", "c"} <= mig_project.tables()
    assert "version 003" in out


def test_atomic_run_takes_one_backup_first_and_restores_from_it(mig_project: Project) -> None:
    """With backups on, an --atomic run takes one backup before its transaction opens,
    records it on the first execution, and a rollback by restore of that execution takes the
    database back to before the whole run."""
    mig_project.write_config(backup="full")
    for i, t in enumerate("abc", start=1):
        mig_project.table_migration(f"00{i}", t)
    code, out, err = mig_project.run("up", "--atomic")
    assert code == 0, err
    applies = [r for r in mig_project.executions() if r["operation"] == "apply"]
    assert applies[0]["backup_id"] and not any(r["backup_id"] for r in applies[1:])
    assert len(json.loads(mig_project.ok("backup", "list", "--json"))) == 1
    code, _, err = mig_project.run("rollback", applies[0]["execution_id"], "--method",
                                   "restore", "--yes")
    assert code == 0, err
    assert not {"a", "b", "c"} & mig_project.tables()
    assert mig_project.applied() == []


def test_dry_run_on_a_fresh_project_creates_nothing(example_project: Project) -> None:
    code, out, err = example_project.run("up", "--dry-run")
    assert code == 0, err
    assert "CREATE TABLE users" in out and "5 migration(s) would be applied" in out
    assert not example_project.db_path.exists()
    assert not (example_project.path / "app.db.miglock").exists()
    assert sorted(p.name for p in example_project.path.iterdir()) == ["mig.toml", "migrations"]
    code, out, _ = example_project.run("down", "--dry-run")
    assert code == 0
    assert not example_project.db_path.exists()


def test_dry_run_leaves_an_existing_database_byte_for_byte(example_project: Project) -> None:
    example_project.migrate("002")
    before = example_project.db_path.read_bytes()
    mtime = example_project.db_path.stat().st_mtime_ns
    code, out, _ = example_project.run("up", "--dry-run")
    assert code == 0
    assert "would apply 003_create_orders_table" in out
    assert "would apply 002" not in out
    code, out, _ = example_project.run("down", "--all", "--dry-run")
    assert code == 0
    assert "would roll back 002_create_portfolio_table" in out
    assert example_project.db_path.read_bytes() == before
    assert example_project.db_path.stat().st_mtime_ns == mtime
    assert sorted(p.name for p in example_project.path.iterdir()) == [
        "app.db", "app.db.miglock", "mig.toml", "migrations"
    ]


def test_non_transactional_failure_without_backup_needs_attention(mig_project: Project) -> None:
    mig_project.write_migration(
        "001_outside",
        FOUR_STATEMENTS,
        "DROP TABLE IF EXISTS part_four; DROP TABLE part_two; DROP TABLE part_one;",
        {"transactional": False},
    )
    code, _, err = mig_project.run("up")
    assert code == 1
    lines = err.strip().splitlines()
    assert len(lines) == 1 and "2 statement(s) had committed" in lines[0]
    # What ran before the failure stays: nothing could undo it.
    assert {"part_one", "part_two"} <= mig_project.tables()
    row = mig_project.executions("001_outside")[0]
    assert (row["status"], row["statements_committed"]) == ("FAILED", 2)
    assert "no such table" in row["error_message"]
    status = json.loads(mig_project.ok("status", "--json"))
    assert [e["migration_id"] for e in status["needs_attention"]] == ["001_outside"]
    assert "NEEDS ATTENTION" in mig_project.ok("status")
    code, out, _ = mig_project.run("check")
    assert code == 4 and "001_outside" in out


def test_non_transactional_success(mig_project: Project) -> None:
    mig_project.write_migration("001_outside", "CREATE TABLE a (id INTEGER);\nVACUUM;",
                                "DROP TABLE a;", {"transactional": False})
    mig_project.migrate()
    rows = mig_project.executions("001_outside")
    assert [(r["status"], r["statements_committed"]) for r in rows] == [("COMPLETED", 2)]
    mig_project.ok("down")
    assert "a" not in mig_project.tables()


def test_transaction_control_is_refused_in_a_transactional_migration(mig_project: Project) -> None:
    mig_project.write_migration("001_commits", "CREATE TABLE a (id INTEGER);\nCOMMIT;",
                                "DROP TABLE a;")
    code, _, err = mig_project.run("up")
    assert code == 1 and "transactional" in err
    assert "a" not in mig_project.tables()


def test_a_failing_down_leaves_the_migration_applied(mig_project: Project) -> None:
    mig_project.write_migration("001_a", "CREATE TABLE a (id INTEGER);",
                                "DROP TABLE a;\nDROP TABLE not_there;")
    mig_project.migrate()
    code, _, err = mig_project.run("down")
    assert code == 1 and "not_there" in err and "Traceback" not in err
    assert "a" in mig_project.tables()
    rows = mig_project.executions("001_a")
    assert [(r["operation"], r["status"]) for r in rows] == [
        ("apply", "COMPLETED"), ("rollback", "FAILED")
    ]
    assert json.loads(mig_project.ok("status", "--json"))["applied"] == ["001_a"]


def test_an_applied_migration_whose_file_is_gone(mig_project: Project) -> None:
    mig_project.table_migration("001", "a")
    path = mig_project.table_migration("002", "b", deps=["001_create_a"])
    mig_project.migrate()
    path.unlink()
    status = json.loads(mig_project.ok("status", "--json"))
    assert status["missing"] == ["002_create_b"] and status["current_version"] == "002"
    code, out, _ = mig_project.run("check")
    assert code == 4 and "002_create_b" in out
    # Its dependents are known from the bookkeeping tables, and so is its DOWN.
    code, _, err = mig_project.run("rollback", mig_project.executions("001_create_a")[0]
                                   ["execution_id"])
    assert code == 1 and "002_create_b" in err
    mig_project.ok("down")
    assert "b" not in mig_project.tables()
    assert json.loads(mig_project.ok("status", "--json"))["missing"] == []


def test_rollback_of_a_drifted_migration_runs_the_down_it_was_applied_with(
    mig_project: Project,
) -> None:
    path = mig_project.table_migration("001", "a")
    mig_project.migrate()
    path.write_text(path.read_text().replace("DROP TABLE a;", "DROP TABLE somewhere_else;"))
    mig_project.ok("down")
    assert "a" not in mig_project.tables()


def test_non_transactional_failure_is_restored_from_its_backup(mig_project: Project) -> None:
    pytest.importorskip("mig_backup_full")
    pytest.importorskip("mig_storage_local")
    mig_project.write_config(backup="full")
    mig_project.write_migration("001_a", "CREATE TABLE a (id INTEGER);\nINSERT INTO a VALUES (1);",
                                "DROP TABLE a;")
    mig_project.write_migration(
        "002_outside",
        "CREATE TABLE b (id INTEGER);\nINSERT INTO a VALUES (2);\nINSERT INTO nope VALUES (1);",
        "DROP TABLE b;",
        {"transactional": False},
    )
    code, _, err = mig_project.run("up")
    assert code == 1 and "restored from backup" in err
    assert mig_project.query("SELECT id FROM a") == [(1,)]
    assert "b" not in mig_project.tables()
    row = mig_project.executions("002_outside")
    assert [(r["operation"], r["status"]) for r in row] == [
        ("apply", "FAILED"), ("restore", "COMPLETED")
    ]
    status = json.loads(mig_project.ok("status", "--json"))
    assert status["applied"] == ["001_a"] and status["needs_attention"] == []
    assert mig_project.run("check").code == 0


def test_status_of_a_failure_without_a_message_says_so(mig_project: Project) -> None:
    """A failed row with no error text (written by a process that died, or by another tool)
    reads as such in `mig status`, not as "None"."""
    import sqlite3

    mig_project.write_migration("001_bad", "INSERT INTO nowhere VALUES (1);", "SELECT 1;")
    assert mig_project.run("up")[0] == 1
    with sqlite3.connect(mig_project.db_path) as conn:
        conn.execute("UPDATE mig_migration_executions SET error_message = NULL"
                     " WHERE status = 'FAILED'")
    conn.close()
    code, out, err = mig_project.run("status")
    assert "001_bad: (no error message was recorded)" in out, out + err
    assert "None" not in out
