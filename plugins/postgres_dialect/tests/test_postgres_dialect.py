"""The connection, transactions, schemas and the bookkeeping tables on a real server."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import psycopg
import pytest
from mig import DatabaseError
from mig.ledger import Ledger, RestoreCause, now, undo_record
from mig.models import Migration, MigrationExecution, MigrationStatus, Operation
from mig_postgres import PostgresDialect
from postgres_server import admin, url_of


def make(url: str, **options: object) -> PostgresDialect:
    return PostgresDialect(url, base_dir=Path("."), options=options)


# -- connecting ---------------------------------------------------------------------------------


def test_refused_connection_is_one_line_without_the_password() -> None:
    dialect = make("postgresql://postgres:hunter22pw@127.0.0.1:1/test")
    with pytest.raises(DatabaseError) as info:
        dialect.connect()
    message = str(info.value)
    assert message.startswith("cannot connect to postgresql://postgres:***@127.0.0.1:1/test: ")
    assert "Connection refused" in message
    assert "hunter22pw" not in message and "\n" not in message
    assert info.value.exit_code == 2


def test_bad_credentials(pg_url: str) -> None:
    url = pg_url.replace("://postgres@", "://nobody_at_all:hunter22pw@")
    admin().close()  # skips when the server is unreachable
    with pytest.raises(DatabaseError) as info:
        make(url).connect()
    message = str(info.value)
    assert "nobody_at_all" in message and "hunter22pw" not in message and "\n" not in message
    with pytest.raises(DatabaseError):
        make(url).exists()


def test_cli_error_is_one_line_without_the_password(tmp_path: Path) -> None:
    url = "postgresql://postgres:hunter22pw@127.0.0.1:1/test"
    (tmp_path / "migrations").mkdir()
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
    maintenance.execute(f'DROP DATABASE IF EXISTS "{name}"')
    dialect = make(url_of(name))
    assert dialect.exists() is False
    with pytest.raises(DatabaseError) as info:
        dialect.connect()
    assert f"database '{name}' does not exist" in str(info.value)
    assert f'CREATE DATABASE "{name}"' in str(info.value)
    assert maintenance.query("SELECT 1 FROM pg_database WHERE datname = %s", (name,)) == []
    maintenance.close()


def test_exists(pg_url: str) -> None:
    assert make(pg_url).exists() is True


# -- schemas ------------------------------------------------------------------------------------


def test_schema_is_created_on_write_only_and_isolates(database: str) -> None:
    url = url_of(database, "schema=App Data")
    dialect = make(url)
    assert dialect.exists() is False  # the database is there, the schema is not
    dialect.connect(readonly=True)
    assert dialect.table_names() == []
    dialect.close()
    assert dialect.exists() is False  # a read-only connect created nothing
    dialect.connect()
    assert dialect.exists() is True
    dialect.execute("CREATE TABLE t (x INTEGER)")
    assert dialect.query("SELECT current_schema()") == [("App Data",)]
    assert dialect.table_names() == ["t"]
    dialect.close()
    # Another schema of the same database sees none of it.
    other = make(url_of(database), schema="other")
    other.connect()
    assert other.table_names() == []
    with pytest.raises(psycopg.errors.UndefinedTable):
        other.query("SELECT * FROM t")
    other.close()
    public = make(url_of(database))
    public.connect()
    assert public.table_names() == []
    assert public.query('SELECT count(*) FROM "App Data".t') == [(0,)]
    public.close()


def test_read_only_connection_refuses_writes(pg: PostgresDialect, pg_url: str) -> None:
    pg.execute("CREATE TABLE t (x INTEGER)")
    reader = make(pg_url)
    reader.connect(readonly=True)
    try:
        assert reader.query("SELECT count(*) FROM t") == [(0,)]
        with pytest.raises(psycopg.errors.ReadOnlySqlTransaction):
            reader.execute("INSERT INTO t VALUES (1)")
        with pytest.raises(psycopg.errors.ReadOnlySqlTransaction):
            reader.execute("CREATE TABLE u (x INTEGER)")
    finally:
        reader.close()


# -- statements and transactions ----------------------------------------------------------------


def test_percent_signs(pg: PostgresDialect) -> None:
    # Without parameters SQL runs as written; with them, "%%" is a literal "%".
    assert pg.query("SELECT '100%', 'a%%b'") == [("100%", "a%%b")]
    assert pg.query("SELECT '100%%', %s", ("x",)) == [("100%", "x")]
    pg.execute("CREATE TABLE t (s TEXT CHECK (s LIKE '%@%'))")


def test_query_of_a_statement_without_rows(pg: PostgresDialect) -> None:
    assert pg.query("CREATE TABLE t (x INTEGER)") == []
    pg.executemany("INSERT INTO t VALUES (%s)", [(1,), (2,)])
    assert pg.query("SELECT x FROM t ORDER BY x") == [(1,), (2,)]


def test_transactions(pg: PostgresDialect) -> None:
    assert not pg.in_transaction
    pg.begin()
    assert pg.in_transaction
    pg.execute("CREATE TABLE t (x INTEGER)")
    pg.rollback()
    assert not pg.in_transaction
    assert pg.table_names() == []  # DDL rolled back with its transaction
    pg.rollback()  # nothing open: fine
    with pytest.raises(DatabaseError, match="no transaction is open"):
        pg.commit()
    pg.begin()
    pg.execute("CREATE TABLE t (x INTEGER)")
    pg.commit()
    assert pg.table_names() == ["t"]


def test_commit_after_an_error_says_it_rolled_back(pg: PostgresDialect) -> None:
    pg.execute("CREATE TABLE t (x INTEGER)")
    pg.begin()
    pg.execute("INSERT INTO t VALUES (1)")
    with pytest.raises(psycopg.Error):
        pg.execute("INSERT INTO nope VALUES (1)")
    with pytest.raises(DatabaseError, match="aborted by an earlier error"):
        pg.commit()
    assert not pg.in_transaction
    assert pg.query("SELECT count(*) FROM t") == [(0,)]


def test_not_connected() -> None:
    dialect = make("postgresql://127.0.0.1/x")
    with pytest.raises(DatabaseError, match="not connected"):
        dialect.execute("SELECT 1")
    with pytest.raises(DatabaseError, match="not connected"):
        dialect.commit()
    assert dialect.in_transaction is False
    dialect.close()


def test_table_names_include_partitioned_tables(pg: PostgresDialect) -> None:
    pg.execute("CREATE TABLE p (x INTEGER) PARTITION BY RANGE (x)")
    pg.execute("CREATE TABLE p1 PARTITION OF p FOR VALUES FROM (0) TO (10)")
    pg.execute("CREATE VIEW v AS SELECT 1 AS one")
    assert pg.table_names() == ["p", "p1"]


# -- the bookkeeping tables ---------------------------------------------------------------------


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


def test_bookkeeping_round_trips(pg: PostgresDialect) -> None:
    ledger = Ledger(pg, "mig_")
    ledger.ensure()
    ledger.ensure()  # idempotent
    assert ledger.exists()
    types = dict(pg.query(
        "SELECT column_name, data_type FROM information_schema.columns"
        " WHERE table_name = 'mig_migration_executions'"
    ))
    assert types["started_at"] == "timestamp with time zone"
    assert types["rollback_available"] == "smallint" and types["seq"] == "bigint"
    first = execution(1, error_message="naïve 100% ☃ ' \" ;")
    second = execution(2, rollback_available=False, operation=Operation.APPLY)
    applied(ledger, pg, first, second)
    ledger.forget()
    assert ledger.in_effect() == [first, second]  # timestamps come back exactly as written
    assert ledger.current_version() == "002"
    assert ledger.get_execution("e1") == first
    undo_and_restore(ledger, second)
    assert [e.execution_id for e in ledger.in_effect()] == ["e1", "e2"]
    assert ledger.get_execution("e1") == first  # every value survived the restore
    assert ledger.executions(limit=1)[0].execution_id == "e9"


def test_bookkeeping_reads_utc_whatever_the_session_time_zone(pg: PostgresDialect) -> None:
    ledger = Ledger(pg, "mig_")
    ledger.ensure()
    pg.execute("SET TIME ZONE 'Asia/Kolkata'")
    ex = execution(1)
    applied(ledger, pg, ex)
    ledger.forget()
    assert ledger.in_effect()[0].started_at == ex.started_at
    assert ex.started_at.endswith("+00:00")
