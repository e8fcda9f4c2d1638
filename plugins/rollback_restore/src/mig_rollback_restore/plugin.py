"""Rollback by restoring the pre-migration backup."""

from __future__ import annotations

from collections.abc import Mapping
from typing import ClassVar

from mig import (
    BackupError,
    Migration,
    MigrationExecution,
    PluginError,
    UnknownTargetError,
    hookimpl,
)
from mig.ledger import RestoreCause
from mig.protocols import Context, RollbackMethod, UndoEffect

MIG_API_VERSION = 1


class RestoreRollback(RollbackMethod):
    """Restores the backup taken before the migration. The migrations in effect afterwards
    are exactly those in effect when that backup was taken (see docs/ledger.md): it undoes
    the migration and everything applied after it, and may put back what was rolled back
    since."""

    name: ClassVar[str] = "restore"
    transactional: ClassVar[bool] = False
    discards_data: ClassVar[bool] = True

    def refuse_reason(
        self, ctx: Context, migration: Migration, execution: MigrationExecution
    ) -> str | None:
        if not execution.backup_id and execution.method in ("baseline", "repair"):
            return (f"it was recorded by `mig {execution.method}`, not run by mig, so no backup"
                    " was taken before it (roll it back with --method down)")
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

    def effect(
        self, ctx: Context, execution: MigrationExecution,
        in_effect: Mapping[str, MigrationExecution],
    ) -> UndoEffect:
        assert execution.backup_id is not None
        then = set(ctx.backups.get(execution.backup_id).applied)
        return UndoEffect(frozenset(set(in_effect) - then), frozenset(then - set(in_effect)))

    def undo(
        self, ctx: Context, migration: Migration, execution: MigrationExecution, run_id: str
    ) -> list[MigrationExecution]:
        assert execution.backup_id is not None
        outcome = ctx.backups.restore(
            execution.backup_id,
            cause=RestoreCause(reason=f"rollback of {migration.id}", rollback_run=run_id),
        )
        return outcome.rollbacks


@hookimpl
def mig_register_rollback_methods() -> list[type[RollbackMethod]]:
    return [RestoreRollback]
