"""Backups of SQLite databases: one module per backup type (``full``, ``schema``, ``data``,
``incremental``), each with a :class:`mig.protocols.BackupHandler` named ``Handler``, which
:meth:`SQLiteDialect.backup_handler` hands to the backup type plugins (mig-backup-full,
-schema, -data, -incremental); they never import this plugin."""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING

from mig import BackupError

from ..dialect import SQLiteDialect

if TYPE_CHECKING:
    from mig.protocols import BackupHandler, Context

#: The backup types this dialect makes and restores (a module of this package each).
TYPES = ("full", "schema", "data", "incremental")


def handler(backup_type: str) -> BackupHandler | None:
    """The handler for ``backup_type``, or None for a type SQLite has no support for. Its
    module is imported now, not with the dialect."""
    if backup_type not in TYPES:
        return None
    handler_class: type[BackupHandler] = import_module(f"{__name__}.{backup_type}").Handler
    return handler_class()


def sqlite_dialect(ctx: Context) -> SQLiteDialect:
    """The dialect of ``ctx``, which a SQLite handler only ever gets from SQLite itself."""
    dialect = ctx.dialect
    if not isinstance(dialect, SQLiteDialect):
        raise BackupError(f"a SQLite backup handler was given a {dialect.name} database")
    return dialect
