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
