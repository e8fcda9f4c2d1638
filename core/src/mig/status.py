"""What ``mig status`` and ``mig check`` report, computed from the files and the ledger."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from .errors import DependencyError, DriftError
from .ledger import Ledger
from .loader import drifted
from .models import Migration, MigrationExecution, MigrationStatus, Problem
from .protocols import Dialect
from .schema import changes, fingerprint


@dataclass
class Status:
    """What ``mig status`` reports."""

    current_version: str | None
    applied: list[MigrationExecution]
    pending: list[Migration]
    failed: list[MigrationExecution]
    drift: list[Migration]
    missing: list[MigrationExecution]
    out_of_order: list[Migration]
    attention: list[MigrationExecution] = field(default_factory=list)
    #: Objects changed outside mig since the last recorded schema (see :func:`schema_changes`).
    schema_changes: list[str] = field(default_factory=list)

    @property
    def baselined(self) -> list[MigrationExecution]:
        """Applied migrations recorded by ``mig baseline``: mig never ran them."""
        return [e for e in self.applied if e.method == "baseline"]

    def to_dict(self) -> dict[str, Any]:
        return {
            "current_version": self.current_version,
            "applied": [e.migration_id for e in self.applied],
            "baselined": [e.migration_id for e in self.baselined],
            "pending": [m.id for m in self.pending],
            "failed": [e.migration_id for e in self.failed],
            "drift": [m.id for m in self.drift],
            "missing": [e.migration_id for e in self.missing],
            "out_of_order": [m.id for m in self.out_of_order],
            "needs_attention": [e.to_dict() for e in self.attention],
            "schema_changed_outside_mig": self.schema_changes,
        }


def current_version(applied: Sequence[MigrationExecution]) -> str | None:
    if not applied:
        return None
    return max(applied, key=lambda e: int(e.version)).version


def compute(migrations: Sequence[Migration], ledger: Ledger | None, prefix: str) -> Status:
    """The status of ``migrations`` against ``ledger`` (None: nothing recorded yet)."""
    applied = ledger.in_effect() if ledger else []
    by_id = {m.id: m for m in migrations}
    applied_ids = {e.migration_id for e in applied}
    top = max((int(e.version) for e in applied), default=None)
    pending = [m for m in migrations if m.id not in applied_ids]
    attention = ledger.attention() if ledger else []
    return Status(
        current_version=current_version(applied),
        applied=applied,
        pending=pending,
        failed=[e for e in (ledger.failed() if ledger else [])
                if e.migration_id not in applied_ids],
        drift=[by_id[e.migration_id] for e in applied
               if e.migration_id in by_id and drifted(by_id[e.migration_id], e)],
        missing=[e for e in applied if e.migration_id not in by_id],
        out_of_order=[m for m in pending if top is not None and m.number < top],
        attention=attention,
        schema_changes=schema_changes(ledger, prefix) if ledger else [],
    )


def schema_changes(ledger: Ledger, prefix: str) -> list[str]:
    """The objects changed outside mig: differences between the live user schema and the one
    recorded after the last command (none when nothing was recorded or the dialect cannot
    take snapshots); a note when the newest rows were written by a killed command."""
    newest, recorded = ledger.schema_record()
    if newest is None:
        return []
    if recorded is None:
        return []
    live = snapshot(ledger.dialect, prefix)
    if live is None or fingerprint(live) == newest.schema_hash:
        return []
    return changes(recorded, live)


def snapshot(dialect: Dialect, prefix: str) -> dict[str, Any] | None:
    """The dialect's schema snapshot, or None when it cannot take one."""
    try:
        return dialect.schema_snapshot(exclude_prefix=prefix)
    except NotImplementedError:
        return None


def check_drift(migrations: Sequence[Migration], applied: list[MigrationExecution]) -> None:
    """Refuse (``DriftError``) when an applied migration's file was edited since."""
    by_id = {m.id: m for m in migrations}
    found = [e.migration_id for e in applied
             if e.migration_id in by_id and drifted(by_id[e.migration_id], e)]
    if found:
        raise DriftError(
            f"applied migration {found[0]} was edited since it was applied"
            f"{f' (and {len(found) - 1} more)' if len(found) > 1 else ''};"
            " restore the file or run with --allow-drift"
        )


def check_order(todo: list[Migration], applied: list[MigrationExecution], policy: str) -> None:
    """Refuse an out-of-order migration when ``out_of_order = "error"``."""
    if policy != "error" or not applied:
        return
    top = max(applied, key=lambda e: int(e.version))
    for m in todo:
        if m.number < int(top.version):
            raise DependencyError(
                f"{m.id} is older than the applied {top.migration_id} and"
                " out_of_order = \"error\"", m.path
            )


def problems(status: Status) -> list[Problem]:
    """What ``mig check`` reports about the files and the ledger."""
    found = [Problem("drift", f"{m.id} was edited after it was applied", m.id)
             for m in status.drift]
    found += [Problem("missing", f"applied migration {e.migration_id} has no file",
                      e.migration_id) for e in status.missing]
    found += [
        Problem("attention", f"{e.migration_id} failed outside a transaction"
                + (f" after {e.statements_committed} statement(s)" if e.statements_committed
                   else " (its process died)" if e.status is MigrationStatus.RUNNING else "")
                + (f": {e.error_message}" if e.error_message else ""),
                e.migration_id)
        for e in status.attention
    ]
    found += [Problem("schema", f"changed outside mig: {change}") for change in
              status.schema_changes]
    return found
