"""Diesel (Rust): ``<version>_<name>/`` folders holding ``up.sql``, ``down.sql`` and an
optional ``metadata.toml`` (``diesel migration generate`` writes
``2023-01-01-000000_create_users/``). Each folder is one migration; Diesel's own
``00000000000000_diesel_initial_setup`` (its PostgreSQL helper functions) is one like the
others.

The version is what Diesel stores in ``__diesel_schema_migrations``: the folder name up to
its first ``_`` with every ``-`` removed (``20230101000000``). Diesel applies the folders in
version order; mig, which orders by number, refuses a version that is not digits, two folders
of one version, or versions whose digit counts would order them otherwise.

A folder with files but no ``up.sql`` is an error naming it (Diesel refuses it too); an
``up.sql`` with no SQL is refused as Diesel refuses it. A missing, empty or comment-only
``down.sql`` makes the migration irreversible (rolled back by restoring its backup).
``metadata.toml``'s ``run_in_transaction = false`` runs it outside a transaction. As in
Diesel, a ``metadata.toml`` without that key means false (Diesel's default applies only with
no file); one that is not TOML is an error (Diesel would ignore it). Its other keys are not
read. Other files in a folder (notes) and files beside the folders are ignored.
"""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

from mig import Migration, MigrationFileError

from .common import by_folder, check_name_order, is_empty_sql, make_migration, read_text

NAME = "diesel"
#: How deep below the folder the registry lists files for this format: one folder per
#: migration.
LEVELS = 1
#: How a Diesel migration runs outside a transaction (for mig's error messages).
TRANSACTIONAL_HINT = "add run_in_transaction = false to the migration folder's metadata.toml"
UP, DOWN, METADATA = "up.sql", "down.sql", "metadata.toml"
# Diesel reads any folder; mig needs a number before the first "_" (dashes allowed, as in the
# date-stamped names Diesel generates).
FOLDER = re.compile(r"(\d[\d-]*)_(.+)")


def version(folder: str) -> str:
    """Diesel's version of a migration folder: the name up to the first ``_``, no ``-``."""
    return folder.split("_", 1)[0].replace("-", "")


def detect(directory: Path, names: list[str]) -> bool:
    return any(
        n.endswith("/" + UP) and FOLDER.fullmatch(n.split("/", 1)[0]) for n in names
    )


def _run_in_transaction(path: Path) -> bool:
    text = read_text(path)
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        line = getattr(exc, "lineno", None) or 1
        raise MigrationFileError(f"metadata.toml is not valid TOML ({exc})", path, line) from None
    value = data.get("run_in_transaction", False)
    if not isinstance(value, bool):
        raise MigrationFileError("run_in_transaction must be true or false", path, 1)
    return value


def load(directory: Path, names: list[str]) -> list[Migration]:
    folders = by_folder(names)
    entries = []
    for folder, files in folders.items():
        path = directory / folder / UP
        if UP not in files:
            raise MigrationFileError(
                f"Diesel migration folder {folder}/ has no {UP}", directory / folder
            )
        match = FOLDER.fullmatch(folder)
        if match is None:
            raise MigrationFileError(
                f"Diesel migration folder {folder}/ is not named <version>_<name> with a"
                " numeric version: mig needs the version as a number", path,
            )
        entries.append((folder, version(folder), files, match.group(2)))
    entries.sort(key=lambda e: (e[1], e[0]))  # Diesel's order: by version
    check_name_order([(f, int(v), directory / f / UP) for f, v, _, _ in entries], "Diesel")
    out = []
    for folder, number, files, title in entries:
        up_path = directory / folder / UP
        up = read_text(up_path)
        if is_empty_sql(up):
            raise MigrationFileError(
                "up.sql holds no SQL (Diesel refuses an empty migration)", up_path, 1
            )
        down = read_text(directory / folder / DOWN) if DOWN in files else ""
        transactional = (
            _run_in_transaction(directory / folder / METADATA) if METADATA in files else True
        )
        out.append(make_migration(
            id=folder, version=int(number), name=title.replace("_", " "), path=up_path,
            up=up, down=down, fmt=NAME, down_line=1 if DOWN in files else 0,
            reversible=not is_empty_sql(down), transactional=transactional,
            metadata={"diesel_version": number, "source": f"{folder}/{UP}",
                      "down_file": f"{folder}/{DOWN}" if DOWN in files else "",
                      "transactional_hint": TRANSACTIONAL_HINT},
        ))
    return out
