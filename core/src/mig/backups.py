"""Backups: the core's orchestration of backup strategies and storage targets (plugins)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from .errors import PluginError

if TYPE_CHECKING:
    from .engine import MigrationEngine
    from .models import BackupInfo


class Backups:
    def __init__(self, engine: MigrationEngine) -> None:
        self.engine = engine

    def create(self, backup_type: str, migration_id: str | None = None, *, locked: bool = False) -> BackupInfo:
        types = self.engine.plugins.backup_types()
        if backup_type not in types:
            raise PluginError(
                f"backup = {backup_type!r} but no installed plugin provides it"
                f" (install mig-backup-{backup_type} or set backup = \"none\")"
            )
        raise NotImplementedError
