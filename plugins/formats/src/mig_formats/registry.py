"""The formats by name, and auto-detection.

Each format is a module with ``NAME``, ``LEVELS`` (how many subfolder levels the registry
lists for it: 0 for a flat folder, 1 for Prisma's ``<migration>/migration.sql``),
``detect(directory, names)`` and ``load(directory, names) -> list[Migration]``, where
``names`` are :func:`.common.sql_files` of the folder at that depth.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from types import ModuleType

from mig import ConfigError, Migration

from . import (
    dbmate,
    diesel,
    flyway,
    golang_migrate,
    goose,
    liquibase,
    node_pg_migrate,
    plain,
    prisma,
    sqitch,
    sql_migrate,
    yoyo,
)
from .common import sql_files

#: In detection order: a tool's own file first (sqitch.plan, Prisma's migration_lock.toml,
#: Diesel's <version>_<name>/up.sql folders, Liquibase's "--liquibase formatted sql" first
#: line), then names (Flyway, golang-migrate), then file contents (node-pg-migrate's
#: "-- Up Migration" last of them); plain SQL files, which have no marker of their own,
#: last.
FORMATS: dict[str, ModuleType] = {
    m.NAME: m
    for m in (sqitch, prisma, diesel, liquibase, flyway, golang_migrate, goose, sql_migrate, dbmate,
              yoyo, node_pg_migrate, plain)
}
ALIASES = {"migrate": "golang-migrate", "golang_migrate": "golang-migrate",
           "sql_migrate": "sql-migrate",
           "node_pg_migrate": "node-pg-migrate", "supabase": "plain", "atlas": "plain"}


def module(name: str) -> ModuleType:
    found = FORMATS.get(ALIASES.get(name, name))
    if found is None:
        raise ConfigError(
            f"unknown migrations format {name!r} (one of: mig, auto, {', '.join(FORMATS)},"
            f" or an alias: {', '.join(ALIASES)})"
        )
    return found


def names(directory: Path, mod: ModuleType) -> list[str]:
    """The files of ``directory`` that format ``mod`` is given (see the module docstring)."""
    levels: int = mod.LEVELS
    return sql_files(directory, levels)


def detect(directory: Path) -> str | None:
    """The name of the format ``directory`` is written in, or None for none of ours."""
    listed: dict[int, list[str]] = {}
    for name, mod in FORMATS.items():
        check: Callable[[Path, list[str]], bool] = mod.detect
        if mod.LEVELS not in listed:
            listed[mod.LEVELS] = names(directory, mod)
        if check(directory, listed[mod.LEVELS]):
            return name
    return None


def load(directory: Path, format: str) -> list[Migration]:
    """The migrations of ``directory`` read as ``format`` (a name or an alias)."""
    mod = module(format)
    migrations: list[Migration] = mod.load(directory, names(directory, mod))
    return migrations


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
    migrations = load(directory, format)
    sql = [n for n in names(directory, mod) if n.endswith(".sql")]
    if not migrations and sql:
        # Every tool ignores files it does not name so; none at all is a format mistaken.
        raise ConfigError(
            f"migrations_format = {format!r} reads none of the {len(sql)} .sql file(s) in"
            f" {directory} (such as {sql[0]}); is the folder written for {mod.NAME}?"
            f" (\"auto\" detects the format)"
        )
    return mod.NAME, migrations
