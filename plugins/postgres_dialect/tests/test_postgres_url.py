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


# -- faults: libpq reads the URL; mig's messages stay clear and never show the password ----


@pytest.mark.parametrize(("url", "message"), [
    ("postgresql://u:p/a#s?s@h/db", "the password seems to hold '/' '?' '#' unencoded"),
    ("postgresql://u:p/w@h/db", "the password seems to hold '/' unencoded"),
    ("postgresql://u:5432/x?connect_timeout=soon@h/db", "seems to hold '/' '?'"),
    ("postgresql://u:pw@[::1/db", "an IPv6 host needs its closing ']'"),
    ("postgresql://[::1/db", "an IPv6 host needs its closing ']'"),
    ("postgresql://u:pw@h/db#frag", "'#' must be percent-encoded (%23)"),
    ("postgresql://u:pw@h/db?foo=1", "unknown parameter 'foo' (not a libpq keyword, nor schema)"),
    ("postgresql://u:pw@h/db?a=1=2", "extra key/value separator"),
    ("postgresql://u:p%00w@h/db", "forbidden value %00 in percent-encoded value"),
    ("postgresql://u:pw@h/%zz", "invalid percent-encoded token"),
    ("postgresql://u:pw@h:0/db", "the port must be a number from 1 to 65535"),
    ("postgresql://u:pw@h:70000/db", "the port must be a number from 1 to 65535"),
    ("postgresql://u:pw@h1:5432,h2:5433/db", "the port must be a number"),
])
def test_faults_are_named_and_the_password_never_shown(url: str, message: str) -> None:
    with pytest.raises(ConfigError) as info:
        parse_url(url)
    text = str(info.value)
    assert message in text, text
    assert text.startswith("malformed postgresql URL '") and "\n" not in text
    secret = url.partition("://")[2].rpartition("@")[0].partition(":")[2]
    if secret:
        assert secret not in text and "***" in text


@pytest.mark.parametrize(("url", "password", "host", "params"), [
    ("postgresql://u:p@ss@h/db", "p@ss", "h", {}),  # the last '@' ends the user part
    ("postgresql://u:p?x@h/db?schema=s", "p?x", "h", {}),  # libpq reads this one right
    ("postgresql://u:p#x@h/db", "p#x", "h", {}),  # and this one
    ("postgresql://u:p%2Fa%23s%3Fs@h/db", "p/a#s?s", "h", {}),
    ("postgresql://u:pw@h/db?application_name=me@there", "pw", "h",
     {"application_name": "me@there"}),
    ("postgresql://h/db?user=u&password=pw&sslmode=disable", "pw", "h", {"sslmode": "disable"}),
])
def test_passwords_and_query_values_libpq_reads(
    url: str, password: str, host: str, params: dict
) -> None:
    t = parse_url(url)
    assert (t.password, t.host, t.database, dict(t.params)) == (password, host, "db", params)


def test_schema_is_taken_out_of_the_query_before_libpq() -> None:
    t = parse_url("postgresql://h/db?sslmode=require&schema=a%20b&application_name=x")
    assert t.schema == "a b" and t.params == {"sslmode": "require", "application_name": "x"}
    assert parse_url("postgresql://h/db?schema=", {"schema": "opt"}).schema == "opt"


def test_a_wrong_scheme_is_not_blamed_on_the_password() -> None:
    with pytest.raises(ConfigError) as info:
        parse_url("mysql://u:p/w@h/db")
    assert "expected postgresql://" in str(info.value) and "p/w" not in str(info.value)
