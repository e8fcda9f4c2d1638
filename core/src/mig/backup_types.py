"""A base for backup types whose work differs from one dialect to the next."""

from __future__ import annotations

import json
import os
from collections.abc import Collection
from importlib import import_module
from pathlib import Path
from typing import Any, ClassVar, TypeVar

from .errors import BackupError, ConfigError
from .protocols import BackupHandler, BackupJob, BackupStrategy, Context, Dialect, RestoreJob

D = TypeVar("D", bound=Dialect)

#: The backup types a dialect plugin usually makes and restores itself.
STANDARD_TYPES = ("full", "schema", "data", "incremental")


def handler_in(package: str, backup_type: str,
               types: Collection[str] = STANDARD_TYPES) -> BackupHandler | None:
    """For a dialect's ``backup_handler``: the ``Handler`` class of the module
    ``<package>.<backup_type>`` (imported now, not with the dialect), made; None for a type
    not in ``types``."""
    if backup_type not in types:
        return None
    handler_class: type[BackupHandler] = import_module(f"{package}.{backup_type}").Handler
    return handler_class()


def dialect_as(ctx: Context, cls: type[D]) -> D:
    """The dialect of ``ctx`` as ``cls``: a dialect's backup handler only ever gets its own."""
    dialect = ctx.dialect
    if not isinstance(dialect, cls):
        raise BackupError(f"a {cls.name} backup handler was given a {dialect.name} database")
    return dialect


class PerDialectStrategy(BackupStrategy):
    """A :class:`mig.protocols.BackupStrategy` whose work lives with each dialect: every
    backup and restore goes to the :class:`mig.protocols.BackupHandler` that the database's
    dialect offers for this type (``Dialect.backup_handler(<type name>)``). A backup type
    plugin subclasses it with the type's ``name`` (and ``chained``, ``keeps_schema``)."""

    name: ClassVar[str]
    chained: ClassVar[bool] = False

    def handler(self, dialect: Dialect) -> BackupHandler:
        handler = dialect.backup_handler(self.name)
        if handler is None:
            raise BackupError(
                f"{self.name} backups of {dialect.name} databases are not supported (the"
                f" {dialect.name} dialect offers no {self.name} backups)"
            )
        return handler

    def create(self, ctx: Context, job: BackupJob) -> None:
        self.handler(ctx.dialect).create(ctx, job)

    def restore(self, ctx: Context, job: RestoreJob) -> None:
        self.handler(ctx.dialect).restore(ctx, job)

    def calls_finish(self, dialect: Dialect) -> bool:
        handler = dialect.backup_handler(self.name)
        return handler is not None and handler.finishes_atomically


def max_chain(ctx: Context, backup_type: str, default: int = 50) -> int:
    """``max_chain`` of ``[mig.options.<backup_type>]``, for a chained type: the most
    increments on one base before the next backup starts a new chain. A
    :class:`mig.ConfigError` when it is not a whole number of at least 1."""
    value = ctx.config.options.get(backup_type, {}).get("max_chain", default)
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ConfigError(
            f"{backup_type}.max_chain must be a whole number of at least 1, not {value!r}"
        )
    return value


def write_json_part(path: Path, data: Any) -> None:
    """Write a backup part holding JSON, created owner-only (it must not exist yet)."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as fh:
        json.dump(data, fh, indent=1)
        fh.write("\n")


def read_json_part(path: Path, backup_id: str) -> Any:
    """A JSON part of ``backup_id``; a :class:`mig.BackupError` when it cannot be read."""
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (ValueError, UnicodeDecodeError) as exc:
        what = f"backup {backup_id}: part {path.name!r}"
        raise BackupError(f"{what} is not readable: {exc}") from None
