"""mig-lint: ``mig lint``, static checks of migration files per dialect, parsed with sqlglot.

Rules are plugins: return them from ``mig_register_lint_rules`` (see :mod:`mig_lint.model`
for the protocol). Importing this package does not import sqlglot.
"""

from __future__ import annotations

from .model import (
    BaseRule,
    Finding,
    LintContext,
    ParsedMigration,
    ParsedStatement,
    Rule,
    Severity,
)

__all__ = [
    "BaseRule", "Finding", "LintContext", "ParsedMigration", "ParsedStatement", "Rule",
    "Severity",
]
