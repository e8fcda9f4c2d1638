"""mig-formats: other tools' migration folders (golang-migrate, dbmate, goose, sql-migrate,
Flyway, yoyo, Prisma, Diesel, node-pg-migrate, Sqitch, Liquibase formatted SQL, plain SQL as
Supabase and Atlas write it) read as they are, converted to mig's files, and their history
tables adopted."""

from __future__ import annotations

from typing import TYPE_CHECKING

from mig.lazy import lazy_exports

if TYPE_CHECKING:
    from .registry import FORMATS, detect, load_folder

# Imported on first use: the plugin's entry module imports this package with every command,
# and most projects are in mig's own format.
_FROM = {
    "FORMATS": "registry",
    "detect": "registry",
    "load_folder": "registry",
}

__getattr__ = lazy_exports(__name__, _FROM)


__all__ = [
    "FORMATS",
    "detect",
    "load_folder",
]
