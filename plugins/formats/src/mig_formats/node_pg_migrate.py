"""node-pg-migrate's SQL migrations: ``<timestamp>_<name>.sql`` files (``node-pg-migrate
create --migration-file-language sql``) with an ``-- Up Migration`` and an optional
``-- Down Migration`` comment line.

node-pg-migrate finds a marker as a line starting ``--`` (any dashes and spaces after it),
then ``up`` or ``down``, space, ``migration``, in any case (``-- up migration`` counts, and
so does ``-- Down Migration notes``); mig finds them the same way. The UP is the text from the
Up marker to the Down marker, the DOWN from the Down marker to the end; a file without an Up
marker is all UP (as node-pg-migrate reads it), a file without a Down marker is irreversible,
as is a Down section of comments only. SQL before the Up marker (which node-pg-migrate
skips) is an error naming its line, and so is a Down marker before the Up marker is an error naming
its line (node-pg-migrate would run the two sections swapped round).

A ``-- no transaction`` line among the file's leading comments runs it outside a
transaction, as node-pg-migrate 7 and later read it. The version is the leading number (the
millisecond timestamp node-pg-migrate writes, or its ``utc`` prefix); files apply in name
order, and a folder whose names order otherwise than their numbers is refused. A JavaScript or
TypeScript migration beside them is an error naming it: mig runs SQL only.
"""

from __future__ import annotations

import re
from pathlib import Path

from mig import Migration, MigrationFileError

from .common import check_name_order, is_empty_sql, line_at, make_migration, read_text

NAME = "node-pg-migrate"
#: How deep below the folder the registry lists files for this format (0: the folder only).
LEVELS = 0
#: How a node-pg-migrate file says it runs outside a transaction (for mig's error messages).
TRANSACTIONAL_HINT = "add a '-- no transaction' line to the file's leading comments"
FILE = re.compile(r"(\d+)_(.+)\.sql")
SCRIPT = re.compile(r"\d+_.+\.(?:js|cjs|mjs|ts|cts|mts)")
_UP = re.compile(r"^\s*--[\s-]*up\s+migration", re.IGNORECASE | re.MULTILINE)
_DOWN = re.compile(r"^\s*--[\s-]*down\s+migration", re.IGNORECASE | re.MULTILINE)
_NO_TRANSACTION = re.compile(r"--[ \t]*no[ \t]*transaction[ \t]*", re.IGNORECASE)


def detect(directory: Path, names: list[str]) -> bool:
    return any(
        FILE.fullmatch(n) is not None and _UP.search(read_text(directory / n)) is not None
        for n in names
    )


def _no_transaction(text: str) -> bool:
    for line in text.split("\n"):
        line = line.strip()
        if not line:
            continue
        if not line.startswith("--"):
            return False
        if _NO_TRANSACTION.fullmatch(line):
            return True
    return False


def _marker(pattern: re.Pattern[str], text: str) -> int:
    """Where the marker's ``--`` is (the match may start with blank lines before it)."""
    found = pattern.search(text)
    return -1 if found is None else text.index("--", found.start())


def load(directory: Path, names: list[str]) -> list[Migration]:
    entries = []
    for n in names:
        if SCRIPT.fullmatch(n):
            raise MigrationFileError(
                "a JavaScript/TypeScript node-pg-migrate migration: mig runs SQL migrations only"
                " (rewrite it as a .sql file with -- Up Migration / -- Down Migration)",
                directory / n,
            )
        match = FILE.fullmatch(n)
        if match is not None:
            entries.append((n, int(match.group(1)), directory / n))
    check_name_order(entries, "node-pg-migrate")
    out = []
    for n, version, path in entries:
        text = read_text(path)
        up, down = _marker(_UP, text), _marker(_DOWN, text)
        if down >= 0 and up >= 0 and down < up:
            raise MigrationFileError(
                "'-- Down Migration' before '-- Up Migration'", path, line_at(text, down)
            )
        if down >= 0 and up < 0:
            raise MigrationFileError("'-- Down Migration' with no '-- Up Migration' before it",
                                     path, line_at(text, down))
        start = max(up, 0)
        for number, line in enumerate(text[:start].split("\n"), start=1):
            if not is_empty_sql(line):  # node-pg-migrate would skip it without a word
                raise MigrationFileError("SQL before '-- Up Migration'", path, number)
        # The marker lines are comments; keeping them inside the sections keeps the SQL
        # exactly what node-pg-migrate sends.
        up_sql = text[start:down] if down >= 0 else text[start:]
        down_sql = text[down:] if down >= 0 else ""
        title = FILE.fullmatch(n).group(2)  # type: ignore[union-attr]
        out.append(make_migration(
            id=path.stem, version=version, name=title.replace("_", " ").replace("-", " "),
            path=path, up=up_sql, down=down_sql, fmt=NAME, up_line=line_at(text, start),
            down_line=line_at(text, down) if down >= 0 else 0,
            reversible=not is_empty_sql(down_sql) or is_empty_sql(up_sql),
            transactional=not _no_transaction(text),
            metadata={"node_pg_migrate_name": path.stem,
                      "transactional_hint": TRANSACTIONAL_HINT},
        ))
    return out
