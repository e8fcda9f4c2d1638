"""Plain SQL files: ``<version>_<name>.sql`` (or ``<version>.sql``) with no markers at all, as
Supabase (``supabase/migrations/20230712094349_create_users.sql``), Atlas (beside its
``atlas.sum``) and many hand-rolled projects write them. The whole file is the UP; there is
no DOWN, so each migration is irreversible (rolled back by restoring its backup).

Both tools apply the files in name order. mig's version is the leading number, so a folder
whose names order otherwise than their numbers (``9_a.sql`` after ``10_b.sql``: versions of
different widths) is refused rather than run in an order the tool would not use; so are two
files of the same number. A ``.sql`` file whose name does not start with ``<digits>_`` is an
error naming it (Supabase would skip it, Atlas would apply it in name order).

Atlas's ``atlas.sum`` and every other non-``.sql`` file are ignored: mig's own checksums
report an edited applied file as drift. Of Atlas's file directives (``-- atlas:...`` among
the leading comments) ``txmode none`` runs the file outside a transaction; ``delimiter`` is
refused (mig splits statements itself, MySQL's ``DELIMITER`` lines included); the others
(``nolint``, ...) are ignored. A file runs in a transaction, as Atlas's default ``file``
mode runs it, unless it holds its own ``BEGIN;``...``COMMIT;`` or a statement PostgreSQL
refuses in one (``CREATE INDEX CONCURRENTLY``, ...).

A file with a line that is mig's ``-- UP`` or ``-- DOWN`` marker is mig's own, never plain:
``auto`` reads such a folder as mig's, and ``plain`` refuses the file.
"""

from __future__ import annotations

import re
from pathlib import Path

from mig import Migration, MigrationFileError

from .common import (
    check_name_order,
    line_at,
    make_migration,
    manages_own_transaction,
    needs_no_transaction,
    read_text,
)

NAME = "plain"
#: How deep below the folder the registry lists files for this format (0: the folder only).
LEVELS = 0
#: How a plain file says it runs outside a transaction (for mig's error messages).
TRANSACTIONAL_HINT = "add '-- atlas:txmode none' as the file's first line"
FILE = re.compile(r"(\d+)(?:_(.*))?\.sql")
# mig's own section markers, as its parser finds them.
_MIG_MARKER = re.compile(r"(?im)^[^\S\n]*--[^\S\n]*(?:up|down)[^\S\n]*$")
_DIRECTIVE = re.compile(r"--\s*atlas:(\w+)(?:[^\S\n]+(.*?))?\s*")
_COMMENT_OR_EMPTY = re.compile(r"\s*(?:--.*)?")


def _is_mig(text: str) -> bool:
    return _MIG_MARKER.search(text) is not None


def detect(directory: Path, names: list[str]) -> bool:
    numbered = [n for n in names if FILE.fullmatch(n)]
    return bool(numbered) and not any(
        _is_mig(read_text(directory / n)) for n in names if n.endswith(".sql")
    )


def _transactional(path: Path, text: str) -> bool:
    """False when the leading comments say ``-- atlas:txmode none``."""
    transactional = True
    for number, line in enumerate(text.split("\n"), start=1):
        match = _DIRECTIVE.fullmatch(line)
        if match is None:
            if not _COMMENT_OR_EMPTY.fullmatch(line):
                break
            continue
        name, value = match.group(1).lower(), (match.group(2) or "").strip().lower()
        if name == "delimiter":
            raise MigrationFileError(
                "'-- atlas:delimiter' is not supported: mig splits statements itself (strings,"
                " comments, BEGIN ... END and $$ bodies, MySQL DELIMITER lines); remove the"
                " directive and end each statement with ';'", path, number,
            )
        if name == "txmode":
            if value not in ("none", "file", "all"):
                raise MigrationFileError(
                    f"'-- atlas:txmode' must be none, file or all, not {value!r}", path, number
                )
            transactional = value != "none"
    return transactional


def load(directory: Path, names: list[str]) -> list[Migration]:
    files = [n for n in names if n.endswith(".sql")]
    numbered = []
    for n in files:  # names are sorted: the order Supabase and Atlas apply them in
        match = FILE.fullmatch(n)
        if match is None:
            raise MigrationFileError(
                "not named <version>_<name>.sql: plain SQL migrations need a leading number"
                " (Supabase skips such a file; rename it or move it out of the folder)",
                directory / n,
            )
        numbered.append((n, match))
    check_name_order([(n, int(m.group(1)), directory / n) for n, m in numbered],
                     "Supabase or Atlas")
    out = []
    for n, match in numbered:
        path = directory / n
        number = int(match.group(1))
        text = read_text(path)
        marker = _MIG_MARKER.search(text)
        if marker is not None:
            raise MigrationFileError(
                f"has mig's {marker.group().strip()!r} marker: it is a mig migration file, not"
                " a plain one (set migrations_format = \"mig\", or remove the line)", path,
                line_at(text, marker.start()),
            )
        transactional = _transactional(path, text) and not (
            needs_no_transaction(text) or manages_own_transaction(text)
        )
        out.append(make_migration(
            id=path.stem, version=number,
            name=(match.group(2) or "").replace("_", " ").strip() or path.stem,
            path=path, up=text, down="", fmt=NAME, reversible=False,
            transactional=transactional,
            metadata={"plain_version": match.group(1), "transactional_hint": TRANSACTIONAL_HINT},
        ))
    return out
