"""Runs a migration's statements on the dialect's connection."""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from mig.errors import StatementFailed
from mig.models import Migration, Statement

if TYPE_CHECKING:
    from mig.protocols import Dialect

# A statement that would end or restart the engine's transaction, after any leading comments:
# BEGIN, START TRANSACTION, COMMIT, END, ABORT, ROLLBACK (not ROLLBACK TO a savepoint).
_TRANSACTION_CONTROL = re.compile(
    r"(?:\s|--[^\n]*(?:\n|\Z)|/\*.*?(?:\*/|\Z))*"
    r"(?:BEGIN|START\s+TRANSACTION|COMMIT|END|ABORT"
    r"|ROLLBACK(?!\s+(?:TRANSACTION\s+|WORK\s+)?TO\b))\b",
    re.IGNORECASE | re.DOTALL,
)
REFUSED = (
    "transaction control statements are not allowed inside a transactional migration;"
    " set @transactional: false"
)
#: SQLSTATE 25001: the statement cannot run inside a transaction block.
_ACTIVE_SQL_TRANSACTION = "25001"


class PostgresExecutor:
    """Runs statements one at a time, as written (no parameter processing, so ``%`` is
    literal), and leaves the transaction to the engine."""

    def execute(
        self,
        dialect: Dialect,
        statements: Sequence[Statement],
        migration: Migration,
        direction: str,
    ) -> None:
        import psycopg

        guarded = dialect.in_transaction
        execute = dialect.execute
        for i, stmt in enumerate(statements):
            if guarded and _TRANSACTION_CONTROL.match(stmt.sql):
                raise StatementFailed(
                    REFUSED, index=i, line=stmt.line, sql=stmt.sql, executed=i,
                    path=migration.path,
                )
            try:
                execute(stmt.sql)
            except psycopg.Error as exc:
                raise StatementFailed(
                    describe(exc), index=i, line=stmt.line, sql=stmt.sql, executed=i,
                    path=migration.path,
                ) from exc


def describe(exc: Any) -> str:
    """The server's message in one line (its primary text, without the LINE/caret lines)."""
    diag = getattr(exc, "diag", None)
    message = (diag.message_primary if diag is not None else None) or str(exc)
    message = " ".join(message.split()) or type(exc).__name__
    if getattr(exc, "sqlstate", None) == _ACTIVE_SQL_TRANSACTION:
        message += " (set @transactional: false on this migration)"
    return message
