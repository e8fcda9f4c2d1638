"""What a round-trip test found: :class:`Report` and its :class:`Finding` lines."""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from typing import Any


class Kind(str, enum.Enum):
    """What sort of problem a finding is."""

    #: The schema after DOWN differs from the schema before UP.
    SCHEMA = "schema"
    #: Rows (or their values) that DOWN did not keep (``--data``).
    DATA = "data"
    #: UP or DOWN failed with a database error.
    FAILED = "failed"
    #: ``@reversible: true`` with nothing to run in DOWN.
    EMPTY_DOWN = "empty_down"

    def __str__(self) -> str:
        return self.value


@dataclass(frozen=True)
class Finding:
    """One problem of one migration; ``line`` is how ``mig test`` prints it."""

    migration_id: str
    kind: Kind
    message: str

    @property
    def line(self) -> str:
        return f"{self.migration_id}: {self.message}"

    def to_dict(self) -> dict[str, Any]:
        return {"migration": self.migration_id, "kind": str(self.kind),
                "message": self.message, "line": self.line}


@dataclass
class Report:
    """The outcome of :func:`mig_migtest.run_roundtrip`. ``ok`` when nothing was found."""

    #: The (first) scratch database's URL, password masked.
    scratch: str = ""
    #: Migrations that went through the whole round trip (with or without findings).
    tested: list[str] = field(default_factory=list)
    #: Migrations applied without a round trip, with the reason (``--from``, irreversible).
    skipped: list[tuple[str, str]] = field(default_factory=list)
    findings: list[Finding] = field(default_factory=list)
    #: Migrations of the plan never reached because an earlier UP failed.
    not_reached: list[str] = field(default_factory=list)
    #: Remarks that are not problems of a migration (a table ``--data`` could not seed).
    notes: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.findings

    def add(self, migration_id: str, kind: Kind, message: str) -> None:
        self.findings.append(Finding(migration_id, kind, message))

    def lines(self) -> list[str]:
        """Every finding as one line, in plan order."""
        return [f.line for f in self.findings]

    def to_dict(self) -> dict[str, Any]:
        return {
            "ok": self.ok,
            "scratch": self.scratch,
            "tested": list(self.tested),
            "skipped": [{"migration": m, "reason": r} for m, r in self.skipped],
            "findings": [f.to_dict() for f in self.findings],
            "not_reached": list(self.not_reached),
            "notes": list(self.notes),
        }
