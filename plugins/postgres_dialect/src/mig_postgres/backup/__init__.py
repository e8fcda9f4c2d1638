"""Backups of this server: one module per backup type (``full``, ``schema``, ``data``,
``incremental``), each with a :class:`mig.protocols.BackupHandler` named ``Handler``, which
:meth:`PostgresDialect.backup_handler` hands to the backup type plugins (mig-backup-full, -schema,
-data, -incremental); they never import this plugin."""

from __future__ import annotations

from typing import TYPE_CHECKING

from mig.backup_types import dialect_as, handler_in

from ..dialect import PostgresDialect

if TYPE_CHECKING:
    from mig.protocols import BackupHandler, Context


def handler(backup_type: str) -> BackupHandler | None:
    """The handler for ``backup_type`` (full, schema, data, incremental: a module of this
    package each), or None for another type."""
    return handler_in(__name__, backup_type)


def postgres_dialect(ctx: Context) -> PostgresDialect:
    """The dialect of ``ctx``, which a PostgreSQL handler only ever gets from PostgreSQL itself."""
    return dialect_as(ctx, PostgresDialect)
