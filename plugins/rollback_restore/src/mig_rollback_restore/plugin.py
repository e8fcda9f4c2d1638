"""Rollback by restoring the pre-migration backup."""

from __future__ import annotations

from collections.abc import Sequence
from typing import ClassVar

from mig import (
    BackupError,
    Migration,
    MigrationExecution,
    PluginError,
    UnknownTargetError,
    hookimpl,
)
from mig.protocols import Context, RollbackMethod

MIG_API_VERSION = 1


class RestoreRollback(RollbackMethod):
    """Restores the backup taken before the migration: undoes it and everything after it."""

    name: ClassVar[str] = "restore"
    transactional: ClassVar[bool] = False

    def refuse_reason(
        self, ctx: Context, migration: Migration, execution: MigrationExecution
    ) -> str | None:
        if not execution.backup_id:
            return "no backup was taken before it (backup = \"none\" or @backup_required: false)"
        try:
            manifest = ctx.backups.get(execution.backup_id)
            strategy = ctx.backups.strategy(str(manifest.info.backup_type))
        except (UnknownTargetError, BackupError, PluginError) as exc:
            return f"its backup {execution.backup_id} is not usable: {exc}"
        if strategy.keeps_schema:
            # A data-only restore leaves the schema as it is, so it cannot undo a migration.
            return (
                f"its backup {execution.backup_id} holds data only and cannot undo schema changes"
            )
        return None

    def affected(
        self, ctx: Context, execution: MigrationExecution, applied: Sequence[MigrationExecution]
    ) -> list[MigrationExecution]:
        ids = [e.execution_id for e in applied]
        return list(reversed(applied[ids.index(execution.execution_id):]))

    def undo(self, ctx: Context, migration: Migration, execution: MigrationExecution) -> None:
        assert execution.backup_id is not None
        ctx.backups.restore(execution.backup_id, reason=f"rollback of {migration.id}")


@hookimpl
def mig_register_rollback_methods() -> list[type[RollbackMethod]]:
    return [RestoreRollback]
