"""The MySQL / MariaDB server the plugin's tests run on (see conftest.py)."""

from __future__ import annotations

import os
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

from mig.testing import server_unavailable
from mig_mysql import MySQLDialect

ADMIN_URL = os.environ.get("MIG_TEST_MYSQL", "mysql://root@127.0.0.1:3306/test")
_problem: list[str | None] = []


def admin() -> MySQLDialect:
    """A connected dialect on the maintenance database."""
    dialect = MySQLDialect(ADMIN_URL, base_dir=Path.cwd(), options={})
    if not _problem:
        try:
            dialect.connect()
            _problem.append(None)
        except Exception as exc:
            _problem.append(f"MySQL/MariaDB at {ADMIN_URL} is unreachable: {exc}")
    if _problem[0] is not None:
        server_unavailable(_problem[0])
    if dialect.connection is None:
        dialect.connect()
    return dialect


def url_of(database: str, query: str = "") -> str:
    return urlunsplit(urlsplit(ADMIN_URL)._replace(path=f"/{database}", query=query))
