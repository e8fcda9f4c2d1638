"""Backup type ``incremental``: a full base, then only what changed since the previous backup
of the chain. The work is dialect-specific and lives in one module per dialect."""

from __future__ import annotations

from typing import ClassVar

from mig import hookimpl
from mig.backup_types import PerDialectStrategy
from mig.protocols import BackupJob, Context, RestoreJob

from .options import Options

MIG_API_VERSION = 1


class IncrementalBackup(PerDialectStrategy):
    """Chained backups: a base, then only what changed since the parent. The dialect modules
    take the ``[mig.options.incremental]`` settings as a third argument."""

    name: ClassVar[str] = "incremental"
    chained: ClassVar[bool] = True
    modules = {"sqlite": "mig_backup_incremental.sqlite"}
    distribution = "mig-backup-incremental"
    finishes_atomically = frozenset({"sqlite"})

    def create(self, ctx: Context, job: BackupJob) -> None:
        self.module(ctx).create(ctx, job, _options(ctx))

    def restore(self, ctx: Context, job: RestoreJob) -> None:
        self.module(ctx).restore(ctx, job, _options(ctx))


def _options(ctx: Context) -> Options:
    return Options.from_table(ctx.config.options.get(IncrementalBackup.name, {}))


@hookimpl
def mig_register_backup_types() -> list[type]:
    return [IncrementalBackup]
