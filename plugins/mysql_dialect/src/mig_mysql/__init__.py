"""mig-mysql: the MySQL / MariaDB dialect of mig (PyMySQL, imported on first connect)."""

from __future__ import annotations

from .dialect import MySQLDialect
from .executor import MySQLExecutor

__all__ = ["MySQLDialect", "MySQLExecutor"]
