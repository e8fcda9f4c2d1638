"""The connection, transactions and the bookkeeping tables on a real server."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pymysql
import pytest
from mig import DatabaseError
from mig.ledger import Ledger, RestoreCause, now, undo_record
from mig.models import Migration, MigrationExecution, MigrationStatus, Operation
from mig_mysql import MySQLDialect
from mysql_server import admin, url_of


def make(url: str) -> MySQLDialect:
    return MySQLDialect(url, base_dir=Path("."), options={})


def test_refused_connection_is_one_line_without_the_password() -> None:
    with pytest.raises(DatabaseError) as info:
        make("mysql://root:hunter22pw@127.0.0.1:1/test").connect()
    message = str(info.value)
    assert message.startswith("cannot connect to mysql://root:***@127.0.0.1:1/test: ")
    assert "Connection refused" in message and "(error 2003)" in message
    assert "hunter22pw" not in message and "\n" not in message
    assert info.value.exit_code == 2


def test_bad_credentials(my_url: str) -> None:
    url = my_url.replace("://root@", "://nobody_at_all:hunter22pw@")
    with pytest.raises(DatabaseError) as info:
        make(url).connect()
    message = str(info.value)
    assert "Access denied for user 'nobody_at_all'" in message
    assert "hunter22pw" not in message and "\n" not in message
    with pytest.raises(DatabaseError):
        make(url).exists()


def test_cli_error_is_one_line_without_the_password(tmp_path: Path) -> None:
    (tmp_path / "migrations").mkdir()
    url = "mysql://root:hunter22pw@127.0.0.1:1/test"
    proc = subprocess.run(
        [sys.executable, "-c", "from mig.cli import main; main()", "--database", url, "up"],
        cwd=tmp_path, capture_output=True, text=True, timeout=60,
    )
    assert proc.returncode == 2
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("mig: error: cannot connect to ")
    assert "hunter22pw" not in proc.stderr + proc.stdout


def test_missing_database_is_not_created() -> None:
    maintenance = admin()
    name = "mig_test_never_created"
    maintenance.execute(f"DROP DATABASE IF EXISTS `{name}`")
    dialect = make(url_of(name))
    assert dialect.exists() is False
    with pytest.raises(DatabaseError) as info:
        dialect.connect()
    assert f"database '{name}' does not exist" in str(info.value)
    assert maintenance.query(
        "SELECT 1 FROM information_schema.SCHEMATA WHERE SCHEMA_NAME = %s", (name,)
    ) == []
    maintenance.close()


def test_exists(my_url: str) -> None:
    assert make(my_url).exists() is True


def test_read_only_connection_refuses_writes(my: MySQLDialect, my_url: str) -> None:
    my.execute("CREATE TABLE t (x INTEGER)")
    reader = make(my_url)
    reader.connect(readonly=True)
    try:
        assert reader.query("SELECT COUNT(*) FROM t") == [(0,)]
        for sql in ("INSERT INTO t VALUES (1)", "CREATE TABLE u (x INTEGER)"):
            with pytest.raises(pymysql.MySQLError, match="READ ONLY"):
                reader.execute(sql)
    finally:
        reader.close()
    assert my.table_names() == ["t"]


def test_percent_signs(my: MySQLDialect) -> None:
    assert my.query("SELECT '100%', 'a%%b'") == [("100%", "a%%b")]
    assert my.query("SELECT '100%%', %s", ("x",)) == [("100%", "x")]


def test_transactions_and_implicit_commits(my: MySQLDialect) -> None:
    my.execute("CREATE TABLE t (x INTEGER)")
    assert not my.in_transaction
    my.begin()
    assert my.in_transaction
    my.execute("INSERT INTO t VALUES (1)")
    my.rollback()
    assert my.query("SELECT COUNT(*) FROM t") == [(0,)]
    # DDL commits what came before it and ends the transaction: MySQL cannot roll it back.
    my.begin()
    my.execute("INSERT INTO t VALUES (2)")
    my.execute("CREATE TABLE u (x INTEGER)")
    assert not my.in_transaction
    my.rollback()
    my.commit()  # nothing open any more: not an error, as after History.ensure()'s DDL
    assert my.query("SELECT x FROM t") == [(2,)]
    assert my.table_names() == ["t", "u"]


def test_not_connected() -> None:
    dialect = make("mysql://127.0.0.1/x")
    with pytest.raises(DatabaseError, match="not connected"):
        dialect.execute("SELECT 1")
    assert dialect.in_transaction is False
    dialect.close()


def execution(i: int, **kw: object) -> MigrationExecution:
    return MigrationExecution(
        execution_id=f"e{i}", migration_id=f"00{i}_m", version=f"00{i}",
        status=MigrationStatus.COMPLETED, started_at=now(), completed_at=now(),
        checksum="c" * 64, checksum_version=1, execution_time=0.25, run_id="r", **kw,
    )


def migration(i: int) -> Migration:
    return Migration(id=f"00{i}_m", version=f"00{i}", name="m", path=Path(f"00{i}_m.sql"),
                     up_sql="SELECT 1;", down_sql="", checksum="c" * 64, checksum_version=1)


def applied(ledger: Ledger, dialect: object, *executions: MigrationExecution) -> None:
    ledger.dialect.begin()
    for ex in executions:
        ledger.applied(ex, migration(int(ex.version)))
    ledger.dialect.commit()


def undo_and_restore(ledger: Ledger, ex: MigrationExecution) -> None:
    """Roll ``ex`` back, then put the rows back as a restore does: every value must survive
    the round trip through the dialect's column types."""
    rows = ledger.rows()
    ledger.dialect.begin()
    ledger.rolled_back(ex, undo_record(ex, "down", "r2"))
    ledger.dialect.commit()
    restore = execution(9, operation=Operation.RESTORE)
    ledger.dialect.begin()
    ledger.restored(restore, {e[0] for e in rows["migration_executions"]}, rows, RestoreCause())
    ledger.dialect.commit()
    ledger.forget()


def test_bookkeeping_round_trips(my: MySQLDialect) -> None:
    ledger = Ledger(my, "mig_")
    ledger.ensure()
    ledger.ensure()
    assert ledger.exists()
    first = execution(1, error_message="naïve 100% ☃ 🐬 ' \" ; " + "x" * 70000)
    second = execution(2, rollback_available=False)
    applied(ledger, my, first, second)
    ledger.forget()
    assert ledger.in_effect() == [first, second]
    assert ledger.current_version() == "002"
    assert ledger.get_execution("e1") == first
    undo_and_restore(ledger, second)
    assert [e.execution_id for e in ledger.in_effect()] == ["e1", "e2"]
    assert ledger.get_execution("e1") == first  # every value survived the restore
    # Keys compare exactly, as on the other dialects.
    with pytest.raises(Exception, match="no execution"):
        ledger.get_execution("E1")
