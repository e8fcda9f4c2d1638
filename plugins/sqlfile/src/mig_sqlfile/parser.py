"""Reading one ``<version>_<slug>.sql`` file into a :class:`mig.Migration` (SPEC §2, §10).

The file is a header of ``-- @key: value`` lines, a ``-- UP`` line, the UP section, and an
optional ``-- DOWN`` line followed by the DOWN section. Parsing is a handful of regular
expressions and one short loop over the header lines: ``mig plan`` parses every file of the
folder, so nothing here looks at statements (see :mod:`mig_sqlfile.splitter` for that).
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Literal, TypedDict

from mig import Migration, MigrationFileError
from mig.checksum import CHECKSUM_VERSION, checksum, normalise

_FILE_NAME = re.compile(r"(\d+)_([\w-]+)")
# A marker is a line of its own: "-- UP", "--up", "  -- Down  ". Only newlines end a line
# (the text is normalised first), so the surrounding space must not match one.
_MARKER = re.compile(r"^[^\S\n]*--[^\S\n]*(up|down)[^\S\n]*$", re.IGNORECASE | re.MULTILINE)
_HEADER = re.compile(r"--\s*@([A-Za-z_][\w.-]*)\s*:(.*)")
_HEADER_LIKE = re.compile(r"--\s*@(\w+)")
# Whitespace and comments only. Atomic groups keep a long non-empty section from backtracking.
_EMPTY = re.compile(r"(?>\s+|--[^\n]*|/\*.*?\*/)*+", re.DOTALL)


class _HeaderFields(TypedDict, total=False):
    """The :class:`mig.Migration` fields a header sets, by field name."""

    name: str
    description: str
    migration_type: str
    author: str
    dependencies: tuple[str, ...]
    reversible: bool
    backup_required: bool
    transactional: bool


# Header key -> Migration field.
_TEXT_KEYS: dict[str, Literal["name", "description", "migration_type", "author"]] = {
    "name": "name",
    "description": "description",
    "type": "migration_type",
    "author": "author",
}
_BOOL_KEYS: dict[str, Literal["reversible", "backup_required", "transactional"]] = {
    "reversible": "reversible",
    "backup_required": "backup_required",
    "transactional": "transactional",
}
_KNOWN_KEYS = {*_TEXT_KEYS, *_BOOL_KEYS, "dependencies"}


def is_empty_sql(sql: str) -> bool:
    """True when ``sql`` holds only whitespace and ``--`` / ``/* */`` comments."""
    return _EMPTY.fullmatch(sql) is not None


def _line_at(text: str, pos: int) -> int:
    return text.count("\n", 0, pos) + 1


def _last_line(text: str) -> int:
    return max(1, text.count("\n") + (0 if text.endswith("\n") else 1))


def parse_migration(path: Path, text: str) -> Migration:
    """Parse the text of the ``.sql`` file at ``path``; raise :class:`MigrationFileError`
    naming the file and line when it is malformed."""
    match = _FILE_NAME.fullmatch(path.stem)
    if match is None:
        raise MigrationFileError("file name must be <version>_<slug>.sql", path)
    version = match.group(1)
    text = normalise(text)

    up_marker = down_marker = None
    for marker in _MARKER.finditer(text):
        which = marker.group(1).upper()
        line = _line_at(text, marker.start())
        if which == "UP":
            if up_marker is not None:  # (a DOWN marker before it has been refused)
                raise MigrationFileError("second -- UP marker", path, line)
            up_marker = marker
        else:
            if down_marker is not None:
                raise MigrationFileError("second -- DOWN marker", path, line)
            if up_marker is None:
                raise MigrationFileError("-- DOWN marker before -- UP", path, line)
            down_marker = marker
    if up_marker is None:
        if _HEADER_LIKE.search(text) is None:  # plain SQL, or another tool's file
            raise MigrationFileError(
                "missing -- UP marker: not a mig migration file (one has '-- @name: ...', then"
                " '-- UP' and '-- DOWN' lines); a folder written for another tool needs"
                " migrations_format in the configuration",
                path, 1,
            )
        raise MigrationFileError("missing -- UP marker", path, _last_line(text))

    fields, header_lines, metadata = _parse_header(path, text[: up_marker.start()])
    if not fields.get("name"):
        line = header_lines.get("name", 1)
        raise MigrationFileError("missing @name header (add -- @name: ...)", path, line)

    # A section starts after its marker's newline; a marker on the last line has none.
    up_start = min(up_marker.end() + 1, len(text))
    up_line = _line_at(text, up_marker.start()) + 1
    if down_marker is None:
        up_sql, down_sql, down_line = text[up_start:], "", 0
    else:
        up_sql = text[up_start : down_marker.start()]
        down_sql = text[min(down_marker.end() + 1, len(text)) :]
        down_line = _line_at(text, down_marker.start()) + 1

    reversible = fields.get("reversible", True)
    if reversible and is_empty_sql(down_sql) and not is_empty_sql(up_sql):
        line = down_line - 1 if down_marker is not None else _last_line(text)
        raise MigrationFileError(
            "reversible migration has no DOWN section (add one or set @reversible: false)",
            path,
            line,
        )

    return Migration(
        id=path.stem,
        version=version,
        path=path,
        up_sql=up_sql,
        down_sql=down_sql,
        checksum=checksum(up_sql, down_sql),
        checksum_version=CHECKSUM_VERSION,
        up_line=up_line,
        down_line=down_line,
        header_lines=header_lines,
        metadata=metadata,
        **fields,
    )


def _parse_header(
    path: Path, header: str
) -> tuple[_HeaderFields, dict[str, int], dict[str, str]]:
    """The Migration fields, the line of every key, and the unknown keys of the header."""
    fields: _HeaderFields = {}
    lines: dict[str, int] = {}
    metadata: dict[str, str] = {}
    in_comment = False
    for number, raw in enumerate(header.split("\n"), start=1):
        line = raw.strip()
        if in_comment:
            in_comment = "*/" not in line
            continue
        if not line:
            continue
        if line.startswith("/*"):
            end = line.find("*/", 2)
            if end == -1:
                in_comment = True
                continue
            line = line[end + 2 :].strip()
            if not line or line.startswith("--"):
                continue
        if not line.startswith("--"):
            raise MigrationFileError("SQL before the -- UP marker", path, number)
        match = _HEADER.fullmatch(line)
        if match is None:
            like = _HEADER_LIKE.match(line)
            if like and like.group(1).lower() in _KNOWN_KEYS:  # "-- @reversible false"
                raise MigrationFileError("header line must be '-- @key: value'", path, number)
            continue  # an ordinary comment
        written, value = match.group(1), match.group(2).strip()
        key = written.lower() if written.lower() in _KNOWN_KEYS else written
        if key in lines:
            raise MigrationFileError(
                f"duplicate header @{written} (first on line {lines[key]})", path, number
            )
        lines[key] = number
        if key in _TEXT_KEYS:
            if key == "name" and not value:
                raise MigrationFileError("@name is empty", path, number)
            fields[_TEXT_KEYS[key]] = value
        elif key in _BOOL_KEYS:
            fields[_BOOL_KEYS[key]] = _boolean(path, number, key, value)
        elif key == "dependencies":
            fields["dependencies"] = _dependencies(path, number, value)
        else:
            metadata[key] = value
    return fields, lines, metadata


def _boolean(path: Path, line: int, key: str, value: str) -> bool:
    lowered = value.lower()
    if lowered == "true":
        return True
    if lowered == "false":
        return False
    raise MigrationFileError(f"@{key} must be true or false, not {value!r}", path, line)


def _dependencies(path: Path, line: int, value: str) -> tuple[str, ...]:
    if not value:
        return ()
    try:
        parsed = json.loads(value)
    except json.JSONDecodeError as exc:
        raise MigrationFileError(
            f"@dependencies is not a JSON list of migration ids: {exc}", path, line
        ) from None
    except RecursionError:  # json nests by recursion: [[[[...]]]] thousands deep
        raise MigrationFileError(
            "@dependencies is not a JSON list of migration ids: it nests lists too deeply",
            path, line,
        ) from None
    if not isinstance(parsed, list) or not all(isinstance(d, str) and d for d in parsed):
        raise MigrationFileError(
            f"@dependencies is not a JSON list of migration ids: got {_shorten(value)}",
            path, line,
        )
    return tuple(parsed)


def _shorten(text: str, limit: int = 80) -> str:
    """``text`` cut to ``limit`` characters for a one-line message."""
    return text if len(text) <= limit else f"{text[:limit]}... ({len(text)} characters)"
