"""mig-diff: ``mig diff``, the live schema compared with the schema the applied migrations
produce, and migrations generated from the difference (SQLAlchemy reflection, Alembic's
autogenerate comparison and operations). SQLAlchemy and Alembic are imported by the
functions that need them, not with the package."""

from __future__ import annotations

from typing import TYPE_CHECKING

from mig.lazy import lazy_exports

if TYPE_CHECKING:
    from .api import diff_live, diff_urls, migration_text, new_migration

# Imported on first use: the plugin's entry module imports this package with every command.
_FROM = {
    "diff_live": "api",
    "diff_urls": "api",
    "migration_text": "api",
    "new_migration": "api",
}

__getattr__ = lazy_exports(__name__, _FROM)


__all__ = [
    "diff_live",
    "diff_urls",
    "migration_text",
    "new_migration",
]
