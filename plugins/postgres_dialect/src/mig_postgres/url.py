"""``postgresql://`` URLs, read by libpq itself (``psycopg.conninfo``), plus mig's ``?schema=``.

libpq decodes the URL and knows its keywords; mig only takes ``schema`` out of the query
before, checks that the URL names one database and one port after, and turns libpq's
complaints into messages that never show the password. psycopg (and libpq with it) is
imported on the first parse, not with the plugin.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote, unquote, urlsplit, urlunsplit

from mig.errors import ConfigError
from mig.urls import malformed_url, password_span, unencoded_in_password

SCHEMES = ("postgresql", "postgres")
URL_FORMS = "postgresql://user:password@host:port/database[?schema=name]"
#: Seconds a connection attempt may take before it fails (libpq waits for ever otherwise).
DEFAULT_CONNECT_TIMEOUT = 10
OPTIONS = ("schema", "connect_timeout")
#: libpq keywords that :class:`Target` holds in fields of its own.
_FIELDS = ("user", "password", "host", "port", "dbname", "connect_timeout")
#: libpq messages about the query string, whose quoted part is a parameter, never a password.
_QUERY_MESSAGES = ("invalid URI query parameter", "key/value separator")


@dataclass(frozen=True)
class Target:
    """Where a ``postgresql://`` URL points. ``params`` are further libpq keywords from the
    query string (``sslmode``, ``application_name``, ...), passed through as they are."""

    database: str
    user: str | None = None
    password: str | None = None
    host: str | None = None
    port: int | None = None
    schema: str | None = None
    connect_timeout: float = DEFAULT_CONNECT_TIMEOUT
    params: Mapping[str, str] = field(default_factory=dict)

    def connect_kwargs(self, database: str | None = None) -> dict[str, Any]:
        kwargs: dict[str, Any] = {
            "dbname": database or self.database,
            "connect_timeout": max(1, round(self.connect_timeout)),
        }
        for key in ("user", "password", "host", "port"):
            value = getattr(self, key)
            if value is not None:
                kwargs[key] = value
        kwargs.update(self.params)
        return kwargs


def parse_url(url: str, options: Mapping[str, Any] | None = None) -> Target:
    """The server, database and schema a ``postgresql://`` (or ``postgres://``) URL names.

    User, password and database are percent-decoded. ``?schema=`` wins over the ``schema``
    option; every other query parameter must be a libpq connection keyword.
    """
    options = dict(options or {})
    unknown = sorted(set(options) - set(OPTIONS))
    if unknown:
        raise ConfigError(
            f"unknown key {unknown[0]!r} in [mig.options.postgres] (known: {', '.join(OPTIONS)})"
        )
    scheme, sep, rest = url.partition("://")
    if not sep or scheme.lower().split("+", 1)[0] not in SCHEMES:
        raise _malformed(url, f"expected {URL_FORMS}", hint=False)
    libpq_url, url_schema = _for_libpq(url, rest)
    info = _conninfo(url, libpq_url)
    database = info.pop("dbname", "")
    if not database or "/" in database:
        raise _malformed(url, f"name one database, as in {URL_FORMS}")
    port = info.pop("port", None)
    if port is not None and not (port.isdigit() and 0 < int(port) < 65536):
        raise _malformed(url, "the port must be a number from 1 to 65535")
    schema = url_schema or options.get("schema")
    if schema is not None and (not isinstance(schema, str) or not schema):
        raise ConfigError(f"postgres.schema must be a non-empty string, not {schema!r}")
    return Target(
        database=database,
        user=info.pop("user", None) or None,
        password=info.pop("password", None),
        host=info.pop("host", None) or None,
        port=int(port) if port is not None else None,
        schema=schema,
        connect_timeout=_timeout(url, info.pop("connect_timeout", None), options),
        params={k: v for k, v in info.items() if k not in _FIELDS},
    )


def _for_libpq(url: str, rest: str) -> tuple[str, str | None]:
    """The URL libpq is given (its own scheme, without ``schema=``) and the schema it named.

    A password holding ``@`` (and no other reserved character) is encoded first: the last
    ``@`` ends the user part, as for :func:`mig.urls.mask_url`, where libpq takes the first.
    """
    span = password_span(url)
    if span is not None and unencoded_in_password(url) == "@":
        offset = len(url) - len(rest)
        start, end = span[0] - offset, span[1] - offset
        rest = rest[:start] + rest[start:end].replace("@", "%40") + rest[end:]
    # libpq's reading: the user part ends at the first '@' before any '/'; the query
    # starts at the first '?' after it.
    stop = min((i for i in (rest.find("@"), rest.find("/")) if i >= 0), default=-1)
    after = stop + 1 if stop >= 0 and rest[stop] == "@" else 0
    head, tail = rest[:after], rest[after:]
    if "#" in tail:
        raise _malformed(url, "'#' must be percent-encoded (%23)")
    base, _, query = tail.partition("?")
    schema = None
    kept = []
    for pair in query.split("&") if query else ():
        key, _, value = pair.partition("=")
        if key == "schema":
            schema = unquote(value) or None
        elif pair:
            kept.append(pair)
    libpq_url = f"postgresql://{head}{base}" + ("?" + "&".join(kept) if kept else "")
    return libpq_url, schema


def _conninfo(url: str, libpq_url: str) -> dict[str, str]:
    from psycopg import ProgrammingError
    from psycopg.conninfo import conninfo_to_dict

    try:
        info = conninfo_to_dict(libpq_url)
    except ProgrammingError as exc:
        raise _malformed(url, _libpq_reason(str(exc))) from None
    return {k: str(v) for k, v in info.items() if v is not None}


def _libpq_reason(message: str) -> str:
    """libpq's complaint without its quoted part (a piece of the URL, maybe the password),
    unless it names a query parameter."""
    first = message.strip().splitlines()[0] if message.strip() else "libpq cannot read it"
    reason, sep, quoted = first.rpartition(': "')
    if not sep:
        return first
    if 'matching "]"' in reason:
        return "an IPv6 host needs its closing ']'"
    if reason == "invalid URI query parameter":
        return f"unknown parameter {quoted.rstrip(chr(34))!r} (not a libpq keyword, nor schema)"
    if any(reason.startswith(m) or m in reason for m in _QUERY_MESSAGES):
        return f"{reason}: {quoted.rstrip(chr(34))!r}"
    return reason


def _timeout(url: str, value: str | None, options: Mapping[str, Any]) -> float:
    timeout: Any = options.get("connect_timeout", DEFAULT_CONNECT_TIMEOUT)
    if value is not None:
        try:
            timeout = float(value)
        except ValueError:
            raise _malformed(
                url, f"connect_timeout must be a number of seconds, not {value!r}"
            ) from None
    if isinstance(timeout, bool) or not isinstance(timeout, int | float) or timeout <= 0:
        raise ConfigError(
            f"postgres.connect_timeout must be a positive number of seconds, not {timeout!r}"
        )
    return float(timeout)


def _malformed(url: str, reason: str, *, hint: bool = True) -> ConfigError:
    return malformed_url("postgresql", url, reason, hint=hint)


def with_database(url: str, database: str) -> str:
    """``url`` naming ``database`` instead (the same server, user and parameters)."""
    parts = urlsplit(url)
    return urlunsplit(parts._replace(path="/" + quote(database, safe="")))
