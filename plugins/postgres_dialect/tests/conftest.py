"""Fixtures for the PostgreSQL plugin's tests: a fresh database per test on the server at
``MIG_TEST_POSTGRES`` (default ``postgresql://postgres@127.0.0.1:5432/test``, whose database
is the maintenance database to create from). An unreachable server skips these tests, unless
``MIG_REQUIRE_SERVERS=1`` (as in CI) makes them fail."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from mig_postgres import PostgresDialect
from postgres_server import admin, url_of


@pytest.fixture
def database() -> Iterator[str]:
    """The name of a fresh, empty database, dropped after the test."""
    name = f"mig_test_{uuid.uuid4().hex[:12]}"
    maintenance = admin()
    maintenance.execute(f'CREATE DATABASE "{name}"')
    try:
        yield name
    finally:
        maintenance.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        maintenance.close()


@pytest.fixture
def pg_url(database: str) -> str:
    """The URL of a fresh, empty database."""
    return url_of(database)


@pytest.fixture
def pg(pg_url: str, tmp_path: Path) -> Iterator[PostgresDialect]:
    """A connected dialect on a fresh, empty database."""
    dialect = PostgresDialect(pg_url, base_dir=tmp_path, options={})
    dialect.connect()
    yield dialect
    dialect.close()
