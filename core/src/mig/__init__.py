"""mig: database schema migrations with rollback, a plugin framework on pluggy."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from .errors import (
    BackupError,
    ConfigError,
    DatabaseError,
    DependencyError,
    DriftError,
    IntegrityError,
    LockTimeout,
    MigError,
    MigrationFailed,
    MigrationFileError,
    PluginError,
    RollbackRefused,
    StatementFailed,
    UnknownTargetError,
)
from .hookspecs import API_VERSION, hookimpl
from .models import (
    BackupInfo,
    BackupType,
    IntegrityResult,
    Migration,
    MigrationExecution,
    MigrationStatus,
    Operation,
    Problem,
    Statement,
)

if TYPE_CHECKING:
    from .engine import MigrationEngine
    from .scaffold import create_migration_file

__version__ = "0.1.0"

_LAZY = {
    "MigrationEngine": "engine",
    "create_migration_file": "scaffold",
}


def __getattr__(name: str) -> Any:
    # The engine pulls in more than a plugin needs; import it on first use only.
    if name in _LAZY:
        from importlib import import_module

        return getattr(import_module(f".{_LAZY[name]}", __name__), name)
    raise AttributeError(f"module 'mig' has no attribute {name!r}")


__all__ = [
    "API_VERSION",
    "BackupError",
    "BackupInfo",
    "BackupType",
    "ConfigError",
    "DatabaseError",
    "DependencyError",
    "DriftError",
    "IntegrityError",
    "IntegrityResult",
    "LockTimeout",
    "MigError",
    "Migration",
    "MigrationEngine",
    "MigrationExecution",
    "MigrationFailed",
    "MigrationFileError",
    "MigrationStatus",
    "Operation",
    "PluginError",
    "Problem",
    "RollbackRefused",
    "Statement",
    "StatementFailed",
    "UnknownTargetError",
    "create_migration_file",
    "hookimpl",
]
