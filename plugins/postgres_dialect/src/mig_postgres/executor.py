"""Runs a migration's statements on the dialect's connection."""

from __future__ import annotations

from typing import Any

from mig.executor import StatementExecutor, first_word_pattern

# A statement that would end or restart the engine's transaction, after any leading comments:
# BEGIN, START TRANSACTION, COMMIT, END, ABORT, ROLLBACK (not ROLLBACK TO a savepoint).
_TRANSACTION_CONTROL = first_word_pattern(
    r"BEGIN|START\s+TRANSACTION|COMMIT|END|ABORT|ROLLBACK(?!\s+(?:TRANSACTION\s+|WORK\s+)?TO\b)"
)
REFUSED = StatementExecutor.refused
#: SQLSTATE 25001: the statement cannot run inside a transaction block.
_ACTIVE_SQL_TRANSACTION = "25001"


class PostgresExecutor(StatementExecutor):
    """Runs statements one at a time, as written (no parameter processing, so ``%`` is
    literal), and leaves the transaction to the engine."""

    transaction_control = _TRANSACTION_CONTROL

    def driver_errors(self) -> tuple[type[BaseException], ...]:
        import psycopg

        return (psycopg.Error,)

    def describe(self, exc: BaseException) -> str:
        return describe(exc)


def describe(exc: Any) -> str:
    """The server's message in one line (its primary text, without the LINE/caret lines)."""
    diag = getattr(exc, "diag", None)
    message = (diag.message_primary if diag is not None else None) or str(exc)
    message = " ".join(message.split()) or type(exc).__name__
    if getattr(exc, "sqlstate", None) == _ACTIVE_SQL_TRANSACTION:
        message += " (set @transactional: false on this migration)"
    return message
