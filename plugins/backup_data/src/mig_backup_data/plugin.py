"""Backup type ``data``: the rows of every user table (not mig's bookkeeping), restored in one
transaction into the schema as it is. The work is dialect-specific and lives with each dialect
(``Dialect.backup_handler("data")``)."""

from __future__ import annotations

from typing import ClassVar

from mig import hookimpl
from mig.backup_types import PerDialectStrategy
from mig.protocols import BackupStrategy

MIG_API_VERSION = 1


class DataBackup(PerDialectStrategy):
    """The rows of the user tables. Restoring one keeps the schema, so it undoes no
    migration: the applied migrations stay applied."""

    name: ClassVar[str] = "data"
    keeps_schema: ClassVar[bool] = True


@hookimpl
def mig_register_backup_types() -> list[type[BackupStrategy]]:
    return [DataBackup]
