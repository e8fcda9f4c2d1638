"""Hook implementations of mig-sqlfile. Both run ``trylast``: they are mig's defaults, so a
plugin for another flavour of ``.sql`` file, or a dialect with its own splitter, comes first."""

from __future__ import annotations

from pathlib import Path

from mig import Migration, Statement, hookimpl

from .parser import parse_migration
from .splitter import split_sql

MIG_API_VERSION = 1


@hookimpl(trylast=True)
def mig_parse_migration(path: Path, text: str) -> Migration | None:
    if path.suffix != ".sql":
        return None
    return parse_migration(path, text)


@hookimpl(trylast=True)
def mig_parse_split(sql: str, dialect: str, first_line: int, path: Path | None) -> list[Statement]:
    return split_sql(sql, dialect, first_line=first_line, path=path)
