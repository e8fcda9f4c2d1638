"""Migration checksums (SPEC §2, §10).

Version 1, the only one so far: the UP and DOWN sections exactly as written between their
markers, with a leading byte-order mark dropped and every CRLF or lone CR turned into LF, are
hashed as ``sha256(b"UP\\n" + up + b"\\nDOWN\\n" + down)`` in UTF-8. Header lines are outside
both sections, so editing ``@description`` is not drift. The version is stored beside each
checksum; a future normalisation gets a new number and old rows keep being compared with the
rule they were made by.
"""

from __future__ import annotations

import hashlib

CHECKSUM_VERSION = 1


def normalise(text: str) -> str:
    """Drop a leading BOM and normalise line endings to LF."""
    if text.startswith("\ufeff"):
        text = text[1:]
    return text.replace("\r\n", "\n").replace("\r", "\n")


def checksum(up: str, down: str, version: int = CHECKSUM_VERSION) -> str:
    """The hex SHA-256 of a migration's sections under checksum rule ``version``."""
    if version != 1:
        raise ValueError(f"unknown checksum version {version}")
    data = "UP\n" + normalise(up) + "\nDOWN\n" + normalise(down)
    return hashlib.sha256(data.encode("utf-8")).hexdigest()
