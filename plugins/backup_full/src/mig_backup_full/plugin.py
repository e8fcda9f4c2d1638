"""Backup type ``full``: a consistent copy of the whole database, restored atomically. The
work is dialect-specific and lives with each dialect (``Dialect.backup_handler("full")``)."""

from __future__ import annotations

from typing import ClassVar

from mig import hookimpl
from mig.backup_types import PerDialectStrategy
from mig.protocols import BackupStrategy

MIG_API_VERSION = 1


class FullBackup(PerDialectStrategy):
    """The whole database: schema, rows and mig's bookkeeping as they were."""

    name: ClassVar[str] = "full"


@hookimpl
def mig_register_backup_types() -> list[type[BackupStrategy]]:
    return [FullBackup]
