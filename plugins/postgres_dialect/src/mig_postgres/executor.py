"""Runs a migration's statements on the dialect's connection."""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from mig.executor import TRANSACTIONAL_HINT, StatementExecutor, first_word_pattern

if TYPE_CHECKING:
    from mig.models import Statement
    from mig.protocols import Dialect

# A statement that would end or restart the engine's transaction, after any leading comments:
# BEGIN, START TRANSACTION, COMMIT, END, ABORT, ROLLBACK (not ROLLBACK TO a savepoint).
_TRANSACTION_CONTROL = first_word_pattern(
    r"BEGIN|START\s+TRANSACTION|COMMIT|END|ABORT|ROLLBACK(?!\s+(?:TRANSACTION\s+|WORK\s+)?TO\b)"
)
REFUSED = StatementExecutor.refused
#: Session settings a migration may change that mig puts back, and what shows a change.
_SESSION = {
    "search_path": re.compile(r"search_path", re.IGNORECASE),
    "role": re.compile(r"\bSET\s+(?:SESSION\s+)?ROLE\b|set_config\s*\(\s*'role'", re.IGNORECASE),
}
#: SQLSTATE 25001: the statement cannot run inside a transaction block.
_ACTIVE_SQL_TRANSACTION = "25001"


class PostgresExecutor(StatementExecutor):
    """Runs statements one at a time, as written (no parameter processing, so ``%`` is
    literal), and leaves the transaction to the engine."""

    transaction_control = _TRANSACTION_CONTROL

    def driver_errors(self) -> tuple[type[BaseException], ...]:
        import psycopg

        return (psycopg.Error,)

    def session_reset(
        self, dialect: Dialect, statements: Sequence[Statement]
    ) -> tuple[str, Sequence[Any]] | None:
        """The session settings mig relies on that the statements change (a pg_dump file
        empties ``search_path``, another runs ``SET search_path TO app`` or ``SET ROLE app``)
        are put back afterwards, as Flyway does: mig's own tables are found through the
        search_path and written as the role it connected as."""
        moved = [name for name, changes in _SESSION.items()
                 if any(changes.search(s.sql) for s in statements)]
        if not moved:
            return None
        saved = dialect.query(
            "SELECT " + ", ".join(f"pg_catalog.current_setting('{n}')" for n in moved)
        )[0]
        return "SELECT " + ", ".join(
            f"pg_catalog.set_config('{n}', %s, false)" for n in moved
        ), saved

    def describe(self, exc: BaseException) -> str:
        return describe(exc)


def describe(exc: Any) -> str:
    """The server's message in one line (its primary text, without the LINE/caret lines)."""
    diag = getattr(exc, "diag", None)
    message = (diag.message_primary if diag is not None else None) or str(exc)
    message = " ".join(message.split()) or type(exc).__name__
    if getattr(exc, "sqlstate", None) == _ACTIVE_SQL_TRANSACTION:
        message += f" (this migration must run outside a transaction: {TRANSACTIONAL_HINT})"
    return message
