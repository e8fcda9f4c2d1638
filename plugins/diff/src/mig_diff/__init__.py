"""mig-diff: ``mig diff``, the live schema compared with the schema the applied migrations
produce, and migrations generated from the difference (SQLAlchemy reflection, Alembic's
autogenerate comparison and operations). SQLAlchemy and Alembic are imported by the
functions that need them, not with the package."""

from __future__ import annotations

from .api import diff_live, diff_urls, migration_text, new_migration

__all__ = ["diff_live", "diff_urls", "migration_text", "new_migration"]
