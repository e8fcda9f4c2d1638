"""Fixtures for the MySQL plugin's tests: a fresh database per test on the server at
``MIG_TEST_MYSQL`` (default ``mysql://root@127.0.0.1:3306/test``). An unreachable server skips
these tests, unless ``MIG_REQUIRE_SERVERS=1`` (as in CI) makes them fail."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from mig_mysql import MySQLDialect
from mysql_server import admin, url_of


@pytest.fixture
def database() -> Iterator[str]:
    """The name of a fresh, empty database, dropped after the test."""
    name = f"mig_test_{uuid.uuid4().hex[:12]}"
    maintenance = admin()
    maintenance.execute(f"CREATE DATABASE `{name}` CHARACTER SET utf8mb4")
    try:
        yield name
    finally:
        maintenance.execute(f"DROP DATABASE IF EXISTS `{name}`")
        maintenance.close()


@pytest.fixture
def my_url(database: str) -> str:
    """The URL of a fresh, empty database."""
    return url_of(database)


@pytest.fixture
def my(my_url: str, tmp_path: Path) -> Iterator[MySQLDialect]:
    """A connected dialect on a fresh, empty database."""
    dialect = MySQLDialect(my_url, base_dir=tmp_path, options={})
    dialect.connect()
    yield dialect
    dialect.close()
