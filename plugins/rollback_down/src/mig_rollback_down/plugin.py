"""Rollback by DOWN SQL."""

from __future__ import annotations

from collections.abc import Mapping
from typing import ClassVar

from mig import Migration, MigrationExecution, hookimpl
from mig.protocols import Context, RollbackMethod, UndoEffect

MIG_API_VERSION = 1


class DownRollback(RollbackMethod):
    """Runs the migration's DOWN section inside the run loop's transaction; undoes that
    migration only."""

    name: ClassVar[str] = "down"
    transactional: ClassVar[bool] = True
    #: It only runs the DOWN SQL, which ``mig down --sql`` writes into a script.
    scriptable: ClassVar[bool] = True

    def refuse_reason(
        self, ctx: Context, migration: Migration, execution: MigrationExecution
    ) -> str | None:
        if not migration.reversible:
            return "it is marked @reversible: false (use --method restore)"
        return None

    def effect(
        self, ctx: Context, execution: MigrationExecution,
        in_effect: Mapping[str, MigrationExecution],
    ) -> UndoEffect:
        return UndoEffect(frozenset({execution.execution_id}))

    def undo(
        self, ctx: Context, migration: Migration, execution: MigrationExecution, run_id: str
    ) -> None:
        statements = ctx.split(migration, "down")
        ctx.executor.execute(ctx.dialect, statements, migration, "down")
        return None


@hookimpl
def mig_register_rollback_methods() -> list[type[RollbackMethod]]:
    return [DownRollback]
