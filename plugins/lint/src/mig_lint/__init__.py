"""mig-lint: ``mig lint``, static checks of migration files per dialect, parsed with sqlglot.

Rules are plugins: return them from ``mig_register_lint_rules`` (see :mod:`mig_lint.model`
for the protocol). Importing this package does not import sqlglot.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from mig.lazy import lazy_exports

if TYPE_CHECKING:
    from .model import (
        BaseRule,
        Finding,
        LintContext,
        ParsedMigration,
        ParsedStatement,
        Rule,
        Severity,
    )

# Imported on first use: the plugin's entry module imports this package with every command.
_FROM = {
    "BaseRule": "model",
    "Finding": "model",
    "LintContext": "model",
    "ParsedMigration": "model",
    "ParsedStatement": "model",
    "Rule": "model",
    "Severity": "model",
}

__getattr__ = lazy_exports(__name__, _FROM)


__all__ = [
    "BaseRule",
    "Finding",
    "LintContext",
    "ParsedMigration",
    "ParsedStatement",
    "Rule",
    "Severity",
]
