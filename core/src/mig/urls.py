"""Database URLs in messages: a password never reaches a person's screen or a log."""

from __future__ import annotations

import re
from urllib.parse import urlsplit, urlunsplit


def mask_url(url: str) -> str:
    """``url`` with the password (in the user part or a ``password=`` parameter) as ``***``."""
    try:
        parts = urlsplit(url)
    except ValueError:
        return re.sub(r"(://[^:/@]*:)[^@]*@", r"\1***@", url)
    netloc = parts.netloc
    userinfo, at, hostport = netloc.rpartition("@")
    if at and userinfo.partition(":")[2]:
        netloc = f"{userinfo.partition(':')[0]}:***@{hostport}"
    query = re.sub(r"(^|&)(password=)[^&]*", r"\1\2***", parts.query)
    if netloc == parts.netloc and query == parts.query:
        return url
    return urlunsplit(parts._replace(netloc=netloc, query=query))
