"""Database URLs in messages: a password never reaches a person's screen or a log.

A password may hold any character, and people paste them unencoded: ``u:p/a#s?s@h/db`` is
the user ``u`` with the password ``p/a#s?s`` to a parser that reads it as the user meant it,
and the host ``u`` with the port ``p`` to one that follows RFC 3986. So masking trusts no
parser: the password is everything from the first ``:`` after ``scheme://`` to the last
``@``. When that reading is wrong (an ``@`` in a query value), more is masked than needed,
never less.
"""

from __future__ import annotations

import re

from .errors import ConfigError

MASK = "***"
#: A ``password`` parameter in a URL's query or a ``key=value`` connection string; its value
#: runs to the next ``&`` or blank (a quoted value to its closing quote).
_PASSWORD_PARAM = re.compile(r"(?:^|(?<=[?&;\s]))password\s*=\s*('(?:[^'\\]|\\.)*'?|[^&\s]*)",
                             re.IGNORECASE)
#: What a password must not hold unencoded for the URL to say what its author meant.
RESERVED_IN_PASSWORD = "/?#@"


def password_span(url: str) -> tuple[int, int] | None:
    """Where the user-part password of ``url`` is (start, end), or None when it has none.
    Empty passwords (``u:@h``) count as none."""
    start = url.find("://")
    if start < 0:
        return None
    start += 3
    at = url.rfind("@")
    colon = url.find(":", start, at) if at > start else -1
    if colon < 0 or colon + 1 == at:
        return None
    return colon + 1, at


def userinfo_password(url: str) -> str | None:
    """The password as written in ``url``'s user part (still percent-encoded), or None."""
    span = password_span(url)
    return None if span is None else url[span[0]:span[1]]


def unencoded_in_password(url: str) -> str:
    """The characters of :data:`RESERVED_IN_PASSWORD` that ``url``'s password holds
    unencoded (empty when it has none or no password)."""
    password = userinfo_password(url) or ""
    return "".join(ch for ch in RESERVED_IN_PASSWORD if ch in password)


def mask_url(url: str) -> str:
    """``url`` with every password (in the user part or a ``password=`` parameter) as
    ``***``, whatever else is wrong with it."""
    spans = [m.span(1) for m in _PASSWORD_PARAM.finditer(url) if m.group(1)]
    span = password_span(url)
    if span is not None:
        spans.append(span)
    if not spans:
        return url
    merged: list[list[int]] = []
    for start, end in sorted(spans):
        if merged and start <= merged[-1][1]:
            merged[-1][1] = max(merged[-1][1], end)
        else:
            merged.append([start, end])
    out: list[str] = []
    pos = 0
    for start, end in merged:
        out += [url[pos:start], MASK]
        pos = end
    out.append(url[pos:])
    return "".join(out)


def malformed_url(kind: str, url: str, reason: str, *, hint: bool = True) -> ConfigError:
    """The error for a ``kind`` URL (``"postgresql"``, ...) that cannot be read, shown
    masked. When its password holds an unencoded ``/``, ``?`` or ``#``, which end the user
    part early, that is the likely fault and replaces ``reason`` (which a parser may have
    built from a piece of the password); ``hint=False`` keeps ``reason`` (a wrong scheme)."""
    found = unencoded_in_password(url).replace("@", "")
    if found and hint:
        reason = (
            f"the password seems to hold {' '.join(repr(c) for c in found)} unencoded;"
            " percent-encode them (/ as %2F, ? as %3F, # as %23, @ as %40)"
        )
    return ConfigError(f"malformed {kind} URL {mask_url(url)!r}: {reason}")
