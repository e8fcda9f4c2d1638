"""``mig baseline`` and ``mig repair``: bookkeeping an operator asks for, written through the
ledger's transitions (docs/ledger.md) under the migration lock, in one transaction."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from .errors import HistoryConflict, UnknownTargetError
from .ledger import RESOLVED, Ledger, repair_record
from .loader import drifted
from .models import BackupInfo, Migration, MigrationExecution, MigrationStatus, Operation

#: ``--as`` of ``repair --resolve``: what the operator found the migration to be.
RESOLUTIONS = ("applied", "rolled-back")


def baseline_note(version: str) -> str:
    return f"recorded as applied by `mig baseline {version}`; mig did not run it"


def _changed_nothing(ex: MigrationExecution) -> bool:
    """An apply that left no trace in the database: it failed inside its transaction (as
    ``up`` does on a schema that is already there), or was discarded with an atomic run."""
    return ex.operation is Operation.APPLY and (
        (ex.status is MigrationStatus.FAILED and not ex.statements_committed)
        or (ex.status is MigrationStatus.ROLLED_BACK and ex.rolled_back_by is None))


def check_baseline(todo: list[Migration], ledger: Ledger | None) -> None:
    """Refuse a baseline over migrations the ledger already has history for: any row of
    them but failed or discarded attempts that changed nothing (backup and restore rows
    that merely name them do not count)."""
    if ledger is None or not todo:
        return
    wanted = {m.id for m in todo}
    kinds = (Operation.APPLY, Operation.ROLLBACK, Operation.REPAIR)
    seen = sorted({e.migration_id for e in ledger.executions() if e.migration_id in wanted
                   and e.operation in kinds and not _changed_nothing(e)})
    if seen:
        more = f" (and {len(seen) - 1} more)" if len(seen) > 1 else ""
        raise HistoryConflict(
            f"cannot baseline: the database already has mig history for {seen[0]}{more};"
            " baseline is for a database mig has not run these migrations on"
            " (see `mig history`)"
        )


@dataclass
class Resolution:
    """``repair --resolve``: the execution that needs attention, its migration, and whether
    the operator found its changes all in place (``applied``) or none left."""

    execution: MigrationExecution
    migration: Migration
    applied: bool


@dataclass
class RepairPlan:
    """What ``mig repair`` does (or, with ``--dry-run``, would do)."""

    #: In-effect executions whose migration's file was edited since, with the file now.
    drift: list[tuple[MigrationExecution, Migration]] = field(default_factory=list)
    #: Catalogue entries whose backup is gone from storage.
    gone: list[BackupInfo] = field(default_factory=list)
    #: Executions needing attention that this run does not resolve (``--resolve`` does).
    attention: list[MigrationExecution] = field(default_factory=list)
    resolve: Resolution | None = None

    @property
    def empty(self) -> bool:
        return not (self.drift or self.gone or self.resolve)

    def actions(self) -> list[str]:
        """One line per change, as ``--dry-run`` prints them."""
        lines = [f"accept the edited file of {m.id} (checksum {(ex.checksum or '')[:12]}"
                 f" -> {m.checksum[:12]})" for ex, m in self.drift]
        lines += [f"forget backup {b.backup_id} (gone from storage)" for b in self.gone]
        if self.resolve is not None:
            r = self.resolve
            lines.append(f"resolve {r.migration.id} (execution {r.execution.execution_id})"
                         f" as {'applied' if r.applied else 'rolled back'}")
        return lines

    def to_dict(self) -> dict[str, Any]:
        return {
            "accept_drift": [{"migration_id": m.id, "execution_id": ex.execution_id,
                              "old_checksum": ex.checksum, "new_checksum": m.checksum}
                             for ex, m in self.drift],
            "forget_backups": [b.backup_id for b in self.gone],
            "resolve": None if self.resolve is None else {
                "execution_id": self.resolve.execution.execution_id,
                "migration_id": self.resolve.migration.id,
                "as": "applied" if self.resolve.applied else "rolled-back",
            },
            "needs_attention": [e.to_dict() for e in self.attention],
        }


def drift(migrations: list[Migration], applied: list[MigrationExecution]) -> list[
    tuple[MigrationExecution, Migration]
]:
    by_id = {m.id: m for m in migrations}
    return [(e, by_id[e.migration_id]) for e in applied
            if e.migration_id in by_id and drifted(by_id[e.migration_id], e)]


def resolution(attention: list[MigrationExecution], execution_id: str, how: str,
               migration_of: Any) -> Resolution:
    """The :class:`Resolution` of ``--resolve execution_id --as how``; refused (exit 2) for
    an execution that needs no attention."""
    if how not in RESOLUTIONS:
        raise UnknownTargetError(f"--as must be one of {', '.join(RESOLUTIONS)}, not {how!r}")
    found = [e for e in attention if e.execution_id == execution_id]
    if not found:
        listed = ", ".join(f"{e.execution_id} ({e.migration_id})" for e in attention)
        raise HistoryConflict(
            f"execution {execution_id} does not need attention"
            + (f"; these do: {listed}" if listed else "; none does (see `mig status`)")
        )
    ex = found[0]
    return Resolution(ex, migration_of(ex), how == "applied")


def apply_plan(ledger: Ledger, plan: RepairPlan, forget: Any, run_id: str) -> list[
    MigrationExecution
]:
    """Write ``plan`` through the ledger's transitions (inside the caller's transaction);
    ``forget(ledger, row, by, run_id)`` forgets a catalogue entry. Returns the rows written."""
    rows: list[MigrationExecution] = []
    for ex, m in plan.drift:
        record = repair_record(
            m.id, m.version, "accept-checksum",
            f"accepted the edited file of {m.id}; it was applied with checksum"
            f" {ex.checksum} (this row keeps it)", run_id,
        )
        ledger.checksum_accepted(ex, m, record)
        rows.append(record)
    for info in plan.gone:
        rows.append(forget(ledger, info, "repair", run_id))
    if plan.resolve is not None:
        r = plan.resolve
        how = "applied" if r.applied else "rolled-back"
        state = ("RUNNING: its process died" if r.execution.status is MigrationStatus.RUNNING
                 else f"FAILED with {r.execution.statements_committed or 0} statement(s)"
                 " committed")
        record = repair_record(
            r.migration.id, r.migration.version, f"{RESOLVED}:{how}",
            f"execution {r.execution.execution_id} ({r.execution.operation.value}, {state})"
            f" inspected and resolved as {how}", run_id,
        )
        adopted = ledger.attention_resolved(r.execution, r.migration, record, r.applied)
        rows.append(record)
        if adopted is not None:
            rows.append(adopted)
    return rows
