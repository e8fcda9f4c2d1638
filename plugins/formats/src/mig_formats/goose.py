"""goose: ``{version}_{name}.sql`` files with ``-- +goose Up`` / ``-- +goose Down``.

goose splits a section into statements itself, by lines: a statement ends on a line whose
last word (before a ``--`` comment) ends with ``;``, except between ``-- +goose
StatementBegin`` and ``-- +goose StatementEnd``, which make one statement. mig keeps those
statements exactly as goose would send them (the migration carries them pre-split).
``-- +goose NO TRANSACTION`` runs the file outside a transaction; ``-- +goose ENVSUB ON`` /
``OFF`` substitutes ``${VAR}`` from the environment in the statements between them.
Annotations are matched without regard to case or inner spacing, as goose 3.x does
(``-- +goose Up`` of older releases and ``-- +goose up`` of newer ones alike).
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable
from pathlib import Path

from mig import Migration, MigrationFileError, Statement

from .common import make_migration, read_text

NAME = "goose"
#: How deep below the folder the registry lists files for this format (0: the folder only).
LEVELS = 0
#: How a goose file says it runs outside a transaction (for mig's error messages).
TRANSACTIONAL_HINT = "add '-- +goose NO TRANSACTION' to the file"
#: What to do when goose's line rules cut a statement (for mig's error messages).
SPLIT_HINT = ("goose ends a statement at each line ending in ';': put a body holding ';'"
              " between '-- +goose StatementBegin' and '-- +goose StatementEnd'")
FILE = re.compile(r"(\d+)_(.+)\.(sql|go)")
# "-- +goose <command>" at the start of a line.
_ANNOTATION = re.compile(r"--\s*\+goose\s+(.*?)\s*")
_COMMANDS = {
    "up": "up", "down": "down", "statementbegin": "begin", "statementend": "end",
    "notransaction": "notx", "envsubon": "envon", "envsuboff": "envoff",
    "envsubston": "envon", "envsubstoff": "envoff",
}
_ENV = re.compile(r"\$(?:\{([A-Za-z_]\w*)(?::?-([^}]*))?\}|([A-Za-z_]\w*))")


def _command(line: str) -> str | None:
    match = _ANNOTATION.fullmatch(line.rstrip())
    if match is None:
        return None
    return _COMMANDS.get("".join(match.group(1).lower().split()), "unknown:" + match.group(1))


def detect(directory: Path, names: list[str]) -> bool:
    return any(
        n.endswith(".sql") and FILE.fullmatch(n) is not None
        and any(_command(line) == "up" for line in read_text(directory / n).split("\n"))
        for n in names
    )


def _ends_statement(line: str) -> bool:
    last = ""
    for word in line.split():
        if word.startswith("--"):
            break
        last = word
    return last.endswith(";")


def _substitute(sql: str) -> str:
    def value(match: re.Match[str]) -> str:
        name = match.group(1) or match.group(3)
        default = match.group(2)
        found = os.environ.get(name)
        if found is None or (found == "" and default is not None):
            return default or ""
        return found

    return _ENV.sub(value, sql)


class _Parsed:
    def __init__(self) -> None:
        self.sections: dict[str, list[str]] = {"up": [], "down": []}
        self.starts: dict[str, int] = {"up": 0, "down": 0}
        self.statements: dict[str, list[Statement]] = {"up": [], "down": []}
        self.transactional = True


def _goose_commands(line: str) -> list[str] | None:
    command = _command(line)
    return None if command is None else [command]


def parse(
    path: Path,
    text: str,
    read: Callable[[str], list[str] | None] = _goose_commands,
    tool: str = "goose",
) -> _Parsed:
    """Split ``text`` the way goose does; raise on the errors goose raises. ``read`` turns an
    annotation line into its commands (``up``, ``down``, ``begin``, ``end``, ``notx``,
    ``envon``, ``envoff``), None for other lines: sql-migrate's files follow the same rules
    with annotations of their own (``tool`` names them in messages)."""
    out = _Parsed()
    section: str | None = None
    in_block = False
    envsub = False
    buf: list[str] = []
    buf_line = 0
    up, down = f"'-- +{tool} Up'", f"'-- +{tool} Down'"
    begin, end = f"'-- +{tool} StatementBegin'", f"'-- +{tool} StatementEnd'"

    def flush(number: int) -> None:
        nonlocal buf
        sql = "\n".join(buf).strip()
        if sql and section is not None:
            out.statements[section].append(
                Statement(_substitute(sql) if envsub else sql, buf_line)
            )
        buf = []

    lines = text.split("\n")
    if lines and lines[-1] == "":
        lines.pop()
    for number, line in enumerate(lines, start=1):
        commands = read(line) if line.startswith("--") else None
        if commands is not None:
            if section is not None and commands[0] not in ("up", "down"):
                out.sections[section].append(line)  # kept in the section as a comment
            for command in commands:
                if command == "up":
                    if section is not None:
                        raise MigrationFileError(f"duplicate {up} annotation", path, number)
                    section = "up"
                    out.starts["up"] = number + 1
                elif command == "down":
                    if section != "up" or in_block:
                        raise MigrationFileError(f"{down} must follow {up}", path, number)
                    flush(number)
                    section = "down"
                    out.starts["down"] = number + 1
                elif command == "begin":
                    if section is None or in_block:
                        raise MigrationFileError(
                            f"{begin} outside a section or inside a block", path, number
                        )
                    flush(number)
                    in_block = True
                elif command == "end":
                    if not in_block:
                        raise MigrationFileError(f"{end} without StatementBegin", path, number)
                    flush(number)
                    in_block = False
                elif command == "notx":
                    out.transactional = False
                elif command in ("envon", "envoff"):
                    envsub = command == "envon"
                else:
                    raise MigrationFileError(
                        f"unknown {tool} annotation {line.strip()!r}", path, number
                    )
            continue
        if section is None:
            if line.strip() and not line.lstrip().startswith("--"):
                raise MigrationFileError(f"SQL before {up}", path, number)
            continue
        out.sections[section].append(line)
        if not buf and (not line.strip() or line.lstrip().startswith("--")):
            continue  # goose drops comments and blank lines between statements
        if not buf:
            buf_line = number
        buf.append(line)
        if not in_block and _ends_statement(line):
            flush(number)
    if section is None:
        raise MigrationFileError(f"missing {up} annotation", path, 1)
    if in_block:
        raise MigrationFileError(f"missing {end}", path, len(lines))
    flush(len(lines))  # goose refuses a last statement without ';'; mig runs it
    return out


def load(directory: Path, names: list[str]) -> list[Migration]:
    out = []
    for n in names:
        match = FILE.fullmatch(n)
        if match is None:
            continue
        path = directory / n
        if match.group(3) == "go":
            raise MigrationFileError(
                "goose Go migrations cannot be run by mig (rewrite it in SQL)", path, 1
            )
        parsed = parse(path, read_text(path))
        up = "".join(line + "\n" for line in parsed.sections["up"])
        down = "".join(line + "\n" for line in parsed.sections["down"])
        out.append(make_migration(
            id=path.stem, version=int(match.group(1)), name=match.group(2).replace("_", " "),
            path=path, up=up, down=down, fmt=NAME,
            up_line=parsed.starts["up"], down_line=parsed.starts["down"],
            transactional=parsed.transactional,
            metadata={"transactional_hint": TRANSACTIONAL_HINT, "split_hint": SPLIT_HINT},
            reversible=bool(parsed.statements["down"]) or not parsed.statements["up"],
            up_statements=tuple(parsed.statements["up"]),
            down_statements=tuple(parsed.statements["down"]),
        ))
    return out
