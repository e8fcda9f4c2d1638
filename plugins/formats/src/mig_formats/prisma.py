"""Prisma Migrate: ``<timestamp>_<name>/migration.sql`` folders beside ``migration_lock.toml``
(``prisma/migrations/``). Each folder is one migration, up only: Prisma has no down
migrations, so each is irreversible (rolled back by restoring its backup).

Prisma applies the folders in name order; mig's version is the folder's leading number (the
timestamp ``prisma migrate dev`` writes), and a folder whose names order otherwise than those
numbers, or two folders of one number, are refused. A subfolder with files but no
``migration.sql`` is an error naming it. ``migration_lock.toml`` (the provider Prisma
generated the SQL for) is not read: mig runs the SQL on the configured database.

Prisma sends a ``migration.sql`` as it is, with no transaction around it; mig runs it in a
transaction (so a failing migration leaves nothing half-done), except a file that holds its
own ``BEGIN;``...``COMMIT;`` or a statement PostgreSQL refuses in a transaction.
"""

from __future__ import annotations

import hashlib
import re
from pathlib import Path

from mig import Migration, MigrationFileError

from .common import (
    by_folder,
    check_name_order,
    make_migration,
    manages_own_transaction,
    needs_no_transaction,
    read_text,
)

NAME = "prisma"
#: How deep below the folder the registry lists files for this format: one folder per
#: migration.
LEVELS = 1
#: How a Prisma migration runs outside a transaction (for mig's error messages).
TRANSACTIONAL_HINT = (
    "a Prisma migration cannot say so: open and commit its own transaction (BEGIN; ... COMMIT;)"
    " or convert the folder with `mig import --convert` and set @transactional: false there"
)
LOCK = "migration_lock.toml"
SCRIPT = "migration.sql"
FOLDER = re.compile(r"(\d+)_(.+)")


def checksum(text: bytes) -> str:
    """What Prisma stores in ``_prisma_migrations.checksum``: the SHA-256 of the file."""
    return hashlib.sha256(text).hexdigest()


def detect(directory: Path, names: list[str]) -> bool:
    return LOCK in names or any(
        n.endswith("/" + SCRIPT) and FOLDER.fullmatch(n.split("/", 1)[0]) for n in names
    )


def load(directory: Path, names: list[str]) -> list[Migration]:
    folders = by_folder(names)
    entries = []
    for folder, files in sorted(folders.items()):  # Prisma's order: by folder name
        path = directory / folder / SCRIPT
        if SCRIPT not in files:
            raise MigrationFileError(
                f"Prisma migration folder {folder}/ has no {SCRIPT}", directory / folder
            )
        match = FOLDER.fullmatch(folder)
        if match is None:
            raise MigrationFileError(
                f"Prisma migration folder {folder}/ is not named <timestamp>_<name>: mig needs"
                " the leading number as the version", path,
            )
        entries.append((folder, int(match.group(1)), path, match.group(2)))
    check_name_order([(f, v, p) for f, v, p, _ in entries], "Prisma")
    out = []
    for folder, version, path, title in entries:
        up = read_text(path)
        out.append(make_migration(
            id=folder, version=version, name=title.replace("_", " "), path=path, up=up,
            down="", fmt=NAME, reversible=False,
            transactional=not (needs_no_transaction(up) or manages_own_transaction(up)),
            metadata={"prisma_migration": folder, "prisma_checksum": checksum(path.read_bytes()),
                      "source": f"{folder}/{SCRIPT}", "transactional_hint": TRANSACTIONAL_HINT},
        ))
    return out
