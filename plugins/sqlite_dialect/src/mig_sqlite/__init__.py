"""mig-sqlite: the SQLite dialect of mig (standard library ``sqlite3``, no extra driver)."""

from __future__ import annotations

from .dialect import SQLiteDialect
from .executor import SQLiteExecutor

__all__ = ["SQLiteDialect", "SQLiteExecutor"]
