"""yoyo: ``{id}.sql`` with an optional ``{id}.rollback.sql``; leading comment lines may hold
``-- depends: id1 id2`` and ``-- transactional: false`` (yoyo's two SQL directives).

The id is the file name without ``.sql``. yoyo orders migrations by id, after their
dependencies. mig versions are integers: when every id starts with digits (yoyo's own
``20240101_01_abcde-name`` or ``0001.name``), the digits before the first letter make the
version (``20240101_01_...`` is 2024010101) as long as that keeps the ids' order and no two
collide; otherwise each migration's version is its position in id order. ``post-apply``
migrations (run after every apply) and Python migrations cannot be run by mig and are refused.
"""

from __future__ import annotations

import hashlib
import re
from pathlib import Path

from mig import Migration, MigrationFileError

from .common import make_migration, read_text

NAME = "yoyo"
#: How deep below the folder the registry lists files for this format (0: the folder only).
LEVELS = 0
#: How a yoyo file says it runs outside a transaction (for mig's error messages).
TRANSACTIONAL_HINT = "add '-- transactional: false' to the file's leading comments"
ROLLBACK = ".rollback.sql"
# yoyo's directives: "-- name: value" among the comment lines before the first statement.
_DIRECTIVE = re.compile(r"\s*--\s*(transactional|depends)\s*:\s*(.*)")
_COMMENT_OR_EMPTY = re.compile(r"\s*(?:--.*)?")
_DIGITS = re.compile(r"[\d._-]*\d")


def migration_hash(migration_id: str) -> str:
    """The key yoyo stores a migration under: the SHA-256 of its id."""
    return hashlib.sha256(migration_id.encode("utf-8")).hexdigest()


def detect(directory: Path, names: list[str]) -> bool:
    if any(n.endswith(ROLLBACK) for n in names):
        return True
    for n in names:
        if n.endswith(".sql"):
            for line in read_text(directory / n).split("\n"):
                if _DIRECTIVE.fullmatch(line):
                    return True
                if not _COMMENT_OR_EMPTY.fullmatch(line):
                    break
    return False


def _directives(path: Path, text: str) -> dict[str, tuple[str, int]]:
    found: dict[str, tuple[str, int]] = {}
    for number, line in enumerate(text.split("\n"), start=1):
        match = _DIRECTIVE.fullmatch(line)
        if match is not None:
            key, value = match.groups()
            old = found.get(key)
            found[key] = ((old[0] + " " + value) if old else value, number)
        elif not _COMMENT_OR_EMPTY.fullmatch(line):
            break
    return found


def _versions(ids: list[str]) -> dict[str, int]:
    numbers: dict[str, int] = {}
    for i in ids:
        match = _DIGITS.match(i)
        if match is None:
            break
        numbers[i] = int(re.sub(r"\D", "", match.group(0)))
    ordered = [numbers.get(i) for i in ids]
    if (len(numbers) == len(ids) and len(set(numbers.values())) == len(ids)
            and ordered == sorted(numbers.values())):
        return numbers
    return {i: n for n, i in enumerate(ids, start=1)}


def load(directory: Path, names: list[str]) -> list[Migration]:
    ids = []
    for n in names:
        if n.endswith(ROLLBACK) or not (n.endswith(".sql") or n.endswith(".py")):
            continue
        if n == "__init__.py":  # a package marker, not a migration
            continue
        if n.startswith("post-apply") or n.endswith(".py"):
            raise MigrationFileError(
                "yoyo post-apply and Python migrations cannot be run by mig", directory / n, 1
            )
        ids.append(n.removesuffix(".sql"))
    versions = _versions(sorted(ids))
    known = set(ids)
    out = []
    for i in ids:
        path = directory / f"{i}.sql"
        up = read_text(path)
        rollback = directory / f"{i}{ROLLBACK}"
        down = read_text(rollback) if rollback.is_file() else ""
        directives = _directives(path, up)
        transactional = True
        if "transactional" in directives:
            value, line = directives["transactional"]
            if value.strip().lower() not in ("true", "false"):
                raise MigrationFileError(
                    f"-- transactional: must be true or false, not {value.strip()!r}", path, line
                )
            transactional = value.strip().lower() == "true"
        depends = tuple(directives["depends"][0].split()) if "depends" in directives else ()
        for d in depends:
            if d not in known:
                raise MigrationFileError(
                    f"-- depends: names {d!r}, which is not in the folder", path,
                    directives["depends"][1],
                )
        out.append(make_migration(
            id=i, version=versions[i], name=i, path=path, up=up, down=down, fmt=NAME,
            down_line=1 if rollback.is_file() else 0, transactional=transactional,
            dependencies=depends,
            metadata={"yoyo_hash": migration_hash(i), "transactional_hint": TRANSACTIONAL_HINT},
        ))
    return out
