"""Backup type ``incremental``: a full base, then only what changed since the previous backup
of the chain. The work is dialect-specific and lives in one module per dialect."""

from __future__ import annotations

from importlib import import_module
from types import ModuleType
from typing import ClassVar

from mig import BackupError, hookimpl
from mig.protocols import BackupJob, Context, Dialect, RestoreJob

from .options import Options

MIG_API_VERSION = 1

#: Dialect name -> module with ``create(ctx, job, options)`` and ``restore(ctx, job, options)``.
DIALECTS = {"sqlite": "mig_backup_incremental.sqlite"}


def _dialect_module(ctx: Context) -> ModuleType:
    name = ctx.dialect.name
    if name in DIALECTS:
        return import_module(DIALECTS[name])
    # A server's dialect plugin carries the mechanics for its own server (its dump tools).
    provided = getattr(ctx.dialect, "backup_module", None)
    module = provided("incremental") if callable(provided) else None
    if module is None:
        raise BackupError(
            f"incremental backups of {name} databases are not supported by"
            " mig-backup-incremental yet"
        )
    return module


def _options(ctx: Context) -> Options:
    return Options.from_table(ctx.config.options.get(IncrementalBackup.name, {}))


class IncrementalBackup:
    """Chained backups: a base page image, then the pages changed since the parent."""

    name: ClassVar[str] = "incremental"
    chained: ClassVar[bool] = True

    def create(self, ctx: Context, job: BackupJob) -> None:
        _dialect_module(ctx).create(ctx, job, _options(ctx))

    def calls_finish(self, dialect: Dialect) -> bool:
        """The SQLite restore runs job.finish inside its atomic step, so the core may verify
        the checksums meanwhile."""
        return dialect.name == "sqlite"

    def restore(self, ctx: Context, job: RestoreJob) -> None:
        _dialect_module(ctx).restore(ctx, job, _options(ctx))


@hookimpl
def mig_register_backup_types() -> list[type]:
    return [IncrementalBackup]
