"""Runs a migration's statements on the dialect's connection.

MySQL commits implicitly before and after each DDL statement, so the engine runs every MySQL
migration outside a transaction, statement by statement; on failure the ``executed`` count
of :class:`mig.StatementFailed` says how many statements had committed.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from mig.errors import StatementFailed
from mig.models import Migration, Statement

if TYPE_CHECKING:
    from mig.protocols import Dialect

# A statement that would end or restart a transaction the engine opened, after any leading
# comments: BEGIN (but not a BEGIN NOT ATOMIC block), START TRANSACTION, COMMIT, ROLLBACK
# (not ROLLBACK TO a savepoint).
_TRANSACTION_CONTROL = re.compile(
    r"(?:\s|(?:--|\#)[^\n]*(?:\n|\Z)|/\*.*?(?:\*/|\Z))*"
    r"(?:BEGIN(?!\s+NOT\s+ATOMIC\b)|START\s+TRANSACTION|COMMIT"
    r"|ROLLBACK(?!\s+(?:WORK\s+)?TO\b))\b",
    re.IGNORECASE | re.DOTALL,
)
REFUSED = "transaction control statements are not allowed inside the engine's transaction"


class MySQLExecutor:
    """Runs statements one at a time, as written (no parameter processing, so ``%`` is
    literal), and never commits or rolls back itself."""

    def execute(
        self,
        dialect: Dialect,
        statements: Sequence[Statement],
        migration: Migration,
        direction: str,
    ) -> None:
        import pymysql

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
            except pymysql.MySQLError as exc:
                raise StatementFailed(
                    describe(exc), index=i, line=stmt.line, sql=stmt.sql, executed=i,
                    path=migration.path,
                ) from exc


def describe(exc: Any) -> str:
    """The server's message in one line, with its error number."""
    args = exc.args
    if len(args) == 2 and isinstance(args[0], int):
        text = f"{args[1]} (error {args[0]})"
    else:
        text = str(exc) or type(exc).__name__
    return " ".join(text.split())
