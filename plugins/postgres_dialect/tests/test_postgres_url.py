"""URL parsing and masking (no server needed)."""

from __future__ import annotations

from pathlib import Path

import pytest
from mig import ConfigError
from mig_postgres import PostgresDialect
from mig_postgres.dialect import DEFAULT_CONNECT_TIMEOUT, mask_url, parse_url


def test_full_url() -> None:
    t = parse_url(
        "postgresql://alice:s%40cret@db.example.com:5433/app?schema=billing&sslmode=require"
    )
    assert (t.user, t.password, t.host, t.port, t.database, t.schema) == (
        "alice", "s@cret", "db.example.com", 5433, "app", "billing"
    )
    assert t.params == {"sslmode": "require"}
    kwargs = t.connect_kwargs()
    assert kwargs["dbname"] == "app" and kwargs["sslmode"] == "require"
    assert kwargs["password"] == "s@cret" and kwargs["port"] == 5433


@pytest.mark.parametrize("url", [
    "postgres://u@h/db", "postgresql://u@h/db", "POSTGRESQL://u@h/db",
    "postgresql+psycopg://u@h/db",
])
def test_schemes(url: str) -> None:
    assert parse_url(url).database == "db"


def test_minimal_url_leaves_the_rest_to_libpq() -> None:
    t = parse_url("postgresql:///app")
    assert (t.user, t.password, t.host, t.port, t.schema) == (None, None, None, None, None)
    assert t.connect_kwargs() == {"dbname": "app", "connect_timeout": DEFAULT_CONNECT_TIMEOUT}


def test_socket_folder_and_ipv6_hosts() -> None:
    assert parse_url("postgresql://u@%2Fvar%2Frun%2FPostgres/db").host == "/var/run/Postgres"
    assert parse_url("postgresql://u@[::1]:5432/db").host == "::1"


def test_schema_from_options_and_url() -> None:
    assert parse_url("postgresql://h/db", {"schema": "app"}).schema == "app"
    assert parse_url("postgresql://h/db?schema=url", {"schema": "app"}).schema == "url"


@pytest.mark.parametrize(("url", "options", "message"), [
    ("mysql://h/db", {}, "malformed postgresql URL"),
    ("postgresql://h", {}, "name one database"),
    ("postgresql://h/", {}, "name one database"),
    ("postgresql://h/a/b", {}, "name one database"),
    ("postgresql://h:port/db", {}, "the port must be a number"),
    ("postgresql://h/db", {"shema": "x"}, "unknown key 'shema' in [mig.options.postgres]"),
    ("postgresql://h/db", {"schema": 3}, "postgres.schema must be a non-empty string"),
    ("postgresql://h/db", {"connect_timeout": 0}, "positive number of seconds"),
    ("postgresql://h/db?connect_timeout=soon", {}, "connect_timeout must be a number"),
])
def test_bad_urls_and_options(url: str, options: dict, message: str) -> None:
    with pytest.raises(ConfigError) as info:
        parse_url(url, options)
    assert message in str(info.value)
    assert info.value.exit_code == 2


def test_errors_never_show_the_password() -> None:
    with pytest.raises(ConfigError) as info:
        parse_url("postgresql://u:hunter22@h:port/db")
    assert "hunter22" not in str(info.value) and "u:***@h" in str(info.value)


@pytest.mark.parametrize(("url", "shown"), [
    ("postgresql://u:pw@h:5432/db", "postgresql://u:***@h:5432/db"),
    ("postgresql://u:p%40w@h/db?schema=s", "postgresql://u:***@h/db?schema=s"),
    ("postgresql://u@h/db", "postgresql://u@h/db"),
    ("postgresql://h/db?sslmode=require&password=pw",
     "postgresql://h/db?sslmode=require&password=***"),
])
def test_display_url_masks_the_password(url: str, shown: str) -> None:
    assert mask_url(url) == shown
    assert PostgresDialect(url, base_dir=Path("."), options={}).display_url() == shown


def test_dialect_attributes() -> None:
    assert PostgresDialect.name == "postgres"
    assert PostgresDialect.schemes == ("postgresql", "postgres")
    assert PostgresDialect.transactional_ddl is True
    assert PostgresDialect.paramstyle == "format"
    assert set(PostgresDialect.column_types) == {"key", "text", "timestamp", "bool", "int", "real"}
