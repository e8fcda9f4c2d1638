"""Identifiers in the SQL that ``--data`` writes (INSERT and SELECT of generated rows)."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from mig.protocols import Dialect

#: Dialects whose identifier quote is not the standard double quote. (A ``quote`` member on
#: the Dialect protocol would let each dialect say it; until then this is the one place.)
_QUOTES = {"mysql": "`"}


def quote(dialect: Dialect, name: str) -> str:
    """``name`` as a quoted identifier of ``dialect``'s SQL."""
    mark = _QUOTES.get(dialect.name, '"')
    return mark + name.replace(mark, mark * 2) + mark
