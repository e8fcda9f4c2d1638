"""The cross-dialect suite: each test runs on SQLite, PostgreSQL and MariaDB/MySQL.

The ``dialect`` fixture gives a :class:`DialectTarget`: a fresh, empty database of one kind
(a file for SQLite; ``CREATE DATABASE mig_test_<random>`` on the servers, dropped afterwards),
its URL, the bundled example's migrations written for that dialect, and helpers that look at
the database through the driver directly (never through mig). ``dialect.project(tmp_path)``
makes a mig project pointed at it.

The servers are found at ``MIG_TEST_POSTGRES`` (default
``postgresql://postgres@127.0.0.1:5432/test``) and ``MIG_TEST_MYSQL`` (default
``mysql://root@127.0.0.1:3306/test``); each URL's database is the maintenance database the
test databases are created from. An unreachable server skips its tests with the reason,
unless ``MIG_REQUIRE_SERVERS=1`` (as in CI), which makes them fail.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from dialect_targets import DialectTarget, new_target

DIALECTS = [
    pytest.param("sqlite", id="sqlite"),
    pytest.param("postgres", id="postgres", marks=pytest.mark.server),
    pytest.param("mysql", id="mysql", marks=pytest.mark.server),
]


@pytest.fixture(params=DIALECTS)
def dialect(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[DialectTarget]:
    """A fresh empty database, once per dialect."""
    target = new_target(request.param, tmp_path)
    try:
        yield target
    finally:
        target.drop()
