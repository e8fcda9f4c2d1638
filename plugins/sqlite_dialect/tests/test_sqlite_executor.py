from __future__ import annotations

from pathlib import Path

import pytest
from mig import StatementFailed
from mig.models import Migration, Statement
from mig_sqlite import SQLiteDialect
from mig_sqlite.executor import REFUSED


def make_migration(tmp_path: Path, sql: str = "", *, transactional: bool = True) -> Migration:
    return Migration(
        id="001_test",
        version="001",
        name="test",
        path=tmp_path / "001_test.sql",
        up_sql=sql,
        down_sql="",
        checksum="x",
        checksum_version=1,
        transactional=transactional,
    )


def statements(*sql: str, first_line: int = 3) -> list[Statement]:
    """One statement per argument, each starting two lines after the previous one."""
    return [Statement(sql=s, line=first_line + 2 * i) for i, s in enumerate(sql)]


def run(db: SQLiteDialect, tmp_path: Path, *sql: str, transactional: bool = True) -> None:
    db.executor().execute(
        db, statements(*sql), make_migration(tmp_path, transactional=transactional), "up"
    )


def test_runs_a_migration_inside_the_transaction(db: SQLiteDialect, tmp_path: Path) -> None:
    db.begin()
    run(
        db,
        tmp_path,
        "CREATE TABLE t (x INTEGER)",
        "INSERT INTO t VALUES (1)",
        "CREATE INDEX t_x ON t (x)",
    )
    assert db.in_transaction  # the executor never commits
    db.commit()
    assert db.query("SELECT x FROM t") == [(1,)]


def test_failing_statement_reports_where_and_leaves_nothing(
    db: SQLiteDialect, tmp_path: Path
) -> None:
    db.begin()
    with pytest.raises(StatementFailed) as info:
        run(
            db,
            tmp_path,
            "CREATE TABLE t (x INTEGER NOT NULL)",
            "INSERT INTO t VALUES (1)",
            "INSERT INTO t VALUES (NULL)",
            "CREATE TABLE never (y)",
        )
    assert db.in_transaction  # the executor never rolls back either
    db.rollback()
    err = info.value
    assert (err.index, err.line, err.executed) == (2, 7, 2)
    assert err.sql == "INSERT INTO t VALUES (NULL)"
    assert "NOT NULL constraint failed" in err.database_message
    assert str(err).startswith(f"statement 3 ({tmp_path / '001_test.sql'}:7) failed: ")
    assert err.__cause__ is not None
    assert db.table_names() == []


def test_syntax_error_and_two_statements_in_one(db: SQLiteDialect, tmp_path: Path) -> None:
    db.begin()
    with pytest.raises(StatementFailed, match="syntax error"):
        run(db, tmp_path, "CREATE TABLEX t (x)")
    with pytest.raises(StatementFailed, match="one statement at a time"):
        run(db, tmp_path, "CREATE TABLE a (x); CREATE TABLE b (x)")
    db.rollback()


@pytest.mark.parametrize(
    "sql",
    [
        "COMMIT",
        "commit transaction",
        "END",
        "End Transaction",
        "BEGIN",
        "BEGIN IMMEDIATE",
        "ROLLBACK",
        "ROLLBACK TRANSACTION",
        "-- finish early\nCOMMIT",
        "/* c */ COMMIT",
        "\n\n  COMMIT",
    ],
)
def test_refuses_transaction_control(db: SQLiteDialect, tmp_path: Path, sql: str) -> None:
    db.execute("CREATE TABLE t (x)")
    db.begin()
    with pytest.raises(StatementFailed) as info:
        run(db, tmp_path, "INSERT INTO t VALUES (1)", sql, "INSERT INTO t VALUES (2)")
    assert info.value.database_message == REFUSED
    assert (info.value.index, info.value.executed) == (1, 1)
    assert db.in_transaction  # refused before it ran
    db.rollback()
    assert db.query("SELECT x FROM t") == []


def test_savepoints_are_allowed(db: SQLiteDialect, tmp_path: Path) -> None:
    db.begin()
    run(
        db,
        tmp_path,
        "CREATE TABLE t (x)",
        "SAVEPOINT sp",
        "INSERT INTO t VALUES (1)",
        "ROLLBACK TO sp",
        "rollback transaction to savepoint sp",
        "RELEASE sp",
        "INSERT INTO t VALUES (2)",
    )
    db.commit()
    assert db.query("SELECT x FROM t") == [(2,)]


def test_words_that_only_start_like_transaction_control(db: SQLiteDialect, tmp_path: Path) -> None:
    db.begin()
    run(
        db,
        tmp_path,
        "CREATE TABLE committed (x)",
        "CREATE TABLE t (x)",
        "CREATE TRIGGER tr AFTER INSERT ON t BEGIN INSERT INTO committed VALUES (1); END",
    )
    db.commit()
    assert db.table_names() == ["committed", "t"]


def test_non_transactional_migration_may_manage_its_transactions(
    db: SQLiteDialect, tmp_path: Path
) -> None:
    run(
        db,
        tmp_path,
        "CREATE TABLE t (x)",
        "BEGIN",
        "INSERT INTO t VALUES (1)",
        "COMMIT",
        "BEGIN",
        "INSERT INTO t VALUES (2)",
        "ROLLBACK",
        transactional=False,
    )
    assert db.query("SELECT x FROM t") == [(1,)]
    assert not db.in_transaction
