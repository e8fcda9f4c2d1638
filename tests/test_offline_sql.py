"""``mig up --sql`` / ``mig down --sql`` on SQLite: what the script may not do (write to the
database, take backups), what is refused, the Python API, and an older ledger's upgrade.
The round trips through each database's own client are in
tests/dialects/test_dialects_offline.py."""

from __future__ import annotations

import hashlib
import shutil
import sqlite3
import subprocess
from pathlib import Path

import pytest
from mig.errors import MigError
from mig.ledger import TABLES
from mig.testing import Project

pytestmark = pytest.mark.skipif(shutil.which("sqlite3") is None,
                                reason="the sqlite3 client is not installed")

IGNORED = {"execution_id", "run_id", "started_at", "completed_at", "created_at", "updated_at",
           "execution_time", "actor", "schema_hash", "rolled_back_by"}


def three(project: Project) -> None:
    project.table_migration("001", "a")
    project.table_migration("002", "b", ["001_create_a"])
    project.table_migration("003", "c", ["002_create_b"])


def digest(path: Path) -> tuple[str, int]:
    return hashlib.sha256(path.read_bytes()).hexdigest(), path.stat().st_mtime_ns


def apply(project: Project, script: str) -> None:
    done = subprocess.run(["sqlite3", "-bail", str(project.db_path)], input=script,
                          capture_output=True, text=True, timeout=30)
    assert done.returncode == 0, done.stderr


def ledger(project: Project) -> dict[str, list[tuple[object, ...]]]:
    out = {}
    for table, columns in TABLES.items():
        names = [c for c, _, _ in columns if c not in IGNORED]
        if table != "schema_snapshots":
            out[table] = sorted(project.query(f"SELECT {', '.join(names)} FROM mig_{table}"),
                                key=repr)
    return out


def test_up_sql_writes_nothing_and_takes_no_backup(mig_project: Project) -> None:
    three(mig_project)
    mig_project.ok("up", "001")
    mig_project.write_config(mig_project.config_path.read_text(), backup="full")
    shutil.rmtree(mig_project.path / "backups", ignore_errors=True)
    before = digest(mig_project.db_path)
    rows = mig_project.executions()

    code, out, err = mig_project.run("up", "--sql")
    assert code == 0, err
    assert "no backups" in out.lower().replace("\n-- ", " ") and "BEGIN;" in out
    assert "002_create_b" in out and "003_create_c" in out and "wrote the script" in err
    assert digest(mig_project.db_path) == before
    assert mig_project.executions() == rows
    assert not (mig_project.path / "backups").exists()
    # The rows name no backup, as with backup = "none".
    apply(mig_project, out)
    assert [r["backup_id"] for r in mig_project.executions()] == [None] * 3
    assert mig_project.ok("check").strip() == "no problems found"


def test_options_that_do_not_go_with_sql(mig_project: Project) -> None:
    three(mig_project)
    for args in (["up", "--sql", "--backup", "full"], ["up", "--sql", "--atomic"],
                 ["up", "--sql", "--json"], ["up", "--sql", "--dry-run"],
                 ["down", "--sql", "--json"]):
        code, out, err = mig_project.run(*args)
        assert (code, out) == (2, ""), args
        assert "--sql does not go with" in err
    assert not mig_project.db_path.exists()


def test_a_run_that_would_fail_writes_no_script(mig_project: Project) -> None:
    """The run loop refuses a COMMIT inside a transactional migration: so does the script."""
    three(mig_project)
    mig_project.write_migration("004_commits", "CREATE TABLE d (a INTEGER);\nCOMMIT;",
                                "DROP TABLE d;", {"dependencies": ["003_create_c"]})
    code, out, err = mig_project.run("up", "--sql")
    assert code == 1 and out == ""
    assert "004_commits would fail" in err and "no script was written" in err
    assert not mig_project.db_path.exists()


def test_python_api_and_an_older_ledger(mig_project: Project, tmp_path: Path) -> None:
    """A ledger written by an older mig lacks columns: the script adds them first, as
    `mig up` does (the same database upgraded online is the reference)."""
    three(mig_project)
    mig_project.ok("up", "001")
    conn = sqlite3.connect(mig_project.db_path)
    conn.execute("ALTER TABLE mig_migration_executions DROP COLUMN actor")
    conn.execute("ALTER TABLE mig_migration_executions DROP COLUMN schema_hash")
    conn.close()
    online = Project(tmp_path / "online")
    three(online)
    shutil.copy(mig_project.db_path, online.db_path)
    online.ok("up")

    with mig_project.engine() as engine:
        script = engine.up_sql()
    assert script.count("ALTER TABLE mig_migration_executions ADD COLUMN") == 2
    apply(mig_project, script)
    assert ledger(mig_project) == ledger(online)
    assert mig_project.applied() == online.applied()

    with mig_project.engine() as engine:
        down = engine.down_sql(steps=2)
        with pytest.raises(MigError) as refused:
            engine.down_sql(method="restore")
    assert refused.value.exit_code == 2
    assert "DROP TABLE c;" in down and "DROP TABLE b;" in down
    apply(mig_project, down)
    assert mig_project.applied() == ["001_create_a"]


def test_statement_ends_for_each_client(tmp_path: Path) -> None:
    """How a statement ends in a script: after a trailing comment on a line of its own; on
    MySQL a body holding ';' between DELIMITER lines, with a delimiter it does not hold."""
    from mig_mysql.dialect import MySQLDialect
    from mig_sqlite.dialect import SQLiteDialect

    sqlite = SQLiteDialect("sqlite:///app.db", base_dir=tmp_path, options={})
    assert sqlite.script_statement("SELECT 1 -- one\n") == "SELECT 1 -- one\n;\n"
    assert sqlite.script_statement("SELECT 1") == "SELECT 1;\n"
    assert sqlite.sql_literal("it's \\") == "'it''s \\'"
    assert [sqlite.sql_literal(v) for v in (None, True, 3, 0.5)] == ["NULL", "1", "3", "0.5"]
    mysql = MySQLDialect("mysql://root@127.0.0.1/x", base_dir=tmp_path, options={})
    assert mysql.script_statement("SELECT 1 # one") == "SELECT 1 # one\n;\n"
    body = "CREATE PROCEDURE p() BEGIN SELECT '//'; SELECT 2; END"
    assert mysql.script_statement(body) == f"DELIMITER $$\n{body}$$\nDELIMITER ;\n"
