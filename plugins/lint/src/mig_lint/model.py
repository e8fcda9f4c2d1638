"""The rule protocol of ``mig lint`` and the records rules see and return.

A rule is any object (or class, instantiated without arguments) with an ``id``, a
``severity``, a one-line ``summary``, a ``fix``, optional ``dialects``, and
``check(migration, parsed, context)`` returning :class:`Finding` objects. Plugins return rules
from the ``mig_register_lint_rules`` hook; :class:`BaseRule` is a convenient base class.
"""

from __future__ import annotations

import enum
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, ClassVar, Protocol, runtime_checkable

if TYPE_CHECKING:
    from mig import Migration
    from sqlglot import exp

#: Dialect names as mig's dialect plugins spell them.
DIALECTS = ("sqlite", "postgresql", "mysql")


class Severity(str, enum.Enum):
    ERROR = "error"
    WARNING = "warning"
    INFO = "info"

    def __str__(self) -> str:
        return self.value


@dataclass(frozen=True)
class Finding:
    """One problem found in one migration file, at one line."""

    rule: str
    severity: Severity
    message: str
    fix: str
    migration: str
    path: Path
    line: int

    def to_dict(self) -> dict[str, object]:
        return {
            "rule": self.rule, "severity": self.severity.value, "message": self.message,
            "fix": self.fix, "migration": self.migration, "path": str(self.path),
            "line": self.line,
        }


@dataclass(frozen=True)
class ParsedStatement:
    """One statement of a section: its text, its line in the file, the section (``"up"`` or
    ``"down"``) and sqlglot's tree, or ``error`` when sqlglot could not parse it.

    Statements sqlglot only partly understands (``VACUUM``, ``ALTER TYPE``, ``RENAME TABLE``)
    come as ``exp.Command``; :attr:`words` gives their upper-cased tokens."""

    sql: str
    line: int
    section: str
    expression: exp.Expr | None
    error: str | None = None
    words: tuple[str, ...] = ()


@dataclass(frozen=True)
class ParsedMigration:
    """The statements of a migration's UP and DOWN sections, parsed for one dialect."""

    up: Sequence[ParsedStatement]
    down: Sequence[ParsedStatement]

    @property
    def all(self) -> list[ParsedStatement]:
        return [*self.up, *self.down]

    @cached_property
    def tables_created_before(self) -> list[set[str]]:
        """For each UP statement, the tables created by the UP statements before it: work on a
        table created in the same migration touches no existing rows."""
        from .parse import tables_created_before

        return tables_created_before(self.up)


@dataclass(frozen=True)
class LintContext:
    """What a rule may want to know beyond the migration: the dialect (``sqlite``,
    ``postgresql`` or ``mysql``), the PostgreSQL major version when known, and the rule
    options of ``[mig.options.lint]``."""

    dialect: str
    postgres_version: int | None = None
    options: dict[str, object] = field(default_factory=dict)


@runtime_checkable
class Rule(Protocol):
    """What ``mig lint`` needs of a rule."""

    id: str
    severity: Severity
    summary: str
    fix: str
    #: the dialects the rule applies to; None for all
    dialects: frozenset[str] | None

    def check(
        self, migration: Migration, parsed: ParsedMigration, context: LintContext
    ) -> Iterable[Finding]: ...


class BaseRule:
    """A base for rules: set the class attributes, implement :meth:`check`, and build findings
    with :meth:`finding`. ``dialects`` limits the rule to some dialects (None: all)."""

    id: ClassVar[str]
    severity: ClassVar[Severity]
    summary: ClassVar[str]
    fix: ClassVar[str]
    dialects: ClassVar[frozenset[str] | None] = None

    def check(
        self, migration: Migration, parsed: ParsedMigration, context: LintContext
    ) -> Iterable[Finding]:
        raise NotImplementedError

    def finding(self, migration: Migration, line: int, message: str) -> Finding:
        return Finding(self.id, self.severity, message, self.fix, migration.id,
                       migration.path, line)
