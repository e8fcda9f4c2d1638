"""Hook implementations of the ``sqlite_dialect`` plugin."""

from __future__ import annotations

from typing import TYPE_CHECKING

from mig import hookimpl

from . import integrity
from .dialect import SQLiteDialect, sqlite_options

if TYPE_CHECKING:
    from mig.config import Config
    from mig.models import Problem
    from mig.protocols import Context, Dialect

MIG_API_VERSION = 1


@hookimpl
def mig_config_loaded(config: Config) -> None:
    """Refuse a bad ``[mig.options.sqlite]`` as soon as the configuration is read, before any
    command touches a database (``mig validate`` included)."""
    sqlite_options(config.options.get(SQLiteDialect.name, {}))


@hookimpl
def mig_register_dialects() -> list[type[Dialect]]:
    return [SQLiteDialect]


@hookimpl
def mig_integrity_check(ctx: Context) -> list[Problem] | None:
    if ctx.dialect.name != SQLiteDialect.name:
        return None
    return integrity.check(ctx.dialect)
