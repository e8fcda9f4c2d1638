"""The executor: statements one by one, errors with where they happened and what committed."""

from __future__ import annotations

from pathlib import Path

import pytest
from mig import StatementFailed
from mig.models import Migration, Statement
from mig_mysql import MySQLDialect
from mig_mysql.executor import REFUSED


def make_migration() -> Migration:
    return Migration(
        id="001_test", version="001", name="test", path=Path("/m/001_test.sql"), up_sql="",
        down_sql="", checksum="x", checksum_version=1,
    )


def run(db: MySQLDialect, *sql: str) -> None:
    statements = [Statement(sql=s, line=3 + 2 * i) for i, s in enumerate(sql)]
    db.executor().execute(db, statements, make_migration(), "up")


def test_failing_statement_says_which_and_what_committed(my: MySQLDialect) -> None:
    with pytest.raises(StatementFailed) as info:
        run(my, "CREATE TABLE t (x INTEGER, s TEXT CHECK (s LIKE '%@%'))",
            "INSERT INTO t VALUES (1, 'a@b')", "INSERT INTO no_such_table VALUES (1)")
    err = info.value
    assert (err.index, err.line, err.executed) == (2, 7, 2)
    assert str(err).startswith("statement 3 (/m/001_test.sql:7) failed: Table ")
    assert "no_such_table' doesn't exist (error 1146)" in str(err)
    assert my.query("SELECT x FROM t") == [(1,)]  # what ran before stays: autocommit


def test_bodies_without_delimiter(my: MySQLDialect) -> None:
    my.execute("CREATE TABLE t (x INTEGER, doubled INTEGER)")
    run(
        my,
        "CREATE TRIGGER t_double BEFORE INSERT ON t FOR EACH ROW\nBEGIN\n"
        "  IF NEW.x IS NOT NULL THEN SET NEW.doubled = NEW.x * 2; END IF;\nEND",
        "CREATE PROCEDURE fill(n INTEGER)\nBEGIN\n  DECLARE i INTEGER DEFAULT 0;\n"
        "  WHILE i < n DO INSERT INTO t (x) VALUES (i); SET i = i + 1; END WHILE;\nEND",
        "CALL fill(3)",
    )
    assert my.query("SELECT x, doubled FROM t ORDER BY x") == [(0, 0), (1, 2), (2, 4)]


def test_transaction_control_is_refused_inside_a_transaction(my: MySQLDialect) -> None:
    my.execute("CREATE TABLE t (x INTEGER)")
    my.begin()
    with pytest.raises(StatementFailed, match=REFUSED):
        run(my, "INSERT INTO t VALUES (1)", "COMMIT")
    my.rollback()
    assert my.query("SELECT COUNT(*) FROM t") == [(0,)]
    run(my, "START TRANSACTION", "INSERT INTO t VALUES (1)", "COMMIT")  # outside: fine
    assert my.query("SELECT COUNT(*) FROM t") == [(1,)]
