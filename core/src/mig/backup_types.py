"""A base for backup types whose work differs from one dialect to the next."""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from importlib import import_module
from pathlib import Path
from types import ModuleType
from typing import TYPE_CHECKING, Any, ClassVar

from .errors import BackupError

if TYPE_CHECKING:
    from .protocols import BackupJob, Context, Dialect, RestoreJob


class PerDialectStrategy:
    """A :class:`mig.protocols.BackupStrategy` that hands each backup and restore to a module
    with ``create(ctx, job)`` and ``restore(ctx, job)``: the plugin's own module for the
    dialect (``modules``: dialect name -> module name), else the one the dialect plugin offers
    through ``Dialect.backup_module(<type name>)``, for servers whose dump tools it knows."""

    name: ClassVar[str]
    chained: ClassVar[bool] = False
    #: The plugin's own modules, by dialect name.
    modules: ClassVar[Mapping[str, str]] = {}
    #: The distribution named when a dialect is not supported.
    distribution: ClassVar[str] = ""
    #: Dialects whose module calls ``job.finish`` inside its atomic step, so the core may
    #: verify checksums while the restore copies (see ``BackupStrategy.calls_finish``).
    finishes_atomically: ClassVar[frozenset[str]] = frozenset()

    def module(self, ctx: Context) -> ModuleType:
        dialect = ctx.dialect.name
        if dialect in self.modules:
            return import_module(self.modules[dialect])
        offered = getattr(ctx.dialect, "backup_module", None)
        module = offered(self.name) if callable(offered) else None
        if module is None:
            raise BackupError(
                f"{self.name} backups of {dialect} databases are not supported by"
                f" {self.distribution or 'this plugin'} yet"
            )
        return module

    def create(self, ctx: Context, job: BackupJob) -> None:
        self.module(ctx).create(ctx, job)

    def restore(self, ctx: Context, job: RestoreJob) -> None:
        self.module(ctx).restore(ctx, job)

    def calls_finish(self, dialect: Dialect) -> bool:
        return dialect.name in self.finishes_atomically


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
