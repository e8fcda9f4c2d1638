"""The executor: statements inside the engine's transaction, errors with where they happened."""

from __future__ import annotations

from pathlib import Path

import pytest
from mig import StatementFailed
from mig.models import Migration, Statement
from mig_postgres import PostgresDialect
from mig_postgres.executor import REFUSED


def make_migration(sql: str = "", *, transactional: bool = True) -> Migration:
    return Migration(
        id="001_test", version="001", name="test", path=Path("/m/001_test.sql"), up_sql=sql,
        down_sql="", checksum="x", checksum_version=1, transactional=transactional,
    )


def statements(*sql: str, first_line: int = 3) -> list[Statement]:
    return [Statement(sql=s, line=first_line + 2 * i) for i, s in enumerate(sql)]


def run(db: PostgresDialect, *sql: str, transactional: bool = True) -> None:
    db.executor().execute(db, statements(*sql), make_migration(transactional=transactional), "up")


def test_runs_inside_the_transaction_and_never_commits(pg: PostgresDialect) -> None:
    pg.begin()
    run(pg, "CREATE TABLE t (x INTEGER, s TEXT CHECK (s LIKE '%@%'))",
        "INSERT INTO t VALUES (1, 'a@b')", "CREATE INDEX t_x ON t (x)")
    assert pg.in_transaction
    pg.rollback()
    assert pg.table_names() == []


def test_failing_statement_says_which_and_where(pg: PostgresDialect) -> None:
    pg.begin()
    with pytest.raises(StatementFailed) as info:
        run(pg, "CREATE TABLE t (x INTEGER)", "INSERT INTO t VALUES (1)",
            "INSERT INTO no_such_table VALUES (1)")
    pg.rollback()
    err = info.value
    assert (err.index, err.line, err.executed) == (2, 7, 2)
    assert str(err) == (
        'statement 3 (/m/001_test.sql:7) failed: relation "no_such_table" does not exist'
    )
    assert err.sql == "INSERT INTO no_such_table VALUES (1)"
    assert pg.table_names() == []


@pytest.mark.parametrize("sql", [
    "COMMIT", "commit work", "END", "BEGIN", "START TRANSACTION", "ROLLBACK", "ABORT",
    "-- note\n/* c */ COMMIT",
])
def test_transaction_control_is_refused_in_a_transaction(pg: PostgresDialect, sql: str) -> None:
    pg.begin()
    with pytest.raises(StatementFailed, match=REFUSED):
        run(pg, "CREATE TABLE t (x INTEGER)", sql)
    pg.rollback()
    assert pg.table_names() == []


def test_savepoints_and_do_blocks_are_fine(pg: PostgresDialect) -> None:
    pg.begin()
    run(pg, "CREATE TABLE t (x INTEGER)", "SAVEPOINT a", "INSERT INTO t VALUES (1)",
        "ROLLBACK TO SAVEPOINT a", "RELEASE SAVEPOINT a",
        "DO $$ BEGIN INSERT INTO t VALUES (2); END $$")
    pg.commit()
    assert pg.query("SELECT x FROM t") == [(2,)]


def test_concurrent_index_needs_a_non_transactional_migration(pg: PostgresDialect) -> None:
    pg.execute("CREATE TABLE t (x INTEGER)")
    pg.begin()
    with pytest.raises(StatementFailed) as info:
        run(pg, "CREATE INDEX CONCURRENTLY t_x ON t (x)")
    pg.rollback()
    assert "cannot run inside a transaction block" in str(info.value)
    assert "set @transactional: false" in str(info.value)
    # Outside a transaction (as the engine runs `@transactional: false`), it works, and a
    # migration may manage its own transactions.
    run(pg, "CREATE INDEX CONCURRENTLY t_x ON t (x)", "BEGIN", "INSERT INTO t VALUES (1)",
        "COMMIT", transactional=False)
    assert pg.query("SELECT count(*) FROM t") == [(1,)]
    assert pg.query("SELECT indisvalid FROM pg_index WHERE indexrelid = 't_x'::regclass") == [
        (True,)
    ]
