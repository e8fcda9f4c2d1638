"""dbmate: one ``{version}_{name}.sql`` file with ``-- migrate:up`` and ``-- migrate:down``
blocks; ``transaction:false`` after a block's marker runs it outside a transaction."""

from __future__ import annotations

import re
from pathlib import Path

from mig import Migration, MigrationFileError

from .common import line_at, make_migration, read_text

NAME = "dbmate"
#: How deep below the folder the registry lists files for this format (0: the folder only).
LEVELS = 0
#: How a dbmate file says it runs outside a transaction (for mig's error messages).
TRANSACTIONAL_HINT = "add transaction:false after '-- migrate:up' (and '-- migrate:down')"
# dbmate takes every ``.sql`` file whose name starts with digits; the digits are its version.
FILE = re.compile(r"(\d+)(.*)\.sql")
_UP = re.compile(r"(?m)^--\s*migrate:up(?:[^\S\n]+(.*))?[^\S\n]*$")
_DOWN = re.compile(r"(?m)^--\s*migrate:down(?:[^\S\n]+(.*))?[^\S\n]*$")
_BLANK_OR_COMMENT = re.compile(r"\s*(?:--.*)?")


def detect(directory: Path, names: list[str]) -> bool:
    return any(
        FILE.fullmatch(n) is not None and _UP.search(read_text(directory / n)) is not None
        for n in names
    )


def _options(text: str | None) -> dict[str, str]:
    options = {}
    for pair in (text or "").split():
        key, sep, value = pair.partition(":")
        if sep and ":" not in value:
            options[key] = value
    return options


def load(directory: Path, names: list[str]) -> list[Migration]:
    out = []
    for n in names:
        match = FILE.fullmatch(n)
        if match is None:
            continue
        path = directory / n
        text = read_text(path)
        up = _UP.search(text)
        if up is None:
            raise MigrationFileError("dbmate file has no '-- migrate:up' block", path, 1)
        down = _DOWN.search(text)
        if down is not None and down.start() < up.start():
            raise MigrationFileError(
                "'-- migrate:down' before '-- migrate:up'", path, line_at(text, down.start())
            )
        for number, line in enumerate(text[: up.start()].split("\n"), start=1):
            if not _BLANK_OR_COMMENT.fullmatch(line):
                raise MigrationFileError("SQL before '-- migrate:up'", path, number)
        up_start = min(up.end() + 1, len(text))
        if down is None:
            up_sql, down_sql, down_line = text[up_start:], "", 0
        else:
            up_sql = text[up_start : down.start()]
            down_sql = text[min(down.end() + 1, len(text)) :]
            down_line = line_at(text, down.start()) + 1
        up_tx = _options(up.group(1)).get("transaction") != "false"
        down_tx = down is None or _options(down.group(1)).get("transaction") != "false"
        title = match.group(2).lstrip("_")
        out.append(make_migration(
            id=path.stem, version=int(match.group(1)), name=title.replace("_", " ") or n,
            path=path, up=up_sql, down=down_sql, fmt=NAME,
            up_line=line_at(text, up.start()) + 1, down_line=down_line,
            # mig has one flag for both directions: a block dbmate runs outside a
            # transaction must not be run inside one.
            transactional=up_tx and down_tx,
            metadata={"dbmate_version": match.group(1), "transactional_hint": TRANSACTIONAL_HINT},
        ))
    return out
