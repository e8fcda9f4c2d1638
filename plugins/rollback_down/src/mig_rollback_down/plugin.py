"""Rollback by DOWN SQL."""

from __future__ import annotations

from collections.abc import Sequence
from typing import ClassVar

from mig import Migration, MigrationExecution, hookimpl
from mig.protocols import Context, RollbackMethod

MIG_API_VERSION = 1


class DownRollback(RollbackMethod):
    """Runs the migration's DOWN section; undoes that migration only."""

    name: ClassVar[str] = "down"
    transactional: ClassVar[bool] = True

    def refuse_reason(
        self, ctx: Context, migration: Migration, execution: MigrationExecution
    ) -> str | None:
        if not migration.reversible:
            return "it is marked @reversible: false (use --method restore)"
        return None

    def affected(
        self, ctx: Context, execution: MigrationExecution, applied: Sequence[MigrationExecution]
    ) -> list[MigrationExecution]:
        return [execution]

    def undo(self, ctx: Context, migration: Migration, execution: MigrationExecution) -> None:
        statements = ctx.split(migration, "down")
        ctx.executor.execute(ctx.dialect, statements, migration, "down")


@hookimpl
def mig_register_rollback_methods() -> list[type[RollbackMethod]]:
    return [DownRollback]
