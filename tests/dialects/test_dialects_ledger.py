"""The ledger never lies (SPEC §10), checked on every dialect: SQLite, PostgreSQL and
MariaDB/MySQL. End-to-end reproductions of reported bugs where ``mig status`` / ``history`` /
``check`` disagreed with the database after a restore, or a failure inside a migration's own
transaction hid the real error. The SQLite-only ones are in ``tests/test_ledger_rules.py``.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from dialect_targets import DialectTarget
from mig.testing import Project


def status(project: Project) -> dict:
    return json.loads(project.ok("status", "--json"))


def history(project: Project) -> list[dict]:
    return json.loads(project.ok("history", "--json"))


def apply_rows(project: Project, migration_id: str) -> list[dict]:
    return [h for h in history(project)
            if h["migration_id"] == migration_id and h["operation"] == "apply"]


def check(project: Project) -> tuple[int, str]:
    code, out, err = project.run("check")
    return code, out + err


# -- 1. a rollback after a restore ----------------------------------------------------------------


def test_rollback_after_a_restore_really_rolls_back(dialect: DialectTarget, tmp_path: Path) -> None:
    """Report: ``up; B=backup create; down; backup restore B; down`` printed "rolled back
    002_b" and exited 0, but t2 was still there (the rollback restored B, which 002_b's in-effect
    execution had been given as its backup), status said 002 while mig_schema_version said
    001, and check found nothing."""
    project = dialect.project(tmp_path / "p", backup="full")
    project.write_config(project.config_path.read_text() + 'rollback = "auto"\n')
    project.write_migration("001_a", "CREATE TABLE t1 (a INTEGER);", "DROP TABLE t1;")
    project.write_migration("002_b", "CREATE TABLE t2 (a INTEGER);", None,
                            {"dependencies": ["001_a"], "reversible": False})
    project.ok("up")
    [original] = apply_rows(project, "002_b")
    pre_migration_backup = original["backup_id"]
    assert pre_migration_backup, "002_b should have been given a pre-migration backup"

    backup_id = project.ok("backup", "create").strip()
    project.ok("down", "--yes")
    assert dialect.user_tables() == {"t1"}
    project.ok("backup", "restore", backup_id, "--yes")
    assert dialect.user_tables() == {"t1", "t2"}
    st = status(project)
    assert sorted(st["applied"]) == ["001_a", "002_b"], st
    in_effect = [h for h in apply_rows(project, "002_b") if h["status"] == "COMPLETED"]
    assert len(in_effect) == 1, f"002_b should have one execution in effect: {in_effect}"
    assert in_effect[0]["backup_id"] == pre_migration_backup, (
        f"after restoring {backup_id}, 002_b's execution in effect should carry its own"
        f" pre-migration backup {pre_migration_backup}, not {in_effect[0]['backup_id']}"
        " (the restored backup was taken after 002_b ran)"
    )

    code, out, err = project.run("down", "--yes")
    assert code == 0, err
    assert "002_b" in out, out
    assert dialect.user_tables() == {"t1"}, (
        f"`mig down` said it rolled back 002_b, but the tables are {dialect.user_tables()}"
    )
    st = status(project)
    assert st["applied"] == ["001_a"], st
    assert st["pending"] == ["002_b"], st
    assert st["current_version"] == "001", st
    assert dialect.current_version() == "001"
    code, text = check(project)
    assert code == 0, f"`mig check` exited {code}: {text}"


# -- 4. a failure inside a migration's own transaction --------------------------------------------

OWN_TRANSACTION = "BEGIN;\nUPDATE t SET x = no_such_fn(x);\nCOMMIT;"
FIXED = OWN_TRANSACTION.replace("no_such_fn(x)", "x + 1")
UNDO = "BEGIN;\nUPDATE t SET x = x - 1;\nCOMMIT;"
#: What each database says about the missing function (MySQL names the database before it).
NO_SUCH_FN = {
    "sqlite": "no such function: no_such_fn",
    "postgres": "function no_such_fn(integer) does not exist",
    "mysql": "no_such_fn does not exist",
}


@pytest.mark.parametrize("backup", ["none", "full"])
def test_failure_inside_the_migrations_own_transaction(
    dialect: DialectTarget, tmp_path: Path, backup: str
) -> None:
    """Report: a ``@transactional: false`` migration running ``BEGIN; <failing UPDATE>;
    COMMIT;`` ended with "cannot start a transaction within a transaction" (SQLite) or
    InFailedSqlTransaction (PostgreSQL), the execution stayed RUNNING with no message, and with
    ``backup = "full"`` PostgreSQL's automatic restore crashed too."""
    project = dialect.project(tmp_path / "p", backup=backup)
    project.write_migration("001_a", "CREATE TABLE t (x INTEGER);\nINSERT INTO t VALUES (1);",
                            "DROP TABLE t;")
    project.write_migration("002_b", OWN_TRANSACTION, UNDO, {"transactional": False})
    code, out, err = project.run("up")
    expected = NO_SUCH_FN[dialect.name]
    assert code == 1, (code, out, err)
    assert "Traceback" not in err
    assert expected in err + out, (
        f"`mig up` should name the database's error ({expected!r}); it said: {err.strip()}"
    )

    rows = apply_rows(project, "002_b")
    assert [r["status"] for r in rows] == ["FAILED"], (
        f"002_b's execution should be recorded FAILED, `mig history --json` has {rows}"
    )
    assert expected in (rows[0]["error_message"] or ""), (
        f"the FAILED execution should carry the database's error, has"
        f" {rows[0]['error_message']!r}"
    )
    assert dialect.rows("t") == [(1,)], "the failed UPDATE must leave t as it was"
    st = status(project)
    assert st["applied"] == ["001_a"] and st["failed"] == ["002_b"], st
    if backup == "full":
        assert st["needs_attention"] == [], st

    # No transaction was left open: once fixed, the migration applies and rolls back.
    project.write_migration("002_b", FIXED, UNDO, {"transactional": False})
    code, out, err = project.run("up")
    assert code == 0, f"`mig up` of the fixed migration failed: {err}"
    assert dialect.rows("t") == [(2,)]
    code, out, err = project.run("down", "--yes")
    assert code == 0, f"`mig down` after the fixed migration failed: {err}"
    assert dialect.rows("t") == [(1,)]
    assert status(project)["applied"] == ["001_a"]


