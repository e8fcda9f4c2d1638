"""mig-sqlfile: parses ``<version>_<slug>.sql`` migration files and splits SQL into statements."""

from __future__ import annotations

from .parser import parse_migration
from .splitter import split_sql

__all__ = ["parse_migration", "split_sql"]
