"""Backup type ``data``: the rows of every user table (not mig's bookkeeping), restored in one
transaction into the schema as it is. The work is dialect-specific and lives in one module per
dialect."""

from __future__ import annotations

from importlib import import_module
from types import ModuleType
from typing import ClassVar

from mig import BackupError, hookimpl
from mig.protocols import BackupJob, Context, Dialect, RestoreJob

MIG_API_VERSION = 1

#: Dialect name -> module with ``create(ctx, job)`` and ``restore(ctx, job)``; other dialects
#: may offer one through ``Dialect.backup_module("<type>")``.
DIALECTS = {"sqlite": "mig_backup_data.sqlite"}


def _dialect_module(ctx: Context) -> ModuleType:
    name = ctx.dialect.name
    if name in DIALECTS:
        return import_module(DIALECTS[name])
    # A server's dialect plugin carries the mechanics for its own server (its dump tools).
    provided = getattr(ctx.dialect, "backup_module", None)
    module = provided("data") if callable(provided) else None
    if module is None:
        raise BackupError(
            f"data backups of {name} databases are not supported by mig-backup-data yet"
        )
    return module


class DataBackup:
    """The rows of the user tables. Restoring one keeps the schema, so it undoes no
    migration: the applied migrations stay applied."""

    name: ClassVar[str] = "data"
    chained: ClassVar[bool] = False
    keeps_schema: ClassVar[bool] = True

    def create(self, ctx: Context, job: BackupJob) -> None:
        _dialect_module(ctx).create(ctx, job)

    def calls_finish(self, dialect: Dialect) -> bool:
        """The SQLite restore runs job.finish inside its atomic step, so the core may verify
        the checksums meanwhile."""
        return dialect.name == "sqlite"

    def restore(self, ctx: Context, job: RestoreJob) -> None:
        _dialect_module(ctx).restore(ctx, job)


@hookimpl
def mig_register_backup_types() -> list[type]:
    return [DataBackup]
