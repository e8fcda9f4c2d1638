"""Reading the migrations folder into ordered :class:`Migration` records."""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING

from .errors import ConfigError, DependencyError, MigError, MigrationFileError
from .models import Migration

if TYPE_CHECKING:
    from .plugins import Plugins


def load_migrations(directory: Path, plugins: Plugins) -> list[Migration]:
    """Parse every migration file of ``directory`` (files no parser claims are ignored) and
    return them in dependency order. Duplicate versions and bad files are errors."""
    if not directory.is_dir():
        raise ConfigError(f"migrations folder {directory} does not exist (run `mig init`)")
    found: list[Migration] = []
    by_number: dict[int, Migration] = {}
    with os.scandir(directory) as entries:
        names = sorted(e.name for e in entries if e.is_file() and not e.name.startswith("."))
    for name in names:
        path = directory / name
        try:
            text = path.read_text(encoding="utf-8")
        except UnicodeDecodeError as exc:
            # Binary files (a diagram, a PDF) are no business of ours unless a parser claims
            # the name; parsers decide by name, so an empty text is enough to ask.
            if not _claimed(plugins, path):
                continue
            raise MigrationFileError(f"not UTF-8 text ({exc.reason})", path) from None
        migration = plugins.parse_migration(path, text)
        if migration is None:
            continue
        other = by_number.get(migration.number)
        if other is not None:
            raise DependencyError(
                f"duplicate version {migration.version}: {other.path.name} and {path.name}", path
            )
        by_number[migration.number] = migration
        found.append(migration)
    return plugins.resolve_order(found)


def _claimed(plugins: Plugins, path: Path) -> bool:
    try:
        return plugins.parse_migration(path, "") is not None
    except MigError:
        return True
