"""Planning: which migrations ``up`` applies, and the steps of a rollback.

A rollback is planned on a model of the in-effect set before anything changes, one step at a
time, the way ``docs/ledger.md`` ("Planning a rollback") describes: each step's method says
which executions are in effect after it, and every migration left in effect must keep its
dependencies in effect.
"""

from __future__ import annotations

import bisect
import heapq
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from . import graph
from .errors import ConfigError, RollbackRefused, UnknownTargetError
from .models import Migration, MigrationExecution, MigrationStatus, Operation
from .protocols import Context, RollbackMethod, UndoEffect

if TYPE_CHECKING:
    from .ledger import Ledger
    from .loader import Catalog
    from .plugins import Plugins

AUTO = "auto"


@dataclass
class RollbackStep:
    """One step of a rollback: ``root`` undone by ``method``, which also undoes ``undoes``
    (``root`` included, newest first) and may put back ``reinstates`` (a restore)."""

    root: MigrationExecution
    migration: Migration
    method: str
    undoes: list[MigrationExecution]
    reinstates: list[MigrationExecution] = field(default_factory=list)


def plan_up(
    migrations: Sequence[Migration], applied: set[str], target: Migration | None,
    only: bool = False,
) -> list[Migration]:
    """The pending migrations ``up`` applies, in plan order: all of them; with ``target``,
    those at or before it in plan order plus its dependencies; with ``only``, the target and
    its dependencies alone."""
    pending = [m for m in migrations if m.id not in applied]
    if target is None:
        return pending
    wanted = graph.closure({m.id: m for m in migrations}, target.id)
    if not only:
        position = next(i for i, m in enumerate(migrations) if m.id == target.id)
        wanted |= {m.id for m in migrations[: position + 1]}
    return [m for m in pending if m.id in wanted]


def select_execution(ex: MigrationExecution) -> list[MigrationExecution]:
    """What ``rollback EXECUTION_ID`` undoes: that apply execution while it is in effect."""
    if ex.operation is not Operation.APPLY:
        raise UnknownTargetError(f"execution {ex.execution_id} is a {ex.operation.value};"
                                 " only applied migrations can be rolled back")
    return [ex] if ex.status is MigrationStatus.COMPLETED else []


def select_newest(
    applied: Sequence[MigrationExecution], order: PlanOrder, keep: Migration | None,
    steps: int | None, everything: bool,
) -> list[MigrationExecution]:
    """What ``down`` undoes: the ``steps`` applied migrations (default 1) last in plan order,
    all of them, or every one after ``keep`` in plan order (see docs/ledger.md)."""
    newest_last = sorted(applied, key=order.key)
    if everything:
        return newest_last
    if keep is not None:
        if keep.id not in {e.migration_id for e in applied}:
            raise RollbackRefused(f"{keep.id} is not applied, so there is nothing to go down to")
        return [e for e in newest_last if order.key(e)[0] > order.position[keep.id]]
    n = 1 if steps is None else steps
    if n < 0:
        raise ConfigError("--steps must not be negative")
    return newest_last[max(0, len(newest_last) - n):] if n else []


class PlanOrder:
    """Sorts executions by the plan position of their migration; an applied migration whose
    file is gone takes the place its version gives it."""

    def __init__(self, migrations: Sequence[Migration]) -> None:
        self.position = {m.id: i for i, m in enumerate(migrations)}
        by_number = sorted((m.number, i) for i, m in enumerate(migrations))
        self._numbers = [n for n, _ in by_number]
        self._positions = [i for _, i in by_number]

    def key(self, ex: MigrationExecution) -> tuple[float, int]:
        index: float | None = self.position.get(ex.migration_id)
        if index is None:  # just after the file with the highest version not above its own
            below = bisect.bisect_right(self._numbers, int(ex.version))
            index = (self._positions[below - 1] if below else -1) + 0.5
        return index, ex.seq or 0


