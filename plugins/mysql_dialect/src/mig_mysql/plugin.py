"""Hook implementations of the ``mysql_dialect`` plugin."""

from __future__ import annotations

from typing import TYPE_CHECKING

from mig import hookimpl

from . import integrity
from .dialect import MySQLDialect

if TYPE_CHECKING:
    from mig.models import Problem
    from mig.protocols import Context, Dialect

MIG_API_VERSION = 1


@hookimpl
def mig_register_dialects() -> list[type[Dialect]]:
    return [MySQLDialect]


@hookimpl
def mig_integrity_check(ctx: Context) -> list[Problem] | None:
    if ctx.dialect.name != MySQLDialect.name:
        return None
    return integrity.check(ctx.dialect)
