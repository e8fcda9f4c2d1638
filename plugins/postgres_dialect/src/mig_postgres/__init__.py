"""mig-postgres: the PostgreSQL dialect of mig (psycopg 3, imported on first connect)."""

from __future__ import annotations

from .dialect import PostgresDialect
from .executor import PostgresExecutor

__all__ = ["PostgresDialect", "PostgresExecutor"]
