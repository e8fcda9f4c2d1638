"""golang-migrate: ``{version}_{title}.up.{ext}`` and ``{version}_{title}.down.{ext}`` pairs.

golang-migrate sends each file to the database as it is. Its SQLite driver wraps the file in
a transaction; PostgreSQL runs a multi-statement query as one implicit transaction, unless the
file commits its own or holds a statement that refuses a transaction block. The down file is
optional.
"""

from __future__ import annotations

import re
from pathlib import Path

from mig import DependencyError, Migration

from .common import make_migration, manages_own_transaction, needs_no_transaction, read_text

NAME = "golang-migrate"
#: How deep below the folder the registry lists files for this format (0: the folder only).
LEVELS = 0
#: golang-migrate files cannot say they run outside a transaction (for mig's error messages).
TRANSACTIONAL_HINT = (
    "a golang-migrate file cannot say so: convert the folder with `mig import --convert`"
    " and set @transactional: false there"
)
# The pattern of golang-migrate's source/parse.go: version, title, direction, extension.
FILE = re.compile(r"([0-9]+)_(.*)\.(up|down)\.(sql)")


def detect(directory: Path, names: list[str]) -> bool:
    return any(FILE.fullmatch(n) for n in names)


def load(directory: Path, names: list[str]) -> list[Migration]:
    pairs: dict[int, dict[str, str]] = {}
    titles: dict[int, str] = {}
    for n in names:
        match = FILE.fullmatch(n)
        if match is None:
            continue
        version, title, direction = int(match.group(1)), match.group(2), match.group(3)
        found = pairs.setdefault(version, {})
        if direction in found:
            raise DependencyError(
                f"duplicate version {version}: {found[direction]} and {n}", directory / n
            )
        found[direction] = n
        titles.setdefault(version, title)
    out = []
    for version, files in sorted(pairs.items()):
        if "up" not in files:
            # golang-migrate can only go down from such a version; mig has nothing to apply.
            raise DependencyError(
                f"{files['down']} has no matching .up.sql file", directory / files["down"]
            )
        up_path = directory / files["up"]
        up = read_text(up_path)
        down = read_text(directory / files["down"]) if "down" in files else ""
        transactional = not (
            needs_no_transaction(up) or needs_no_transaction(down)
            or manages_own_transaction(up) or manages_own_transaction(down)
        )
        stem = files["up"].removesuffix(".up.sql")
        out.append(make_migration(
            id=stem, version=version, name=titles[version].replace("_", " "), path=up_path,
            up=up, down=down, fmt=NAME, down_line=1 if "down" in files else 0,
            transactional=transactional,
            metadata={"down_file": files.get("down", ""), "transactional_hint": TRANSACTIONAL_HINT},
        ))
    return out
