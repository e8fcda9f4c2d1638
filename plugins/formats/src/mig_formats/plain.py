"""Plain SQL files: ``<version>_<name>.sql`` (or ``<version>.sql``) with no markers at all, as
Supabase (``supabase/migrations/20230712094349_create_users.sql``), Atlas (beside its
``atlas.sum``) and many hand-rolled projects write them. The whole file is the UP; there is
no DOWN, so each migration is irreversible (rolled back by restoring its backup).

Both tools apply the files in name order. mig's version is the leading number, so a folder
whose names order otherwise than their numbers (``9_a.sql`` after ``10_b.sql``: versions of
different widths) is refused rather than run in an order the tool would not use; so are two
files of the same number. A ``.sql`` file whose name does not start with ``<digits>_`` is an
error naming it (Supabase would skip it, Atlas would apply it in name order).

Atlas's ``atlas.sum`` is not a migration, and mig does not need it (its own checksums
report an edited applied file as drift); but where it is present it is checked as ``atlas
migrate apply`` checks it, and a folder that does not match it (a file edited, added or
removed since ``atlas migrate hash``: two branches adding migrations at once, say) is refused
naming the first file that differs. Other non-``.sql`` files are ignored. Of Atlas's file
directives (the leading comments, when a blank line parts them from the SQL) ``txmode none``
runs the file outside a transaction; ``delimiter`` is refused (mig splits statements itself,
MySQL's ``DELIMITER`` lines included); the others (``nolint``, ...) are ignored. A file
runs in a transaction, as Atlas's default ``file`` mode runs it, unless it holds its own
``BEGIN;``...``COMMIT;`` or a statement PostgreSQL refuses in one (``CREATE INDEX
CONCURRENTLY``, ...).

A file with a line that is mig's ``-- UP`` or ``-- DOWN`` marker is mig's own, never plain:
``auto`` reads such a folder as mig's, and ``plain`` refuses the file.
"""

from __future__ import annotations

import base64
import hashlib
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
SUM = "atlas.sum"
# A first line "-- atlas:sum ignore": Atlas leaves the file's content out of atlas.sum.
_SUM_IGNORE = re.compile(rb"[ -~]*atlas:sum +ignore(?:\r?\n|$)")


def _is_mig(text: str) -> bool:
    return _MIG_MARKER.search(text) is not None


def detect(directory: Path, names: list[str]) -> bool:
    numbered = [n for n in names if FILE.fullmatch(n)]
    return bool(numbered) and not any(
        _is_mig(read_text(directory / n)) for n in names if n.endswith(".sql")
    )


def _header(text: str) -> tuple[list[tuple[int, str]], bool]:
    """The file's leading comment lines (line number, text), and whether a blank line parts
    them from the rest: only then are they Atlas's file directives."""
    lines = text.split("\n")
    found = []
    for number, line in enumerate(lines, start=1):
        if line.startswith(("--", "#")):
            found.append((number, line.strip()))
            continue
        return found, bool(found) and not line.strip() and number < len(lines)
    return found, bool(found)


def _transactional(path: Path, text: str) -> bool:
    """False when the file's directives say ``-- atlas:txmode none``."""
    comments, detached = _header(text)
    transactional = True
    for number, line in comments:
        match = _DIRECTIVE.fullmatch(line)
        if match is None:
            continue
        name, value = match.group(1).lower(), (match.group(2) or "").strip().lower()
        if name == "delimiter":
            raise MigrationFileError(
                "'-- atlas:delimiter' is not supported: mig splits statements itself (strings,"
                " comments, BEGIN ... END and $$ bodies, MySQL DELIMITER lines); remove the"
                " directive and end each statement with ';'", path, number,
            )
        if name == "txmode" and detached:
            if value not in ("none", "file", "all"):
                raise MigrationFileError(
                    f"'-- atlas:txmode' must be none, file or all, not {value!r}", path, number
                )
            transactional = value != "none"
    return transactional


def atlas_sum(directory: Path, files: list[str]) -> list[tuple[str, str]]:
    """The lines ``atlas migrate hash`` writes into ``atlas.sum`` for ``files`` (in name
    order): each file's hash is the SHA-256 of every name and content up to it, base64."""
    running = hashlib.sha256()
    out = []
    for n in files:
        data = (directory / n).read_bytes()
        running.update(n.encode("utf-8"))
        if _SUM_IGNORE.match(data):
            continue
        running.update(data)
        out.append((n, base64.b64encode(running.copy().digest()).decode("ascii")))
    return out


def _sum_of(entries: list[tuple[str, str]]) -> str:
    total = hashlib.sha256()
    for n, h in entries:
        total.update(n.encode("utf-8"))
        total.update(h.encode("ascii"))
    return base64.b64encode(total.digest()).decode("ascii")


def check_atlas_sum(directory: Path, files: list[str]) -> None:
    """Refuse the folder as Atlas refuses it when ``atlas.sum`` does not match its files: a
    file edited, added or removed since ``atlas migrate hash`` (two branches adding
    migrations at once, say), naming the first file that differs."""
    path = directory / SUM
    lines = read_text(path).split("\n")
    if not lines[0].startswith("h1:"):
        raise MigrationFileError("not an atlas.sum file (its first line is h1:<sum>)", path, 1)
    recorded: list[tuple[str, str]] = []
    where: dict[str, int] = {}
    for number, line in enumerate(lines[1:], start=2):
        if not line.strip():
            continue
        name, sep, value = line.partition(" h1:")
        if not sep:
            raise MigrationFileError("not an atlas.sum line (<file> h1:<hash>)", path, number)
        recorded.append((name.strip(), value.strip()))
        where[name.strip()] = number
    if _sum_of(recorded) != lines[0][3:].strip():
        raise MigrationFileError(
            "atlas.sum was edited by hand (its h1: sum is not its lines'): run `atlas migrate"
            " hash`, or delete atlas.sum if the folder no longer goes through Atlas", path, 1
        )
    listed = dict(recorded)
    computed = atlas_sum(directory, files)
    for name, _ in recorded:
        if name not in dict(computed):
            raise MigrationFileError(
                f"atlas.sum lists {name}, which is not in the folder (Atlas refuses the folder:"
                " restore the file, or run `atlas migrate hash`)", path, where[name],
            )
    for n, h in computed:  # the first file that differs: each hash covers the files before
        if n not in listed:
            raise MigrationFileError(
                "is not in atlas.sum: added without `atlas migrate hash` (Atlas refuses the"
                " folder: run it)", directory / n, 1,
            )
        if listed[n] != h:
            raise MigrationFileError(
                f"does not match atlas.sum (line {where[n]}): edited since `atlas migrate hash`"
                " (Atlas refuses the folder: restore the file, or run `atlas migrate hash`)",
                directory / n, 1,
            )


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
    if SUM in names:
        check_atlas_sum(directory, files)
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
