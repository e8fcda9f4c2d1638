"""Runs a migration's statements on the dialect's connection.

MySQL commits implicitly before and after each DDL statement, so the engine runs every MySQL
migration outside a transaction, statement by statement; on failure the ``executed`` count
of :class:`mig.StatementFailed` says how many statements had committed.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from mig.executor import StatementExecutor, first_word_pattern

if TYPE_CHECKING:
    from mig.models import Statement
    from mig.protocols import Dialect

_COMMENTS = r"(?:\s|(?:--|\#)[^\n]*(?:\n|\Z)|/\*.*?(?:\*/|\Z))*"  # MySQL has # comments too
# A statement that would end or restart a transaction the engine opened, after any leading
# comments: BEGIN (but not a BEGIN NOT ATOMIC block), START TRANSACTION, COMMIT, ROLLBACK
# (not ROLLBACK TO a savepoint).
_TRANSACTION_CONTROL = first_word_pattern(
    r"BEGIN(?!\s+NOT\s+ATOMIC\b)|START\s+TRANSACTION|COMMIT|ROLLBACK(?!\s+(?:WORK\s+)?TO\b)",
    comments=_COMMENTS,
)
_USE = first_word_pattern("USE", comments=_COMMENTS)
REFUSED = "transaction control statements are not allowed inside the engine's transaction"


class MySQLExecutor(StatementExecutor):
    """Runs statements one at a time, as written (no parameter processing, so ``%`` is
    literal), and leaves the transaction to the engine."""

    transaction_control = _TRANSACTION_CONTROL
    refused = REFUSED

    def driver_errors(self) -> tuple[type[BaseException], ...]:
        import pymysql

        return (pymysql.MySQLError,)

    def session_reset(
        self, dialect: Dialect, statements: Sequence[Statement]
    ) -> tuple[str, Sequence[Any]] | None:
        """A migration that switches database (``USE other``) is switched back afterwards, as
        a client session would not be: mig's own tables, and the next migration's unqualified
        names, are in the database mig connected to. (MySQL migrations run outside a
        transaction, so a failed one is switched back too.)"""
        if not any(_USE.match(s.sql) for s in statements):
            return None
        saved = dialect.query("SELECT DATABASE()")[0][0]
        if saved is None:  # no database to go back to
            return None
        from .dialect import quote_ident

        return f"USE {quote_ident(saved)}", ()

    def describe(self, exc: BaseException) -> str:
        return describe(exc)


def describe(exc: Any) -> str:
    """The server's message in one line, with its error number."""
    args = exc.args
    if len(args) == 2 and isinstance(args[0], int):
        text = f"{args[1]} (error {args[0]})"
    else:
        text = str(exc) or type(exc).__name__
    return " ".join(text.split())
