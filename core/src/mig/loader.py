"""Reading the migrations folder into ordered :class:`Migration` records."""

from __future__ import annotations

import os
import threading
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

from .checksum import checksum
from .errors import (
    ConfigError,
    DependencyError,
    MigError,
    MigrationFileError,
    UnknownTargetError,
)
from .models import Migration, MigrationExecution, Statement

if TYPE_CHECKING:
    from .ledger import Ledger
    from .plugins import Plugins


MIG_FORMAT = "mig"
AUTO_FORMAT = "auto"


def load_migrations(
    directory: Path, plugins: Plugins, format: str = MIG_FORMAT,
    errors: list[MigError] | None = None,
) -> list[Migration]:
    """Parse every migration file of ``directory`` (files no parser claims are ignored) and
    return them in dependency order. Duplicate versions and bad files are errors.

    ``format`` other than ``mig`` first asks the plugins to read the folder as a whole
    (:func:`mig.hookspecs.mig_load_migrations`); ``auto`` falls back to mig's own files when
    no plugin recognises the folder, a format name no plugin reads is a configuration error.

    With an ``errors`` list (``mig validate``), a bad file's error is appended to it and
    the file skipped, so every bad file is reported, not only the first; what parsed is
    returned (in file order when the dependencies themselves are broken). A folder a plugin
    reads as a whole still stops at its first error."""
    if not directory.is_dir():
        raise ConfigError(f"migrations folder {directory} does not exist (run `mig init`)")
    if format != MIG_FORMAT:
        loaded: list[Migration] | None = plugins.hook.mig_load_migrations(
            directory=directory, format=format
        )
        if loaded is not None:
            _check_unique(loaded)
            return plugins.resolve_order(loaded)
        if format != AUTO_FORMAT:
            raise ConfigError(
                f"migrations_format = {format!r}: no installed plugin reads that format"
                " (`mig plugins` lists the installed plugins)"
            )
    found: list[Migration] = []
    by_number: dict[int, Migration] = {}
    with os.scandir(directory) as entries:
        names = sorted(e.name for e in entries if e.is_file() and not e.name.startswith("."))
    for name in names:
        try:
            migration = _load_one(directory / name, plugins, by_number)
        except MigError as exc:
            if errors is None:
                raise
            errors.append(exc)
            continue
        if migration is None:
            continue
        by_number[migration.number] = migration
        found.append(migration)
    try:
        return plugins.resolve_order(found)
    except MigError as exc:
        if errors is None:
            raise
        errors.append(exc)
        return found


def read_as_a_whole(directory: Path, plugins: Plugins, format: str) -> bool:
    """Whether a plugin reads ``directory`` as a whole in ``format`` (another tool's folder,
    where a file in mig's own format does not belong), rather than file by file as mig's."""
    if format == MIG_FORMAT or not directory.is_dir():
        return False
    try:
        return plugins.hook.mig_load_migrations(directory=directory, format=format) is not None
    except MigError:  # a plugin claimed the folder, and found a bad file in it
        return True


def _load_one(path: Path, plugins: Plugins, by_number: dict[int, Migration]) -> Migration | None:
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError as exc:
        # Binary files (a diagram, a PDF) are no business of ours unless a parser claims
        # the name; parsers decide by name, so an empty text is enough to ask.
        if not _claimed(plugins, path):
            return None
        raise MigrationFileError(f"not UTF-8 text ({exc.reason})", path) from None
    migration = plugins.parse_migration(path, text)
    if migration is None:
        return None
    other = by_number.get(migration.number)
    if other is not None:
        raise DependencyError(
            f"duplicate version {migration.version}: {other.path.name} and {path.name}", path
        )
    return migration


def _check_unique(migrations: list[Migration]) -> None:
    by_number: dict[int, Migration] = {}
    by_id: dict[str, Migration] = {}
    for m in migrations:
        other = by_number.get(m.number) or by_id.get(m.id)
        if other is not None:
            raise DependencyError(
                f"duplicate version {m.version}: {other.path.name} and {m.path.name}", m.path
            )
        by_number[m.number] = by_id[m.id] = m


def drifted(m: Migration, ex: MigrationExecution) -> bool:
    """Whether ``m``'s file changed since ``ex`` applied it (by the checksum rule ``ex`` was
    recorded with)."""
    if ex.checksum is None:
        return False
    if ex.checksum_version in (None, m.checksum_version):
        return m.checksum != ex.checksum
    return checksum(m.up_sql, m.down_sql, ex.checksum_version) != ex.checksum


def _claimed(plugins: Plugins, path: Path) -> bool:
    try:
        return plugins.parse_migration(path, "") is not None
    except MigError:
        return True


class Catalog:
    """The project's migration files, parsed once and in plan order, found by id or version;
    and the migration an execution applied: its file while unchanged, else what the ledger
    stored when it was applied. Threads may share one (a fleet's jobs do): the files are
    parsed once."""

    def __init__(
        self, directory: Path, plugins: Callable[[], Plugins], format: str = MIG_FORMAT
    ) -> None:
        self.directory = directory
        self.format = format
        self._plugins = plugins
        self._all: list[Migration] | None = None
        self._by_id: dict[str, Migration] | None = None
        self._lock = threading.Lock()
        #: Sections already split, by (SQL, dialect, first line, file): the engine splits
        #: each once per catalog (a fleet's targets share theirs).
        self.splits: dict[tuple[str, str, int, Path], tuple[Statement, ...]] = {}

    def all(self) -> list[Migration]:
        with self._lock:
            if self._all is None:
                self._all = load_migrations(self.directory, self._plugins(), self.format)
            return self._all

    def by_id(self) -> dict[str, Migration]:
        if self._by_id is None:
            self._by_id = {m.id: m for m in self.all()}
        return self._by_id

    def resolve(self, target: str) -> Migration:
        """A migration by id or version (``003`` and ``3`` both name version 3)."""
        found = self.by_id().get(target)
        if found is None and target.isdigit():
            found = next((m for m in self.all() if m.number == int(target)), None)
        if found is None:
            from .suggest import did_you_mean

            hint = did_you_mean(target, self.by_id())
            raise UnknownTargetError(f"no migration {target!r} in {self.directory}{hint}")
        return found

    def applied_by(self, ex: MigrationExecution, ledger: Ledger | None) -> Migration:
        m = self.by_id().get(ex.migration_id)
        if m is not None and not drifted(m, ex):
            return m
        stored = ledger.stored_migration(ex.migration_id, self.directory) if ledger else None
        if stored is None:
            raise UnknownTargetError(f"{ex.migration_id} is neither in the folder nor recorded")
        return stored
