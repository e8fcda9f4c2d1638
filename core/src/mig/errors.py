"""mig's exceptions. Every one carries the exit code the CLI turns it into (SPEC §6)."""

from __future__ import annotations


class MigError(Exception):
    """Root of every error mig raises on purpose."""

    exit_code = 1


class ConfigError(MigError):
    """The configuration, a command-line option or the database URL is wrong."""

    exit_code = 2


class MigrationFileError(MigError):
    """A migration file is malformed; the message names the file and line."""

    exit_code = 2

    def __init__(self, message: str, path: object = None, line: int | None = None) -> None:
        where = ""
        if path is not None:
            where = f"{path}:{line}: " if line else f"{path}: "
        super().__init__(f"{where}{message}")
        self.path = path
        self.line = line
        #: The message without the file and line.
        self.reason = message


class DependencyError(MigrationFileError):
    """A dependency is unknown, a duplicate version exists, or the graph has a cycle."""


class UnknownTargetError(MigError):
    """A target, execution id or backup id names nothing."""

    exit_code = 2


class HistoryConflict(MigError):
    """The request contradicts what the ledger records (``baseline`` over migrations mig
    already ran, ``repair --resolve`` of an execution that needs no attention)."""

    exit_code = 2


class DatabaseError(MigError):
    """The database cannot be reached or opened."""

    exit_code = 2


class LockTimeout(MigError):
    """Another process holds the migration lock for longer than ``lock_timeout``."""

    exit_code = 3


class DriftError(MigError):
    """An applied migration's file changed since it was applied."""

    exit_code = 4


class MigrationFailed(MigError):
    """A migration's SQL failed; it was rolled back. Raised by the CLI layer only."""

    exit_code = 1


class StatementFailed(MigrationFailed):
    """One statement of a migration failed; says which, where, and the database's message."""

    def __init__(
        self, message: str, *, index: int, line: int, sql: str, executed: int,
        path: object = None, committed: int = 0,
    ) -> None:
        where = f"{path}:{line}" if path is not None else f"line {line}"
        super().__init__(f"statement {index + 1} ({where}) failed: {message}")
        self.database_message = message
        self.index = index
        self.line = line
        self.sql = sql
        #: How many statements before this one had run.
        self.executed = executed
        #: How many of those had committed: each one after which no transaction was open
        #: (outside the engine's transaction, a migration may run its own BEGIN ... COMMIT).
        self.committed = committed


class RollbackRefused(MigError):
    """A rollback cannot be done as asked (dependents, irreversible, no backup)."""

    exit_code = 1


class BackupError(MigError):
    """A backup could not be made, verified or restored."""

    exit_code = 1


class PluginError(MigError):
    """A plugin is missing, broken, incompatible or conflicts with another."""

    exit_code = 2


class IntegrityError(MigError):
    """``check`` found problems."""

    exit_code = 4
