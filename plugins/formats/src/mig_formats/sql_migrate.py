"""sql-migrate (rubenv/sql-migrate): every ``.sql`` file of the folder, with ``-- +migrate Up``
and ``-- +migrate Down``; ``-- +migrate StatementBegin`` / ``StatementEnd`` make one statement;
``notransaction`` after ``Up`` or ``Down`` runs the file outside a transaction.

sql-migrate splits a section by the same line rules as goose (a line whose last word ends
with ``;`` ends a statement), so mig reads it with goose's parser and annotations of its own.
A migration's sql-migrate id is its file name; mig's id is the name without ``.sql``.
sql-migrate orders files with a numeric prefix by that number, before the others in name
order; mig's version is that number when every file has a distinct one, else the file's
position in that order.
"""

from __future__ import annotations

import re
from pathlib import Path

from mig import Migration

from .common import make_migration, read_text
from .goose import parse

NAME = "sql-migrate"
#: How deep below the folder the registry lists files for this format (0: the folder only).
LEVELS = 0
#: How a sql-migrate file says it runs outside a transaction (for mig's error messages).
TRANSACTIONAL_HINT = "add notransaction after '-- +migrate Up' (and '-- +migrate Down')"
#: What to do when the line rules cut a statement (for mig's error messages).
SPLIT_HINT = ("sql-migrate ends a statement at each line ending in ';': put a body holding ';'"
              " between '-- +migrate StatementBegin' and '-- +migrate StatementEnd'")
_ANNOTATION = re.compile(r"--\s*\+migrate\s+(.*?)\s*")
_COMMANDS = {"up": "up", "down": "down", "statementbegin": "begin", "statementend": "end"}
_NUMBER = re.compile(r"\d+")


def commands(line: str) -> list[str] | None:
    """The commands of an annotation line (``Up notransaction`` is ``up`` then ``notx``)."""
    match = _ANNOTATION.fullmatch(line.rstrip())
    if match is None:
        return None
    words = match.group(1).split()
    first = _COMMANDS.get(words[0].lower() if words else "")
    options = [w.lower() for w in words[1:]]
    if first is None or any(o != "notransaction" for o in options) or (
        options and first not in ("up", "down")
    ):
        return ["unknown"]
    return [first, *("notx" for _ in options)]


def detect(directory: Path, names: list[str]) -> bool:
    return any(
        n.endswith(".sql")
        and any(commands(line) == ["up"] or commands(line) == ["up", "notx"]
                for line in read_text(directory / n).split("\n") if line.startswith("--"))
        for n in names
    )


def _order(name: str) -> tuple[int, int, str]:
    """sql-migrate's order: a numeric prefix by its number, then the rest by name."""
    match = _NUMBER.match(name)
    return (0, int(match.group()), name) if match else (1, 0, name)


def load(directory: Path, names: list[str]) -> list[Migration]:
    files = sorted((n for n in names if n.endswith(".sql")), key=_order)
    numbers = [_order(n)[1] for n in files]
    numbered = all(_order(n)[0] == 0 for n in files) and len(set(numbers)) == len(numbers)
    out = []
    for position, n in enumerate(files, start=1):
        path = directory / n
        parsed = parse(path, read_text(path), commands, "migrate")
        up = "".join(line + "\n" for line in parsed.sections["up"])
        down = "".join(line + "\n" for line in parsed.sections["down"])
        out.append(make_migration(
            id=path.stem, version=_order(n)[1] if numbered else position,
            name=path.stem.lstrip("0123456789_-").replace("_", " ") or path.stem,
            path=path, up=up, down=down, fmt=NAME,
            up_line=parsed.starts["up"], down_line=parsed.starts["down"],
            transactional=parsed.transactional,
            reversible=bool(parsed.statements["down"]) or not parsed.statements["up"],
            up_statements=tuple(parsed.statements["up"]),
            down_statements=tuple(parsed.statements["down"]),
            metadata={"sql_migrate_id": n, "transactional_hint": TRANSACTIONAL_HINT,
                      "split_hint": SPLIT_HINT},
        ))
    return out
