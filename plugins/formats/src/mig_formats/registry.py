"""The formats by name, and auto-detection."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from types import ModuleType

from mig import ConfigError, Migration

from . import dbmate, flyway, golang_migrate, goose, sql_migrate, yoyo
from .common import sql_files

#: In detection order: names first (Flyway, golang-migrate), then file contents.
FORMATS: dict[str, ModuleType] = {
    m.NAME: m for m in (flyway, golang_migrate, goose, sql_migrate, dbmate, yoyo)
}
ALIASES = {"migrate": "golang-migrate", "golang_migrate": "golang-migrate",
           "sql_migrate": "sql-migrate"}


def module(name: str) -> ModuleType:
    found = FORMATS.get(ALIASES.get(name, name))
    if found is None:
        raise ConfigError(
            f"unknown migrations format {name!r} (one of: mig, auto, {', '.join(FORMATS)})"
        )
    return found


def detect(directory: Path) -> str | None:
    """The name of the format ``directory`` is written in, or None for none of ours."""
    names = sql_files(directory)
    for name, mod in FORMATS.items():
        check: Callable[[Path, list[str]], bool] = mod.detect
        if check(directory, names):
            return name
    return None


def load_folder(directory: Path, format: str) -> tuple[str, list[Migration]] | None:
    """The folder's migrations in ``format`` (``auto`` detects it); None when ``auto``
    finds none of ours, or ``format`` is not ours."""
    if format == "auto":
        found = detect(directory)
        if found is None:
            return None
        format = found
    elif ALIASES.get(format, format) not in FORMATS:
        return None
    mod = module(format)
    names = sql_files(directory)
    migrations: list[Migration] = mod.load(directory, names)
    sql = [n for n in names if n.endswith(".sql")]
    if not migrations and sql:
        # Every tool ignores files it does not name so; none at all is a format mistaken.
        raise ConfigError(
            f"migrations_format = {format!r} reads none of the {len(sql)} .sql file(s) in"
            f" {directory} (such as {sql[0]}); is the folder written for {mod.NAME}?"
            f" (\"auto\" detects the format)"
        )
    return mod.NAME, migrations
