"""Runs a migration's statements on the dialect's connection."""

from __future__ import annotations

import sqlite3

from mig.executor import StatementExecutor, first_word_pattern

REFUSED = StatementExecutor.refused


class SQLiteExecutor(StatementExecutor):
    """Statements one at a time (never ``executescript``, which commits first)."""

    # BEGIN, COMMIT, END or ROLLBACK (but not ROLLBACK TO a savepoint).
    transaction_control = first_word_pattern(
        r"BEGIN|COMMIT|END|ROLLBACK(?!\s+(?:TRANSACTION\s+)?TO\b)"
    )

    def driver_errors(self) -> tuple[type[BaseException], ...]:
        return (sqlite3.Error, sqlite3.Warning)

    def describe(self, exc: BaseException) -> str:
        return str(exc)
