"""Backup type ``incremental``: a full base, then only what changed since the previous backup
of the chain. The work is dialect-specific and lives with each dialect
(``Dialect.backup_handler("incremental")``), which also reads ``[mig.options.incremental]``."""

from __future__ import annotations

from typing import ClassVar

from mig import hookimpl
from mig.backup_types import PerDialectStrategy
from mig.protocols import BackupStrategy

MIG_API_VERSION = 1


class IncrementalBackup(PerDialectStrategy):
    """Chained backups: a base, then only what changed since the parent."""

    name: ClassVar[str] = "incremental"
    chained: ClassVar[bool] = True


@hookimpl
def mig_register_backup_types() -> list[type[BackupStrategy]]:
    return [IncrementalBackup]
