"""URL parsing and masking (no server needed)."""

from __future__ import annotations

from pathlib import Path

import pytest
from mig import ConfigError
from mig_mysql import MySQLDialect
from mig_mysql.dialect import mask_url, parse_url


def test_full_url() -> None:
    t = parse_url("mysql://alice:s%40cret@db.example.com:3307/app?ssl_ca=/ca.pem&ssl_disabled=0")
    assert (t.user, t.password, t.host, t.port, t.database) == (
        "alice", "s@cret", "db.example.com", 3307, "app"
    )
    kwargs = t.connect_kwargs()
    assert kwargs["database"] == "app" and kwargs["password"] == "s@cret"
    assert kwargs["ssl_ca"] == "/ca.pem" and kwargs["ssl_disabled"] is False
    assert kwargs["charset"] == "utf8mb4" and kwargs["autocommit"] is True
    assert "database" not in t.connect_kwargs("")


@pytest.mark.parametrize("url", ["mysql://u@h/db", "mariadb://u@h/db", "mysql+pymysql://u@h/db"])
def test_schemes(url: str) -> None:
    assert parse_url(url).database == "db"


def test_defaults() -> None:
    kwargs = parse_url("mysql:///app").connect_kwargs()
    assert (kwargs["host"], kwargs["port"], kwargs["user"], kwargs["password"]) == (
        "localhost", 3306, None, ""
    )


@pytest.mark.parametrize(("url", "options", "message"), [
    ("postgresql://h/db", {}, "malformed mysql URL"),
    ("mysql://h", {}, "name one database"),
    ("mysql://h/a/b", {}, "name one database"),
    ("mysql://h:port/db", {}, "the port must be a number"),
    ("mysql://h/db?schema=x", {}, "unknown parameter 'schema' in the mysql URL"),
    ("mysql://h/db", {"timeout": 1}, "unknown key 'timeout' in [mig.options.mysql]"),
    ("mysql://h/db", {"connect_timeout": -1}, "positive number of seconds"),
])
def test_bad_urls_and_options(url: str, options: dict, message: str) -> None:
    with pytest.raises(ConfigError) as info:
        parse_url(url, options)
    assert message in str(info.value)


@pytest.mark.parametrize(("url", "shown"), [
    ("mysql://u:pw@h:3306/db", "mysql://u:***@h:3306/db"),
    ("mariadb://u:p%40w@h/db", "mariadb://u:***@h/db"),
    ("mysql://u@h/db", "mysql://u@h/db"),
    ("mysql://u:@h/db", "mysql://u:@h/db"),
])
def test_display_url_masks_the_password(url: str, shown: str) -> None:
    assert mask_url(url) == shown
    assert MySQLDialect(url, base_dir=Path("."), options={}).display_url() == shown


def test_dialect_attributes() -> None:
    assert MySQLDialect.name == "mysql"
    assert MySQLDialect.schemes == ("mysql", "mariadb")
    assert MySQLDialect.transactional_ddl is False
    assert MySQLDialect.column_types["key"].startswith("VARCHAR(191)")


# -- faults: one parser, clear messages, never the password ---------------------------------


@pytest.mark.parametrize(("url", "message"), [
    ("mysql://u:p/a#s?s@h/db", "the password seems to hold '/' '?' '#' unencoded"),
    ("mysql://u:p/w@h/db", "the password seems to hold '/' unencoded"),
    ("mysql://u:p?w@h/db", "the password seems to hold '?' unencoded"),
    ("mysql://u:pw@[::1/db", "an IPv6 host needs its closing ']'"),
    ("mysql://[::1/db", "an IPv6 host needs its closing ']'"),
    ("mysql://u:pw@[::1]x/db", "only ':port' may follow an IPv6 host's ']'"),
    ("mysql://u:pw@h/db#frag", "'#' must be percent-encoded (%23)"),
    ("mysql://u:pw@h:0/db", "the port must be a number from 1 to 65535"),
    ("mysql://u:pw@h:3306:1/db", "the port must be a number"),
    ("mysql://u:pw@h/db?connect_timeout=soon", "connect_timeout must be a number of seconds"),
    ("mysql://u:pw@h/db?password=x", "unknown parameter 'password'"),
    ("mysql://u:pw@h/", "name one database"),
])
def test_faults_are_named_and_the_password_never_shown(url: str, message: str) -> None:
    with pytest.raises(ConfigError) as info:
        parse_url(url)
    text = str(info.value)
    assert message in text, text
    assert text.startswith("malformed mysql URL '") and "\n" not in text
    assert "pw" not in text.replace("password", "")
    secret = url.partition("://")[2].rpartition("@")[0].partition(":")[2]
    if secret:
        assert secret not in text and "***" in text


@pytest.mark.parametrize(("url", "expected"), [
    ("mysql://u:p@ss@h/db", ("u", "p@ss", "h", None, "db")),
    ("mysql://u:p%2Fa%23s%3Fs@h:3307/db", ("u", "p/a#s?s", "h", 3307, "db")),
    ("mysql://u@[::1]:3306/db", ("u", None, "::1", 3306, "db")),
    ("mysql://u:@[fe80::1]/d%20b", ("u", "", "fe80::1", None, "d b")),
    ("mysql://%75ser:pw@db.example.com/app", ("user", "pw", "db.example.com", None, "app")),
    ("mysql://h/db?", (None, None, "h", None, "db")),
])
def test_what_the_parser_reads(url: str, expected: tuple) -> None:
    t = parse_url(url)
    assert (t.user, t.password, t.host, t.port, t.database) == expected


@pytest.mark.parametrize(("url", "database", "expected"), [
    ("mysql://u:p@ss@h:1/db?charset=utf8", "other", "mysql://u:p@ss@h:1/other?charset=utf8"),
    ("mariadb://h/db", "a b#", "mariadb://h/a%20b%23"),
    ("mysql://u@[::1]/db", "x", "mysql://u@[::1]/x"),
])
def test_with_database(url: str, database: str, expected: str) -> None:
    from mig_mysql.url import with_database

    assert with_database(url, database) == expected
    assert parse_url(expected).database == database