class RollbackPlanner:
    """Turns a selection of executions into :class:`RollbackStep` s (or a refusal)."""

    def __init__(
        self, ctx: Context, plugins: Plugins, order: PlanOrder, catalog: Catalog, ledger: Ledger
    ) -> None:
        self.ctx = ctx
        self.methods: Mapping[str, type[RollbackMethod]] = plugins.rollback_methods()
        self.order = order
        self.problems_note = plugins.problems_note()
        self.ledger = ledger
        self.catalog = catalog
        known = catalog.by_id()
        applied = ledger.in_effect()
        #: ``dependents(migration_id)``: the migrations that depend on it, directly or not.
        self.dependents = graph.Dependents([*known.values(), *(
            self.migration_for(e) for e in applied if e.migration_id not in known
        )])
        self._impls: dict[str, RollbackMethod] = {}

    def migration_for(self, ex: MigrationExecution) -> Migration:
        return self.catalog.applied_by(ex, self.ledger)

    def executions(self, ids: set[str]) -> list[MigrationExecution]:
        """The ledger's rows of those ids (for what a restore puts back)."""
        return [self.ledger.get_execution(i) for i in sorted(ids)]

    def plan(
        self,
        in_effect: Sequence[MigrationExecution],
        selected: Sequence[MigrationExecution],
        wanted: str,
        cascade: bool,
        also: set[str] | None = None,
    ) -> list[RollbackStep]:
        """The steps that leave none of ``selected`` (nor of the migration ids ``also``) in
        effect, whatever a restore on the way puts back."""
        state = {e.execution_id: e for e in in_effect}
        present = {e.migration_id: e for e in in_effect}
        goal = {e.migration_id for e in selected} | (also or set())
        heap = [(self._rank(e), e.execution_id) for e in selected if e.execution_id in state]
        heapq.heapify(heap)
        steps: list[RollbackStep] = []
        limit = 4 * (len(state) + len(goal)) + 8
        while heap:
            root = state.get(heapq.heappop(heap)[1])
            if root is None or root.migration_id not in goal:
                continue
            if len(steps) > limit:
                raise RollbackRefused("cannot plan this rollback: the restores it needs keep"
                                      " putting back what it undoes")
            step, effect = self._step(root, state, wanted)
            if step.method != "down":  # one restore of an older backup may cover it all
                step, effect = self._oldest_covering(step, effect, state, goal, wanted)
            gone = {state[i].migration_id for i in effect.undone if i in state}
            back = {e.migration_id for e in step.reinstates}
            orphans = [
                present[d] for g in gone - back for d in self.dependents(g)
                if d in present and d not in gone
            ]
            if orphans:
                if not cascade:
                    names = ", ".join(sorted({e.migration_id for e in orphans}))
                    raise RollbackRefused(
                        f"{names} depend{'s' if len(orphans) == 1 else ''} on what you roll"
                        " back; use --cascade to roll back dependents first"
                    )
                goal |= {e.migration_id for e in orphans}
                for e in [root, *orphans]:
                    heapq.heappush(heap, (self._rank(e), e.execution_id))
                continue
            steps.append(step)
            for i in effect.undone:
                gone_ex = state.pop(i, None)
                if gone_ex is not None and present.get(gone_ex.migration_id) is gone_ex:
                    del present[gone_ex.migration_id]
            for e in step.reinstates:
                state[e.execution_id] = present[e.migration_id] = e
                if e.migration_id in goal:
                    heapq.heappush(heap, (self._rank(e), e.execution_id))
        return steps

    def _oldest_covering(
        self, step: RollbackStep, effect: UndoEffect, state: dict[str, MigrationExecution],
        goal: set[str], wanted: str,
    ) -> tuple[RollbackStep, UndoEffect]:
        """The step of the oldest execution still to undo whose method is the same and whose
        undoing also undoes ``step``'s root (a restore of an older backup), else ``step``:
        restoring once instead of once per migration."""
        candidates = sorted((e for e in state.values() if e.migration_id in goal
                             and e is not step.root), key=self.order.key)
        for ex in candidates:
            try:
                older, older_effect = self._step(ex, state, wanted)
            except RollbackRefused:
                continue
            if older.method == step.method and step.root.execution_id in older_effect.undone:
                return older, older_effect
        return step, effect

    def _rank(self, ex: MigrationExecution) -> tuple[float, int]:
        position, seq = self.order.key(ex)
        return -position, -seq

    def _step(
        self, root: MigrationExecution, state: dict[str, MigrationExecution], wanted: str
    ) -> tuple[RollbackStep, UndoEffect]:
        m = self.migration_for(root)
        name = ("down" if m.reversible else "restore") if wanted == AUTO else wanted
        if name not in self.methods:
            installed = ", ".join(sorted(self.methods)) or "none installed"
            raise RollbackRefused(
                f"rollback method {name!r} is not installed (installed: {installed})"
                + self.problems_note
            )
        impl = self._impls.get(name)
        if impl is None:
            impl = self._impls[name] = self.methods[name]()
        reason = impl.refuse_reason(self.ctx, m, root)
        if reason:
            raise RollbackRefused(f"cannot roll back {root.migration_id} by {name}: {reason}")
        effect = impl.effect(self.ctx, root, state)
        undoes = sorted((state[i] for i in effect.undone if i in state),
                        key=self.order.key, reverse=True)
        back = self.executions(set(effect.reinstated) - set(state))
        return RollbackStep(root, m, name, undoes, back), effect
