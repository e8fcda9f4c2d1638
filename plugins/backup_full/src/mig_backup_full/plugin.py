"""Backup type ``full``: a consistent copy of the whole database, restored atomically. The
work is dialect-specific and lives in one module per dialect."""

from __future__ import annotations

from typing import ClassVar

from mig import hookimpl
from mig.backup_types import PerDialectStrategy

MIG_API_VERSION = 1


class FullBackup(PerDialectStrategy):
    """The whole database: schema, rows and mig's bookkeeping as they were."""

    name: ClassVar[str] = "full"
    modules = {"sqlite": "mig_backup_full.sqlite"}
    distribution = "mig-backup-full"
    finishes_atomically = frozenset({"sqlite"})


@hookimpl
def mig_register_backup_types() -> list[type]:
    return [FullBackup]
