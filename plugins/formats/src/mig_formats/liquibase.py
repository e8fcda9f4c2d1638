"""Liquibase formatted SQL: ``.sql`` files whose first line is ``--liquibase formatted sql``,
each holding changesets that start with ``--changeset author:id [attribute:value ...]``.

Every formatted file of the folder is read, in name order (as Liquibase's ``includeAll``
reads a folder); a master changelog (XML, YAML, JSON) is not read, and a ``.sql`` file that is
not formatted SQL is an error naming it. Each changeset is one migration, in file order; its
version is its position in the folder (1, 2, ...) and its id Liquibase's own name for it,
``<file>::<id>::<author>`` (``logicalFilePath`` replacing the file name where given).

Read: ``--rollback <sql>`` lines (one or many, and ``/* liquibase rollback ... */`` blocks)
make the DOWN; ``--rollback not required`` and ``--rollback empty`` say there is none, so the
migration is irreversible (mig rolls it back by restoring its backup, never by reporting a
rollback that changed nothing); ``--comment:`` names the migration; ``runInTransaction:false``
runs it outside a transaction; ``endDelimiter:X`` (and ``rollbackEndDelimiter``) ends
statements at lines ending in X instead of ``;``; ``ignore:true`` skips the changeset;
``--ignoreLines:start``/``end`` and ``--ignoreLines:N`` skip lines.

Ignored, kept in the migration's metadata: ``--preconditions`` / ``--precondition-*`` (mig
does not evaluate them: the changeset runs as if they passed), ``context:`` and ``labels:``
(every changeset runs, as Liquibase runs them when no context or label filter is given),
``runAlways`` / ``runOnChange`` (mig runs a changeset once; an edited one shows as drift),
``failOnError``, ``splitStatements:false`` (mig's splitter keeps ``BEGIN ... END`` and ``$$``
bodies whole anyway), ``--validCheckSum``. Refused with an error naming the line: ``dbms:``
(mig cannot leave a changeset out for some databases), ``--property`` (``${...}`` parameters
are not substituted), ``--include``/``--includeAll``, and a ``--rollback`` that names another
changeset.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

from mig import DependencyError, Migration, MigrationFileError, Statement

from .common import make_migration, needs_no_transaction, read_text

NAME = "liquibase"
#: How deep below the folder the registry lists files for this format (0: the folder only).
LEVELS = 0
#: How a changeset says it runs outside a transaction (for mig's error messages).
TRANSACTIONAL_HINT = "add runInTransaction:false to the --changeset line"
_FIRST = re.compile(r"\s*--\s*liquibase\s+formatted\b.*", re.IGNORECASE)
_CHANGESET = re.compile(r'\s*--\s*changeset\s+("[^"]+"|[^:\s][^:]*):\s*("[^"]+"|\S+)(.*)',
                        re.IGNORECASE)
_META = re.compile(
    r"\s*--\s*(?P<key>changeset|rollback|comments?|preconditions?|precondition-[\w-]+"
    r"|validCheckSum)\b:?(?P<rest>.*)|\s*--\s*(?P<ignore>ignoreLines):(?P<value>\S*)\s*",
    re.IGNORECASE,
)
_IGNORE_END = re.compile(r"\s*--\s*ignoreLines:end\s*", re.IGNORECASE)
_REFUSED = [
    (re.compile(r"\s*--\s*property\s+.*:.*", re.IGNORECASE), "--property"),
    (re.compile(r"\s*--\s*include\s+file:.*", re.IGNORECASE), "--include"),
    (re.compile(r"\s*--\s*includeAll\s+path:.*", re.IGNORECASE), "--includeAll"),
]
_ROLLBACK_START = re.compile(r"\s*/\*\s*liquibase\s+rollback\s*", re.IGNORECASE)
_ROLLBACK_END = re.compile(r".*\*/\s*")
_ATTRIBUTE = re.compile(r'(\w+):("[^"]*"|\S*)')
_NO_ROLLBACK = ("not required", "empty")


def detect(directory: Path, names: list[str]) -> bool:
    return any(n.endswith(".sql") and _is_formatted(read_text(directory / n)) for n in names)


def _is_formatted(text: str) -> bool:
    first = next((line for line in text.split("\n") if line.strip()), "")
    return _FIRST.fullmatch(first) is not None


@dataclass
class _Changeset:
    author: str
    id: str
    line: int
    attributes: dict[str, str]
    up: list[str] = field(default_factory=list)
    down: list[str] = field(default_factory=list)
    down_line: int = 0
    no_rollback: bool = False
    comment: str = ""
    ignored: list[str] = field(default_factory=list)


def _unquote(value: str) -> str:
    return value[1:-1] if len(value) > 1 and value[0] == value[-1] == '"' else value


def _split(sql: str, first_line: int, delimiter: str) -> tuple[Statement, ...]:
    """``sql`` cut at each line that ends with ``delimiter`` (which is dropped)."""
    out: list[Statement] = []
    piece: list[str] = []
    start = first_line
    for number, line in enumerate(sql.split("\n"), start=first_line):
        if not piece and not line.strip():
            start = number + 1
            continue
        if line.rstrip().endswith(delimiter):
            piece.append(line.rstrip()[: -len(delimiter)])
            out.append(Statement("\n".join(piece).strip(), start))
            piece, start = [], number + 1
        else:
            piece.append(line)
    if "\n".join(piece).strip():
        out.append(Statement("\n".join(piece).strip(), start))
    return tuple(s for s in out if s.sql)


def _parse(path: Path, text: str) -> tuple[str | None, list[_Changeset]]:
    """The file's ``logicalFilePath`` and changesets. Each changeset's ``up`` holds one entry
    per line after its ``--changeset`` line: the line, or "" for a line Liquibase reads as
    an instruction (so the SQL keeps its line numbers)."""
    lines = text.split("\n")
    header = next(i for i, line in enumerate(lines) if line.strip())
    logical = dict(_ATTRIBUTE.findall(lines[header])).get("logicalFilePath")
    changesets: list[_Changeset] = []
    skip = 0
    ignoring = in_rollback = False
    for number, line in enumerate(lines[header + 1:], start=header + 2):
        current = changesets[-1] if changesets else None
        sql = _instruction(path, number, line, current, in_rollback or skip > 0 or ignoring)
        if in_rollback:
            assert current is not None
            closed = _ROLLBACK_END.fullmatch(line) is not None
            current.down.append(line[: line.rindex("*/")] if closed else line)
            in_rollback = not closed
        elif skip:
            skip -= 1
        elif ignoring:
            ignoring = _IGNORE_END.fullmatch(line) is None
        elif sql is not None:
            kind, value = sql
            if kind == "changeset":
                changesets.append(_changeset(path, number, line))
                continue
            if kind == "ignore":
                ignoring = value == "start"
                skip = int(value) if value.isdigit() else 0
            elif kind == "block":
                in_rollback = True
                assert current is not None
                current.down_line = current.down_line or number + 1
            elif current is not None and kind == "rollback":
                if value.lower() in _NO_ROLLBACK:
                    current.no_rollback = True
                else:
                    current.down.append(value)
                    current.down_line = current.down_line or number
            elif current is not None and kind == "comment":
                current.comment = value
            elif current is not None:
                current.ignored.append(line.strip())
            if current is not None:
                current.up.append("")
            continue
        else:
            if current is None:
                if line.strip() and not line.lstrip().startswith("--"):
                    raise MigrationFileError("SQL before the first --changeset", path, number)
                continue
            current.up.append(line)
            continue
        if current is not None:
            current.up.append("")
    if in_rollback:
        raise MigrationFileError("/* liquibase rollback block is not closed with */", path,
                                 len(lines))
    if ignoring:
        raise MigrationFileError("--ignoreLines:start without --ignoreLines:end", path,
                                 len(lines))
    return logical, changesets


def _instruction(
    path: Path, number: int, line: str, current: _Changeset | None, skipped: bool
) -> tuple[str, str] | None:
    """What a Liquibase instruction line says, as (kind, value); None for a line of SQL (or
    one inside a rollback block or ignored lines, when ``skipped``)."""
    if skipped:
        return None
    for pattern, what in _REFUSED:
        if pattern.fullmatch(line):
            raise MigrationFileError(
                f"{what} is not supported by mig (every formatted SQL file of the folder is"
                " read in name order; ${...} parameters are sent as written)", path, number,
            )
    meta = _META.fullmatch(line)
    if meta is None:
        if current is not None and _ROLLBACK_START.fullmatch(line):
            return ("block", "")
        return None
    if meta.group("ignore"):
        key, rest = "ignorelines", meta.group("value").lower()
    else:
        key, rest = meta.group("key").lower(), meta.group("rest").strip()
    if key == "changeset":
        return ("changeset", "")
    if key == "ignorelines":
        if rest not in ("start", "end") and not rest.isdigit():
            raise MigrationFileError(
                f"--ignoreLines takes start, end or a number, not {rest!r}", path, number
            )
        return ("ignore", rest)
    if current is None:
        raise MigrationFileError(f"--{key} before the first --changeset", path, number)
    if key == "rollback" and re.search(r"\bchangeset(?:Id|Author|Path):", rest, re.IGNORECASE):
        raise MigrationFileError(
            "a --rollback that names another changeset is not supported: write its SQL here",
            path, number,
        )
    if key in ("comment", "comments"):
        return ("comment", rest.lstrip(":").strip())
    return (key, rest)


def _changeset(path: Path, number: int, line: str) -> _Changeset:
    match = _CHANGESET.fullmatch(line)
    if match is None:
        raise MigrationFileError(
            "a --changeset line needs author:id (--changeset alice:1)", path, number
        )
    attributes = {k: _unquote(v) for k, v in _ATTRIBUTE.findall(match.group(3))}
    if "dbms" in attributes:
        raise MigrationFileError(
            f"dbms:{attributes['dbms']} is not supported: mig runs every changeset on the"
            " configured database (keep one changelog folder per database)", path, number,
        )
    return _Changeset(_unquote(match.group(1).strip()), _unquote(match.group(2)), number,
                      attributes)


def load(directory: Path, names: list[str]) -> list[Migration]:
    out: list[Migration] = []
    seen: dict[str, Path] = {}
    for n in names:
        if not n.endswith(".sql"):
            continue
        path = directory / n
        text = read_text(path)
        if not _is_formatted(text):
            raise MigrationFileError(
                "not Liquibase formatted SQL (its first line must be --liquibase formatted"
                " sql); move it out of the changelog folder", path, 1,
            )
        logical, changesets = _parse(path, text)
        for c in changesets:
            attributes = c.attributes
            if attributes.get("ignore", "").lower() == "true":
                continue
            file = attributes.get("logicalFilePath") or logical or n
            mig_id = f"{file}::{c.id}::{c.author}"
            if mig_id in seen:
                raise DependencyError(f"changeset {mig_id} is also in {seen[mig_id].name}", path)
            seen[mig_id] = path
            skipped = next((i for i, line in enumerate(c.up) if line.strip()), len(c.up))
            first = c.line + 1 + skipped
            up = "\n".join(c.up[skipped:]).rstrip() + "\n" if skipped < len(c.up) else ""
            down = "\n".join(c.down).strip() + "\n" if c.down and not c.no_rollback else ""
            delimiter = attributes.get("endDelimiter")
            back = attributes.get("rollbackEndDelimiter") or delimiter
            transactional = (attributes.get("runInTransaction", "true").lower() != "false"
                             and not needs_no_transaction(up))
            out.append(make_migration(
                id=mig_id, version=len(out) + 1, name=c.comment or f"{c.author}:{c.id}",
                path=path, up=up, down=down, fmt=NAME, up_line=first,
                down_line=c.down_line if down else 0, transactional=transactional,
                reversible=bool(down.strip()) or not up.strip(),
                up_statements=_split(up, first, delimiter) if delimiter else None,
                down_statements=_split(down, c.down_line, back) if back and down else None,
                metadata={
                    "liquibase_id": c.id, "liquibase_author": c.author,
                    "liquibase_file": file, "liquibase_line": str(c.line),
                    "liquibase_attributes": " ".join(f"{k}:{v}" for k, v in attributes.items()),
                    "liquibase_ignored": "\n".join(c.ignored),
                    "transactional_hint": TRANSACTIONAL_HINT,
                    "convert_refused": (
                        f"its statements end with endDelimiter {delimiter or back!r}, which"
                        " mig's files cannot say (end them with ';', or keep the changelog"
                        " and migrations_format = \"liquibase\")" if delimiter or back else ""
                    ),
                },
            ))
    return out
