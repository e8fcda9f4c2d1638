"""Runs a migration's statements on the dialect's connection."""

from __future__ import annotations

import re
import sqlite3
from collections.abc import Sequence
from typing import TYPE_CHECKING

from mig.errors import StatementFailed
from mig.models import Migration, Statement

if TYPE_CHECKING:
    from mig.protocols import Dialect

# BEGIN, COMMIT, END or ROLLBACK (but not ROLLBACK TO a savepoint) as a statement's first
# word, after any leading comments.
_TRANSACTION_CONTROL = re.compile(
    r"(?:\s|--[^\n]*(?:\n|\Z)|/\*.*?(?:\*/|\Z))*"
    r"(?:BEGIN|COMMIT|END|ROLLBACK(?!\s+(?:TRANSACTION\s+)?TO\b))\b",
    re.IGNORECASE | re.DOTALL,
)
REFUSED = (
    "transaction control statements are not allowed inside a transactional migration;"
    " set @transactional: false"
)


class SQLiteExecutor:
    """Runs statements one at a time (never ``executescript``, which commits) and leaves the
    transaction to the engine."""

    def execute(
        self,
        dialect: Dialect,
        statements: Sequence[Statement],
        migration: Migration,
        direction: str,
    ) -> None:
        # Only a transaction the engine opened is protected: a `@transactional: false`
        # migration may run its own BEGIN ... COMMIT. (`in_transaction` is SQLiteDialect's.)
        guarded = getattr(dialect, "in_transaction", False)
        execute = dialect.execute
        for i, stmt in enumerate(statements):
            if guarded and _TRANSACTION_CONTROL.match(stmt.sql):
                raise StatementFailed(
                    REFUSED,
                    index=i,
                    line=stmt.line,
                    sql=stmt.sql,
                    executed=i,
                    path=migration.path,
                )
            try:
                execute(stmt.sql)
            except (sqlite3.Error, sqlite3.Warning) as exc:
                raise StatementFailed(
                    str(exc),
                    index=i,
                    line=stmt.line,
                    sql=stmt.sql,
                    executed=i,
                    path=migration.path,
                ) from exc