# -- 5. a failed retry must not clear "needs attention" -------------------------------------------

HALF_UP = """\
CREATE TABLE half (a INTEGER);
CREATE TABLE other (b INTEGER);
INSERT INTO nope VALUES (1);
"""
HALF_DOWN = "DROP TABLE other;\nDROP TABLE half;"


def assert_needs_attention(project: Project, migration_id: str, when: str) -> None:
    listed = [e["migration_id"] for e in status(project)["needs_attention"]]
    assert listed == [migration_id], (
        f"{when}: `mig status --json` should list {migration_id} under needs_attention,"
        f" lists {listed}"
    )
    code, text = check(project)
    assert code == 4 and migration_id in text, (
        f"{when}: `mig check` should exit 4 naming {migration_id}; exited {code}: {text}"
    )


def test_failed_retry_keeps_needs_attention(dialect: DialectTarget, tmp_path: Path) -> None:
    """Report: a ``@transactional: false`` migration (any migration on MySQL) failed with two
    statements committed and no backup; the retry failed at once because ``half`` already
    existed, and that failed retry cleared "needs attention" with ``half`` still there."""
    project = dialect.project(tmp_path / "p")
    project.write_migration("001_h", HALF_UP, HALF_DOWN, {"transactional": False})
    code, _, err = project.run("up")
    assert code == 1 and "nope" in err, err
    assert dialect.user_tables() == {"half", "other"}
    assert_needs_attention(project, "001_h", "after the first failure")

    project.write_migration("001_h", HALF_UP.replace("nope", "other"), HALF_DOWN,
                            {"transactional": False})
    code, _, err = project.run("up")
    assert code == 1 and "half" in err and "already exists" in err, err
    assert dialect.user_tables() == {"half", "other"}
    assert_needs_attention(project, "001_h", "after a retry that failed on the leftovers")

    dialect.execute("DROP TABLE other", "DROP TABLE half")
    project.ok("up")
    st = status(project)
    assert st["applied"] == ["001_h"] and st["needs_attention"] == [], st
    code, text = check(project)
    assert code == 0, text


# -- the schema record ------------------------------------------------------------------------


HAND_CHANGES = {
    "sqlite": ["ALTER TABLE users ADD COLUMN nickname TEXT",
               "CREATE INDEX ix_by_hand ON orders (status)"],
    "postgres": ["ALTER TABLE users ADD COLUMN nickname TEXT",
                 "CREATE INDEX ix_by_hand ON orders (status)",
                 "ALTER TABLE users ADD CONSTRAINT ck_by_hand CHECK (length(email) > 3)"],
    "mysql": ["ALTER TABLE users ADD COLUMN nickname TEXT",
              "CREATE INDEX ix_by_hand ON orders (status)",
              "ALTER TABLE users ADD CONSTRAINT ck_by_hand CHECK (length(email) > 3)"],
}


def test_check_names_what_changed_outside_mig(dialect: DialectTarget, tmp_path: Path) -> None:
    """``mig check`` compares the live schema with the one recorded after mig's last command
    and names each object changed by hand (exit 4); ``status`` says so too; a rollback, which
    records the schema again, leaves nothing to report."""
    project = dialect.project(tmp_path / "p", example=True)
    project.ok("up")
    assert check(project)[0] == 0
    assert status(project)["schema_changed_outside_mig"] == []
    dialect.execute(*HAND_CHANGES[dialect.name])
    code, out = check(project)
    assert code == 4, out
    assert "table users: column nickname added" in out
    assert "index ix_by_hand added" in out or "index orders.ix_by_hand added" in out
    if dialect.name != "sqlite":
        assert "ck_by_hand" in out or "check" in out
    changed = status(project)["schema_changed_outside_mig"]
    assert any("nickname" in line for line in changed)
    assert "SCHEMA CHANGED OUTSIDE MIG" in project.ok("status")
    dialect.execute("DROP INDEX ix_by_hand" + (" ON orders" if dialect.name == "mysql" else ""))
    assert "ix_by_hand" not in check(project)[1]
