"""mig: database schema migrations with rollback, a plugin framework on pluggy."""

from __future__ import annotations

from typing import TYPE_CHECKING

from .lazy import lazy_exports

if TYPE_CHECKING:
    from .engine import MigrationEngine
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
    from .scaffold import create_migration_file

__version__ = "0.1.0"

# Every public name is imported on first use, so that `mig --help` pays for none of them.
_LAZY = {
    "MigrationEngine": "engine",
    "create_migration_file": "scaffold",
    "API_VERSION": "hookspecs",
    "hookimpl": "hookspecs",
    **dict.fromkeys(
        ["BackupError", "ConfigError", "DatabaseError", "DependencyError", "DriftError",
         "IntegrityError", "LockTimeout", "MigError", "MigrationFailed", "MigrationFileError",
         "PluginError", "RollbackRefused", "StatementFailed", "UnknownTargetError"],
        "errors",
    ),
    **dict.fromkeys(
        ["BackupInfo", "BackupType", "IntegrityResult", "Migration", "MigrationExecution",
         "MigrationStatus", "Operation", "Problem", "Statement"],
        "models",
    ),
}

__getattr__ = lazy_exports(__name__, _LAZY)


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
