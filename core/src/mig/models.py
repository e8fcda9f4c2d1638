"""Records that cross the boundary between the core, its plugins and its users."""

from __future__ import annotations

import enum
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any


class MigrationStatus(str, enum.Enum):
    PENDING = "PENDING"
    RUNNING = "RUNNING"
    COMPLETED = "COMPLETED"
    FAILED = "FAILED"
    ROLLED_BACK = "ROLLED_BACK"

    def __str__(self) -> str:
        return self.value


class BackupType(str, enum.Enum):
    """The four built-in backup types. A plugin may register others by name; those travel
    as plain strings (see :meth:`parse`)."""

    FULL_DATABASE = "full"
    SCHEMA_ONLY = "schema"
    DATA_ONLY = "data"
    INCREMENTAL = "incremental"

    def __str__(self) -> str:
        return self.value

    @classmethod
    def parse(cls, value: str) -> BackupType | str:
        """The member named by ``value``, or ``value`` itself for a plugin's own type."""
        try:
            return cls(value)
        except ValueError:
            return str(value)


class Operation(str, enum.Enum):
    """What an execution row records."""

    APPLY = "apply"
    ROLLBACK = "rollback"
    RESTORE = "restore"
    #: a catalogue entry removed because its backup was deleted outside mig (audit only)
    FORGET = "forget"

    def __str__(self) -> str:
        return self.value


def version_key(version: str) -> int:
    """Versions compare as numbers: ``9`` sorts before ``10``; ``001`` equals ``1``."""
    return int(version)


@dataclass(frozen=True)
class Statement:
    """One SQL statement and the 1-based line of the file where it starts."""

    sql: str
    line: int


@dataclass(frozen=True)
class Migration:
    """A parsed migration file. ``id`` is the file stem, ``version`` its leading number."""

    id: str
    version: str
    name: str
    path: Path
    up_sql: str
    down_sql: str
    checksum: str
    checksum_version: int
    description: str = ""
    migration_type: str = ""
    author: str = ""
    dependencies: tuple[str, ...] = ()
    reversible: bool = True
    backup_required: bool = True
    transactional: bool = True
    up_line: int = 1
    down_line: int = 0
    header_lines: Mapping[str, int] = field(default_factory=dict, hash=False, compare=False)
    metadata: Mapping[str, str] = field(default_factory=dict, hash=False, compare=False)
    #: Statements a parser already split by its format's own rules (goose's
    #: ``StatementBegin``/``End`` blocks); None lets the dialect's splitter split the section.
    up_statements: tuple[Statement, ...] | None = field(default=None, hash=False, compare=False)
    down_statements: tuple[Statement, ...] | None = field(
        default=None, hash=False, compare=False
    )

    @property
    def migration_id(self) -> str:
        return self.id

    @property
    def is_reversible(self) -> bool:
        return self.reversible

    @property
    def number(self) -> int:
        return version_key(self.version)

    def line_of(self, header: str) -> int:
        """The line of a header key, or 1 when the key was not written."""
        return self.header_lines.get(header, 1)


@dataclass
class MigrationExecution:
    """One row of the audit trail: an apply, a rollback or a restore."""

    execution_id: str
    migration_id: str
    version: str
    status: MigrationStatus
    started_at: str
    operation: Operation = Operation.APPLY
    completed_at: str | None = None
    error_message: str | None = None
    backup_path: str | None = None
    backup_id: str | None = None
    rollback_available: bool = True
    execution_time: float = 0.0
    checksum: str | None = None
    checksum_version: int | None = None
    method: str | None = None
    statements_committed: int | None = None
    rolled_back_by: str | None = None
    run_id: str | None = None
    #: Fingerprint of the user schema recorded after the command this execution ended
    #: (see docs/ledger.md, "The schema record"); None on the other rows.
    schema_hash: str | None = None
    #: Position in the audit trail, set once the row is written; it never changes.
    seq: int | None = None

    def to_dict(self) -> dict[str, Any]:
        out = dict(self.__dict__)
        out["status"] = self.status.value
        out["operation"] = self.operation.value
        return out


@dataclass
class BackupInfo:
    """A backup as the catalogue and its manifest describe it."""

    backup_id: str
    backup_path: str
    backup_type: BackupType | str
    database_path: str
    created_at: str
    size_bytes: int
    checksum: str
    migration_id: str | None = None
    is_valid: bool = True
    parent_id: str | None = None
    storage: str = "local"
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def size_mb(self) -> float:
        return round(self.size_bytes / (1024 * 1024), 3)

    def to_dict(self) -> dict[str, Any]:
        out = dict(self.__dict__)
        out["backup_type"] = str(self.backup_type)
        out["size_mb"] = self.size_mb
        return out


@dataclass(frozen=True)
class Problem:
    """One finding of an integrity check."""

    check: str
    message: str
    object: str | None = None


@dataclass(frozen=True)
class IntegrityResult:
    problems: tuple[Problem, ...] = ()

    @property
    def ok(self) -> bool:
        return not self.problems

    def __bool__(self) -> bool:
        return self.ok
