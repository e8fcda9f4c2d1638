"""Backup type ``schema``: the database's schema without the user rows, restored atomically as
a database holding that schema and no user rows. The work is dialect-specific and lives with
each dialect (``Dialect.backup_handler("schema")``)."""

from __future__ import annotations

from typing import ClassVar

from mig import hookimpl
from mig.backup_types import PerDialectStrategy
from mig.protocols import BackupStrategy

MIG_API_VERSION = 1


class SchemaBackup(PerDialectStrategy):
    """Tables, indexes, views and triggers; of the rows, only mig's bookkeeping."""

    name: ClassVar[str] = "schema"


@hookimpl
def mig_register_backup_types() -> list[type[BackupStrategy]]:
    return [SchemaBackup]
