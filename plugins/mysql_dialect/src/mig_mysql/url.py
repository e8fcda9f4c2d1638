"""``mysql://`` and ``mariadb://`` URLs: the one parser the dialect and its backups share.

``scheme://[user[:password]@]host[:port]/database[?param=value&...]``, with user, password,
host and database percent-decoded. As with urllib, the user part ends at the last ``@``
before the host, so ``u:p@ss@h`` is the password ``p@ss``; a ``/``, ``?`` or ``#`` in a
password must be percent-encoded, and an error says so (without showing it).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qsl, quote, unquote

from mig.errors import ConfigError
from mig.urls import malformed_url

SCHEMES = ("mysql", "mariadb")
URL_FORMS = "mysql://user:password@host:port/database (or mariadb://...)"
DEFAULT_PORT = 3306
#: Seconds a connection attempt may take before it fails.
DEFAULT_CONNECT_TIMEOUT = 10
OPTIONS = ("connect_timeout",)
#: Query parameters passed to PyMySQL as they are.
URL_PARAMETERS = (
    "charset", "unix_socket", "ssl_ca", "ssl_cert", "ssl_key", "ssl_verify_cert",
    "ssl_verify_identity", "ssl_disabled",
)
_FLAGS = ("ssl_verify_cert", "ssl_verify_identity", "ssl_disabled")


@dataclass(frozen=True)
class Target:
    """Where a ``mysql://`` URL points."""

    database: str
    user: str | None = None
    password: str | None = None
    host: str | None = None
    port: int | None = None
    connect_timeout: float = DEFAULT_CONNECT_TIMEOUT
    params: Mapping[str, Any] = field(default_factory=dict)

    def connect_kwargs(self, database: str | None = None) -> dict[str, Any]:
        """PyMySQL's keyword arguments; ``database=""`` connects to no database."""
        kwargs: dict[str, Any] = {
            "host": self.host or "localhost",
            "port": self.port or DEFAULT_PORT,
            "user": self.user,
            "password": self.password or "",
            "charset": "utf8mb4",
            "connect_timeout": self.connect_timeout,
            "autocommit": True,
        }
        kwargs.update(self.params)
        db = self.database if database is None else database
        if db:
            kwargs["database"] = db
        return kwargs


@dataclass(frozen=True)
class Parts:
    """A URL cut at its delimiters, nothing decoded: ``scheme://userinfo@hostport`` then
    ``path`` (with its ``/``) and ``query`` (without its ``?``)."""

    scheme: str
    userinfo: str | None
    hostport: str
    path: str
    query: str

    @property
    def authority(self) -> str:
        return self.hostport if self.userinfo is None else f"{self.userinfo}@{self.hostport}"


def split_url(url: str) -> Parts:
    """Cut ``url`` into :class:`Parts`; a ConfigError when it is not a mysql URL or holds an
    unencoded ``#``."""
    scheme, sep, rest = url.partition("://")
    if not sep or scheme.lower().split("+", 1)[0] not in SCHEMES:
        raise malformed_url("mysql", url, f"expected {URL_FORMS}", hint=False)
    if "#" in rest:
        raise malformed_url("mysql", url, "'#' must be percent-encoded (%23)")
    end = min((i for i in (rest.find("/"), rest.find("?")) if i >= 0), default=len(rest))
    authority, tail = rest[:end], rest[end:]
    userinfo, at, hostport = authority.rpartition("@")
    path, _, query = tail.partition("?")
    return Parts(scheme, userinfo if at else None, hostport, path, query)


def parse_url(url: str, options: Mapping[str, Any] | None = None) -> Target:
    """The server and database a ``mysql://`` (or ``mariadb://``) URL names."""
    options = dict(options or {})
    unknown = sorted(set(options) - set(OPTIONS))
    if unknown:
        raise ConfigError(
            f"unknown key {unknown[0]!r} in [mig.options.mysql] (known: {', '.join(OPTIONS)})"
        )
    parts = split_url(url)
    host, port = _host_port(url, parts.hostport)
    database = unquote(parts.path[1:])
    if not database or "/" in database:
        raise malformed_url("mysql", url, f"name one database, as in {URL_FORMS}")
    user = password = None
    if parts.userinfo is not None:
        name, colon, secret = parts.userinfo.partition(":")
        user = unquote(name) or None
        password = unquote(secret) if colon else None
    params, timeout = _query(url, parts.query, options.get("connect_timeout"))
    return Target(database, user, password, host, port, timeout, params)


def with_database(url: str, database: str) -> str:
    """``url`` naming ``database`` instead (the same server, user and parameters)."""
    parts = split_url(url)
    query = f"?{parts.query}" if parts.query else ""
    return f"{parts.scheme}://{parts.authority}/{quote(database, safe='')}{query}"


def _host_port(url: str, hostport: str) -> tuple[str | None, int | None]:
    if hostport.startswith("["):  # an IPv6 address
        close = hostport.find("]")
        if close < 0:
            raise malformed_url("mysql", url, "an IPv6 host needs its closing ']'")
        host, rest = hostport[1:close], hostport[close + 1:]
        if rest and not rest.startswith(":"):
            raise malformed_url("mysql", url, "only ':port' may follow an IPv6 host's ']'")
        port = rest[1:]
    else:
        host, _, port = hostport.partition(":")
    if port and not (port.isdigit() and 0 < int(port) < 65536):
        raise malformed_url("mysql", url, "the port must be a number from 1 to 65535")
    return unquote(host) or None, int(port) if port else None


def _query(url: str, query: str, timeout: Any) -> tuple[dict[str, Any], float]:
    params: dict[str, Any] = {}
    timeout = DEFAULT_CONNECT_TIMEOUT if timeout is None else timeout
    for key, value in parse_qsl(query, keep_blank_values=True):
        if key == "connect_timeout":
            try:
                timeout = float(value)
            except ValueError:
                raise malformed_url(
                    "mysql", url, f"connect_timeout must be a number of seconds, not {value!r}"
                ) from None
        elif key in _FLAGS:
            params[key] = value.lower() in ("1", "true", "yes", "on")
        elif key in URL_PARAMETERS:
            params[key] = value
        else:
            raise malformed_url(
                "mysql", url, f"unknown parameter {key!r} in the mysql URL (known:"
                f" connect_timeout, {', '.join(URL_PARAMETERS)})"
            )
    if isinstance(timeout, bool) or not isinstance(timeout, int | float) or timeout <= 0:
        raise ConfigError(
            f"mysql.connect_timeout must be a positive number of seconds, not {timeout!r}"
        )
    return params, float(timeout)
