"""The statement loop every dialect's own executor shares."""

from __future__ import annotations

import re
from collections.abc import Sequence
from contextlib import suppress
from typing import TYPE_CHECKING, Any, ClassVar

from .errors import StatementFailed
from .protocols import Executor

if TYPE_CHECKING:
    from .models import Migration, Statement
    from .protocols import Dialect

#: How to run a migration outside a transaction, in mig's own files. A format plugin whose
#: files say it otherwise puts its own words under the ``transactional_hint`` metadata key.
TRANSACTIONAL_HINT = "set @transactional: false"


def transactional_hint(migration: Migration) -> str:
    """How to make ``migration`` run outside a transaction, in its file format's words."""
    return migration.metadata.get("transactional_hint") or TRANSACTIONAL_HINT


#: Whitespace and SQL comments before a statement's first word.
LEADING_COMMENTS = r"(?:\s|--[^\n]*(?:\n|\Z)|/\*.*?(?:\*/|\Z))*"


def first_word_pattern(words: str, comments: str = LEADING_COMMENTS) -> re.Pattern[str]:
    """A pattern matching statements whose first word (after comments) is one of ``words``."""
    return re.compile(f"{comments}(?:{words})\\b", re.IGNORECASE | re.DOTALL)


class StatementExecutor(Executor):
    """Runs statements one at a time on the dialect's connection and leaves the transaction
    to the engine. A dialect subclasses it to name its driver's errors, the statements that
    would end the engine's transaction, and how to put a driver error in one line."""

    #: Statements refused while the engine's transaction is open (None: refuse nothing).
    transaction_control: ClassVar[re.Pattern[str] | None] = None
    refused: ClassVar[str] = (
        "transaction control statements are not allowed inside a transactional migration;"
        f" {TRANSACTIONAL_HINT}"
    )

    def driver_errors(self) -> tuple[type[BaseException], ...]:
        """The exceptions a failing statement raises (import the driver here, lazily)."""
        raise NotImplementedError

    def describe(self, exc: BaseException) -> str:
        """The database's message for a failed statement, on one line."""
        return " ".join(str(exc).split()) or type(exc).__name__

    def session_reset(
        self, dialect: Dialect, statements: Sequence[Statement]
    ) -> tuple[str, Sequence[Any]] | None:
        """The statement and parameters that put back what ``statements`` change in the
        session and mig relies on (PostgreSQL's search_path or role, MySQL's current
        database), read before they run; None, the default: nothing to put back."""
        return None

    def execute(
        self,
        dialect: Dialect,
        statements: Sequence[Statement],
        migration: Migration,
        direction: str,
    ) -> None:
        """Run the statements, then put back the session settings they moved
        (:meth:`session_reset`): after a failure too where their effect stays (outside a
        transaction; a failed transaction takes it with it), ignoring the driver's errors."""
        reset = self.session_reset(dialect, statements)
        try:
            self._run(dialect, statements, migration)
        except Exception:
            if reset is not None and not dialect.in_transaction:
                with suppress(*self.driver_errors()):
                    dialect.execute(*reset)
            raise
        if reset is not None:
            dialect.execute(*reset)

    def _run(
        self, dialect: Dialect, statements: Sequence[Statement], migration: Migration
    ) -> None:
        # Only a transaction the engine opened is protected: a `@transactional: false`
        # migration may run its own BEGIN ... COMMIT, so outside one each statement after
        # which no transaction is open counts as committed.
        outside = not dialect.in_transaction
        control = None if outside else self.transaction_control
        errors = self.driver_errors()
        execute = dialect.execute
        committed = 0
        hint = transactional_hint(migration)

        def told(message: str) -> str:
            return message.replace(TRANSACTIONAL_HINT, hint)

        for i, stmt in enumerate(statements):
            if control is not None and control.match(stmt.sql):
                raise StatementFailed(told(self.refused), index=i, line=stmt.line,
                                      sql=stmt.sql, executed=i, path=migration.path)
            try:
                execute(stmt.sql)
            except errors as exc:
                raise StatementFailed(told(self.describe(exc)), index=i, line=stmt.line,
                                      sql=stmt.sql, executed=i, path=migration.path,
                                      committed=committed) from exc
            if outside and not dialect.in_transaction:
                committed = i + 1
