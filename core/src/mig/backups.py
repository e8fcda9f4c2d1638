"""Backups: the core's orchestration of backup strategies and storage targets.

Strategies (plugins) only write and read local files; this module names backups, checksums
their parts, writes a manifest beside them through the storage target, keeps the
``backup_info`` catalogue, verifies before every restore, keeps the audit trail whole across
restores and applies the retention rules. Nothing here knows a backup type by name.

The store is read backup by backup: a manifest that cannot be read makes its own backup
*damaged* (listed, never used or pruned) and nothing else. What killed runs leave behind is
*incomplete*: parts without a manifest, scratch folders in ``.staging`` and the dialect's
temporary restore files; it is listed, reported by ``check`` and reclaimed by ``prune``.
Each scratch folder is ``flock``-ed by the process using it for as long as it exists (the
kernel drops the lock when that process dies), so a folder or a backup's parts in use by a
running operation (of this database, or of another one sharing ``backups_dir``) are never
taken for leftovers.
"""

from __future__ import annotations

import datetime as _dt
import errno
import fcntl
import hashlib
import json
import os
import shutil
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from . import chunks
from .errors import BackupError, DatabaseError, MigError, PluginError, UnknownTargetError
from .ledger import Ledger, RestoreCause, new_id, now
from .models import (
    BackupInfo,
    BackupType,
    MigrationExecution,
    MigrationStatus,
    Operation,
    Problem,
)
from .protocols import BackupJob, Context, Dialect, RestoreJob, StorageTarget
from .signing import Keys

if TYPE_CHECKING:
    from .config import Config
    from .database import Database
    from .plugins import Plugins

MANIFEST = "manifest.json"
MANIFEST_FORMAT = 1
STAGING = ".staging"
_CHUNK = 1 << 20


def _open_part(path: Path) -> int:
    """A read-only descriptor of a part; a symlink is refused."""
    try:
        return os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC)
    except OSError as exc:
        if exc.errno == errno.ELOOP:
            raise BackupError(f"refusing {path}: it is a symlink") from None
        raise


def sha256_file(path: Path) -> tuple[str, int]:
    """The SHA-256 and size of a file, read in 1 MiB chunks; a symlink is refused."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC)
    except OSError as exc:
        if exc.errno == errno.ELOOP:
            raise BackupError(f"refusing {path}: it is a symlink") from None
        raise
    with os.fdopen(fd, "rb") as fh:
        return sha256_stream(fh)


def sha256_stream(stream: Any) -> tuple[str, int]:
    digest = hashlib.sha256()
    size = 0
    while chunk := stream.read(_CHUNK):
        digest.update(chunk)
        size += len(chunk)
    return digest.hexdigest(), size


#: Parts smaller than this in all are hashed before they are stored, not beside it (a
#: thread costs more to start than hashing a few pages: each pre-migration increment of a
#: run is that small).
_SMALL_PARTS = 4 << 20


@dataclass
class Manifest:
    """A backup as described by the manifest stored with it."""

    info: BackupInfo
    parts: dict[str, dict[str, Any]]
    applied: list[str]
    data: dict[str, Any]

    @classmethod
    def parse(cls, text: str, key: str) -> Manifest:
        try:
            data = json.loads(text)
            info = BackupInfo(
                backup_id=data["backup_id"],
                backup_path=data.get("backup_path", ""),
                backup_type=BackupType.parse(data["backup_type"]),
                database_path=data.get("database", {}).get("url", ""),
                created_at=data["created_at"],
                size_bytes=int(data["size_bytes"]),
                checksum=data["checksum"],
                migration_id=data.get("migration_id"),
                parent_id=data.get("parent_id"),
                storage=data.get("storage", "local"),
                extra=data.get("extra", {}),
            )
            return cls(info, dict(data["parts"]), list(data.get("applied", [])), data)
        except (ValueError, KeyError, TypeError) as exc:
            raise BackupError(f"manifest {key} is damaged: {exc}") from None


@dataclass
class RestoreNotice:
    """What a restore of ``backup_id`` would discard, told before it runs (SPEC §10)."""

    backup_id: str
    backup_type: str
    created_at: str
    #: The migrations it undoes, newest first.
    undoes: list[str]
    #: The tables written since the backup was taken; None when the dialect cannot tell.
    changed: list[str] | None

    def age(self) -> str:
        seconds = (_dt.datetime.now(_dt.UTC) - _dt.datetime.fromisoformat(self.created_at))
        minutes = int(seconds.total_seconds() // 60)
        if minutes < 1:
            return "less than a minute"
        days, rest = divmod(minutes, 24 * 60)
        hours, minutes = divmod(rest, 60)
        parts = [f"{days} d"] * bool(days) + [f"{hours} h"] * bool(hours) + [f"{minutes} min"]
        return " ".join(parts[:2])

    def lines(self) -> list[str]:
        changed = ("cannot tell which tables were written since" if self.changed is None
                   else "tables written since: " + (", ".join(self.changed) or "none"))
        return [
            f"restores backup {self.backup_id} ({self.backup_type}, taken {self.age()} ago);"
            " everything written to the database after it is lost",
            "  it undoes: " + (", ".join(self.undoes) or "no migration"),
            f"  {changed}",
        ]


@dataclass
class Damaged:
    """A backup whose manifest cannot be read (or is refused): listed, never used or pruned."""

    backup_id: str
    error: str

    def to_dict(self) -> dict[str, Any]:
        return {"backup_id": self.backup_id, "backup_type": None, "created_at": None,
                "size_bytes": None, "size_mb": None, "migration_id": None, "parent_id": None,
                "damaged": True, "incomplete": False, "error": self.error}


@dataclass
class Leftover:
    """Something a killed run left behind: a backup's parts without a manifest, a scratch
    folder in ``.staging``, or a temporary file of a restore beside the database."""

    what: str
    name: str
    path: str
    size: int
    in_use: bool = False
    refused: str = ""
    keys: list[str] = field(default_factory=list)

    def describe(self) -> str:
        text = f"{self.what} {self.path} ({human_size(self.size)})"
        if self.refused:
            text += f": {self.refused}"
        return text

    def to_dict(self) -> dict[str, Any]:
        is_backup = bool(self.keys)
        return {"backup_id": self.name if is_backup else None, "backup_type": None,
                "created_at": None, "size_bytes": self.size, "size_mb": self.size / 1e6,
                "migration_id": None, "parent_id": None, "damaged": False, "incomplete": True,
                "what": self.what, "path": self.path, "in_use": self.in_use,
                "error": self.refused or None}


@dataclass
class Store:
    """The backups in storage as read: whole ones (oldest first), damaged ones, and
    backups' parts without a manifest (by backup id: their keys)."""

    manifests: list[Manifest]
    damaged: list[Damaged]
    orphans: dict[str, list[str]]
    by_id: dict[str, Manifest] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.by_id = {m.info.backup_id: m for m in self.manifests}

    def add(self, manifest: Manifest) -> None:
        self.manifests.append(manifest)
        self.by_id[manifest.info.backup_id] = manifest


@dataclass
class PruneReport:
    """What a prune did: backups removed, leftovers reclaimed (and those left: in use or
    refused), catalogue entries of backups deleted by hand forgotten, damaged backups kept."""

    removed: list[str] = field(default_factory=list)
    reclaimed: list[Leftover] = field(default_factory=list)
    left: list[Leftover] = field(default_factory=list)
    forgotten: list[str] = field(default_factory=list)
    damaged: list[Damaged] = field(default_factory=list)
    #: Backups of this database in storage that the catalogue lacked (their run was killed
    #: before it wrote their rows), catalogued by the prune.
    catalogued: list[str] = field(default_factory=list)

    @property
    def reclaimed_bytes(self) -> int:
        return sum(item.size for item in self.reclaimed)


def human_size(size: int) -> str:
    value = float(size)
    for unit in ("bytes", "KiB", "MiB", "GiB"):
        if value < 1024 or unit == "GiB":
            return f"{size} bytes" if unit == "bytes" else f"{value:.1f} {unit}"
        value /= 1024
    return f"{size} bytes"  # not reached


@dataclass
class Tally:
    """The backups one command took (count, bytes stored, seconds spent) and what the
    retention run after it removed, for the run summary."""

    count: int = 0
    size: int = 0
    seconds: float = 0.0
    pruned: PruneReport | None = None
    prune_error: str | None = None

    def line(self) -> str:
        text = f"backups: {self.count} taken, {human_size(self.size)}, {self.seconds:.2f} s"
        if self.pruned is not None and (self.pruned.removed or self.pruned.reclaimed):
            text += (f"; retention removed {len(self.pruned.removed)}"
                     f" (+{len(self.pruned.reclaimed)} leftovers)")
        if self.prune_error:
            text += f"; retention failed: {self.prune_error}"
        return text


@dataclass
class RestoreOutcome:
    """What a restore did: its ``restore`` row, the rollback rows it wrote (a rollback by
    restore), and whether the backup kept the schema as it was (data-only)."""

    record: MigrationExecution
    rollbacks: list[MigrationExecution]
    keeps_schema: bool


class Backups:
    """Backup operations on one database, built from the configuration, the plugins, the
    database (its connection, ledger and transactions) and a function that gives the context
    strategies work in."""

    def __init__(
        self, config: Config, plugins: Plugins, db: Database, context: Callable[[], Context]
    ) -> None:
        self.config = config
        self.plugins = plugins
        self.db = db
        self.context = context
        self._storage: StorageTarget | None = None
        self.keys = Keys.load(config)
        #: What the last :meth:`prune` did (its return value stays the removed ids).
        self.last_prune = PruneReport()
        #: The storage's backups, read once while the migration lock is held (only this
        #: process changes them then, and it keeps the copy up to date); None otherwise.
        self._held: Store | None = None
        self._holding = False
        #: What the current (or last) command's backups cost.
        self.tally = Tally()
        #: Catalogue rows of backups taken while the lock is held, not written yet.
        self._unrecorded: list[tuple[BackupInfo, str]] = []
        self._run_tables: tuple[str | None, dict[str, list[Any]] | None] = (None, None)

    # -- plumbing -----------------------------------------------------------------------------

    @property
    def storage(self) -> StorageTarget:
        if self._storage is None:
            targets = self.plugins.load().storage_targets()
            cls = self.plugins.pick(targets, self.config.storage, "storage target", "storage")
            self._storage = cls(
                self.config.backups_dir, options=self.config.options.get(cls.name, {})
            )
        return self._storage

    def strategy(self, backup_type: str) -> Any:
        types = self.plugins.load().backup_types()
        if backup_type not in types:
            installed = ", ".join(sorted(types)) or "none"
            raise PluginError(
                f"no installed plugin makes {backup_type!r} backups (installed: {installed};"
                f" backup = \"none\" takes none)"
                + self.plugins.problems_note()
            )
        return types[backup_type]()

    @contextmanager
    def _workdir(self, label: str) -> Iterator[Path]:
        """A private scratch folder beside the backups, so parts can be moved, not copied.
        Its name starts with ``label`` (the backup's id) and it is ``flock``-ed while it
        exists: that is how :meth:`leftovers` tells a running operation's folder (and its
        backup's parts) from a killed one's."""
        root = self.config.backups_dir
        staging = root / STAGING
        try:
            _private_dir(root)
            if staging.is_symlink():
                raise BackupError(f"refusing {staging}: it is a symlink (mig never follows links"
                                  " in the backups folder)")
            _private_dir(staging)
            path = Path(tempfile.mkdtemp(dir=staging, prefix=f"{label}."))
            fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
        except OSError as exc:
            reason = "not a folder" if root.exists() and not root.is_dir() else exc.strerror
            raise BackupError(f"cannot write backups to {root}: {reason or exc}") from exc
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            yield path
        finally:
            shutil.rmtree(path, ignore_errors=True)
            os.close(fd)

    # -- listing and verifying ----------------------------------------------------------------

    @contextmanager
    def held(self) -> Iterator[None]:
        """While the migration lock is held: the storage is listed and its manifests read
        once, not once per backup a run takes (which made a run of N backups cost N²
        manifest reads)."""
        self._holding, self._held = True, None
        self.tally = Tally()
        try:
            yield
        except BaseException:
            with suppress(Exception):  # the block's own error is the one to tell
                self.record_catalogue()
            raise
        else:
            self.record_catalogue()
        finally:
            self._holding, self._held = False, None

    def record_catalogue(self) -> None:
        """Write the catalogue rows of the backups taken since the last call, in one
        transaction. While the lock is held the rows wait for this (for the end of the
        block, or for whatever reads the catalogue first): a backup is whole and durable
        once its manifest is stored, and a commit of its own made every backup of a run cost
        another SQLite commit and made the next increment carry the row's pages."""
        if not self._unrecorded:
            return
        rows, self._unrecorded = self._unrecorded, []
        began = time.perf_counter()
        try:
            with self.db.transaction() as tx:
                for info, manifest in rows:
                    tx.backup_recorded(info, manifest)
        except BaseException as exc:
            if isinstance(exc, MigError | KeyboardInterrupt | SystemExit):
                raise
            reason = " ".join(str(exc).split()) or type(exc).__name__
            ids = ", ".join(info.backup_id for info, _ in rows)
            raise DatabaseError(
                f"backups {ids} are stored, but recording them in the database's catalogue"
                f" failed: {reason}"
            ) from exc
        self.tally.seconds += time.perf_counter() - began

    def scan(self) -> Store:
        """Every backup in storage, read backup by backup: one that cannot be read is
        damaged, and blocks nothing else."""
        if self._held is not None:
            return self._held
        store = self._scan()
        if self._holding:
            self._held = store
        return store

    def _scan(self) -> Store:
        groups: dict[str, list[str]] = {}
        for key in self.storage.keys():  # noqa: SIM118 (a StorageTarget, not a dict)
            groups.setdefault(key.split("/", 1)[0], []).append(key)
        found: list[Manifest] = []
        damaged: list[Damaged] = []
        orphans: dict[str, list[str]] = {}
        for name, keys in sorted(groups.items()):
            try:
                found.append(self._read_manifest(f"{name}/{MANIFEST}"))
            except (FileNotFoundError, NotADirectoryError):
                if any("/" in key for key in keys):  # parts, but no manifest
                    orphans[name] = keys
            except (BackupError, OSError) as exc:
                damaged.append(Damaged(name, str(exc)))
        found.sort(key=lambda m: (m.info.created_at, m.info.backup_id))
        return Store(found, damaged, orphans)

    def manifests(self) -> list[Manifest]:
        """Every whole backup in storage, oldest first, read from the manifests alone."""
        return self.scan().manifests

    def damaged(self) -> list[Damaged]:
        """Backups whose manifest cannot be read."""
        return self.scan().damaged

    def _read_manifest(self, key: str) -> Manifest:
        try:
            with self.storage.open(key) as fh:
                text = fh.read().decode("utf-8")
        except UnicodeDecodeError:
            raise BackupError(f"manifest {key} is damaged: not UTF-8") from None
        except IsADirectoryError:
            raise BackupError(f"manifest {key} is damaged: a folder") from None
        return Manifest.parse(text, key)

    def get(self, backup_id: str) -> Manifest:
        """A backup by id, or by a prefix that names exactly one."""
        if not backup_id.strip():  # '' is a prefix of every id: never "the only backup"
            raise UnknownTargetError("a backup id cannot be empty (see `mig backup list`)")
        store = self.scan()
        manifests = {m.info.backup_id: m for m in store.manifests}
        if backup_id in manifests:
            return manifests[backup_id]
        matches = [m for key, m in manifests.items() if key.startswith(backup_id)]
        broken = [d for d in store.damaged if d.backup_id.startswith(backup_id)] if (
            backup_id) else []
        if not matches and len(broken) == 1:
            raise BackupError(f"backup {broken[0].backup_id} is damaged: {broken[0].error}")
        if len(matches) != 1:
            what = "no backup" if not matches else "more than one backup"
            raise UnknownTargetError(f"{what} has the id {backup_id!r} (see `mig backup list`)")
        return matches[0]

    def chain(self, manifest: Manifest) -> list[Manifest]:
        """The backup and its ancestors, base first; a missing link is an error."""
        chain = [manifest]
        seen = {manifest.info.backup_id}
        while chain[0].info.parent_id:
            parent_id = chain[0].info.parent_id
            if parent_id in seen:
                raise BackupError(f"backup chain of {manifest.info.backup_id} loops at {parent_id}")
            try:
                parent = self._manifest(parent_id)
            except FileNotFoundError:
                raise BackupError(
                    f"backup {manifest.info.backup_id} needs {parent_id}, which is missing:"
                    " the incremental chain is broken"
                ) from None
            seen.add(parent_id)
            chain.insert(0, parent)
        return chain

    def _manifest(self, backup_id: str) -> Manifest:
        if self._held is not None and backup_id in self._held.by_id:
            return self._held.by_id[backup_id]
        return self._read_manifest(f"{backup_id}/{MANIFEST}")

    def verify(self, backup_id: str) -> list[Manifest]:
        """Check every part of the backup and of its chain; return the chain, base first."""
        return self._verify_chain(self.chain(self.get(backup_id)))

    def _verify_chain(self, chain: list[Manifest]) -> list[Manifest]:
        for link in chain:
            self._verify_parts(link)
        return chain

    def _verify_parts(self, manifest: Manifest) -> None:
        bid = manifest.info.backup_id
        self.keys.check(manifest.data, bid)
        if manifest.parts.get("data", {}).get("sha256") != manifest.info.checksum:
            raise BackupError(f"backup {bid}: the manifest's checksum does not match its parts")
        for part, expected in manifest.parts.items():
            key = f"{bid}/{part}"
            try:
                local = self.storage.local_path(key)
                if local is not None:
                    fd = _open_part(local)
                    try:
                        wrong = chunks.problem(fd, expected)
                    finally:
                        os.close(fd)
                else:
                    with self.storage.open(key) as fh:
                        wrong = chunks.problem_in_stream(fh, expected)
            except FileNotFoundError:
                raise BackupError(f"backup {bid} is damaged: part {part!r} is missing") from None
            if wrong:
                raise BackupError(f"backup {bid} is damaged: {part!r} {wrong}")

    def fetcher(self, workdir: Path, verified: set[str]) -> Any:
        """``fetch(info, part)`` for strategies: a local, verified copy of a part."""

        def fetch(info: BackupInfo, part: str) -> Path:
            key = f"{info.backup_id}/{part}"
            local = self.storage.local_path(key)
            if local is not None and info.backup_id in verified:
                return local
            dest = workdir / f"fetched-{info.backup_id}-{part}"
            try:
                manifest = self._manifest(info.backup_id)
                with self.storage.open(key) as src, dest.open("wb") as out:
                    shutil.copyfileobj(src, out, _CHUNK)
            except FileNotFoundError:
                # a BackupError like verify's, not an OSError that fails the caller's backup
                raise BackupError(
                    f"backup {info.backup_id} is damaged: part {part!r} is missing"
                ) from None
            fd = _open_part(dest)
            try:
                wrong = chunks.problem(fd, manifest.parts.get(part, {}))
            finally:
                os.close(fd)
            if wrong:
                raise BackupError(f"backup {info.backup_id} is damaged: {part!r} {wrong}")
            return dest

        return fetch

    # -- creating -----------------------------------------------------------------------------

    def create(self, backup_type: str, migration_id: str | None = None,
               run_id: str | None = None) -> BackupInfo:
        """Take a backup now (the caller holds the migration lock). The backups a run takes
        before its migrations (``run_id``) form a chain of their own: the run's first one is
        a base, so a restore replays at most one run's increments and retention removes whole
        runs."""
        began = time.perf_counter()
        strategy = self.strategy(backup_type)
        ledger = self.db.writer()
        ctx = self.context()
        stamp = _dt.datetime.now(_dt.UTC)
        info = BackupInfo(
            backup_id=f"{stamp:%Y%m%dT%H%M%S%fZ}-{backup_type}",
            backup_path="",
            backup_type=BackupType.parse(backup_type),
            database_path=ctx.dialect.display_url(),
            created_at=stamp.isoformat(timespec="microseconds"),
            size_bytes=0,
            checksum="",
            migration_id=migration_id,
            storage=self.config.storage,
        )
        parent = self._latest_of_chain(backup_type, run_id) if strategy.chained else None
        # Taken first: a write that lands between this and the copy reads as a change later,
        # which errs on the side of warning. Within a run each table is counted once, by the
        # first backup that sees it, and its figures stand for the run's later backups
        # (counting every table's rows before each migration cost more than the backup, and
        # counting each new table again made a run of N migrations N² queries): a later
        # restore then names a table an earlier migration of the run wrote as changed, again
        # on the side of warning.
        counted = self._run_tables[1] if run_id and self._run_tables[0] == run_id else None
        tables = ctx.dialect.table_stats(self.config.table_prefix, counted)
        if run_id:
            self._run_tables = (run_id, tables)
        info.parent_id = parent.backup_id if parent else None
        applied = [e.execution_id for e in ledger.in_effect()]
        with self._workdir(info.backup_id) as workdir:
            out = workdir / "parts"
            out.mkdir()
            job = BackupJob(info, out, parent, self.fetcher(workdir, set()))
            try:
                strategy.create(ctx, job)
            except OSError as exc:
                raise BackupError(f"backup {info.backup_id} failed: {exc}") from exc
            parts = sorted(p for p in out.iterdir() if p.is_file())
            if not any(p.name == "data" for p in parts):
                raise BackupError(f"the {backup_type} backup plugin wrote no 'data' part")
            manifest = self._store(info, parts, applied, job.extra, ctx.dialect, tables,
                                   run_id)
        try:
            if run_id and self._holding and not self.db.dialect.in_transaction:
                # A run's pre-migration backup: its row waits (see record_catalogue).
                self._unrecorded.append((info, manifest))
            else:
                with self.db.transaction() as tx:
                    tx.backup_recorded(info, manifest)
            if self._held is not None:
                self._held.add(Manifest.parse(manifest, info.backup_id))
            self.tally.count += 1
            self.tally.size += info.size_bytes
            self.tally.seconds += time.perf_counter() - began
        except BaseException as exc:
            # An uncatalogued backup would stay on every retry (a full database disk).
            self._delete(info.backup_id)
            if isinstance(exc, MigError | KeyboardInterrupt | SystemExit):
                raise
            reason = " ".join(str(exc).split()) or type(exc).__name__
            raise DatabaseError(
                f"backup {info.backup_id} was not kept: recording it in the database failed:"
                f" {reason}"
            ) from exc
        return info

    def _latest_of_chain(self, backup_type: str, run_id: str | None) -> BackupInfo | None:
        """The newest backup of this type that is still whole enough to build on (within a
        run: the run's own newest, if it took one)."""
        for manifest in reversed(self.manifests()):
            if str(manifest.info.backup_type) == backup_type:
                if run_id is not None and manifest.data.get("run_id") != run_id:
                    return None
                return manifest.info
        return None

    def _store(
        self,
        info: BackupInfo,
        parts: list[Path],
        applied: list[str],
        extra: dict[str, Any],
        dialect: Dialect,
        tables: dict[str, list[Any]] | None,
        run_id: str | None = None,
    ) -> str:
        info.backup_path = self.storage.describe(f"{info.backup_id}/data")
        info.extra = extra
        # A target that can store a whole folder at once (``put_folder``, optional) gets a
        # small backup's parts and manifest that way: one rename and sync for the backup.
        put_folder = getattr(self.storage, "put_folder", None)
        small = sum(part.stat().st_size for part in parts) < _SMALL_PARTS
        try:
            if small:
                summary = {}
                for part in parts:
                    os.chmod(part, 0o600)
                    summary[part.name] = chunks.summarize_file(part)
                    if put_folder is None:
                        self.storage.put(f"{info.backup_id}/{part.name}", part)
            else:
                summary = self._put_parts(info.backup_id, parts)
            info.checksum = summary["data"]["sha256"]
            info.size_bytes = sum(p["size"] for p in summary.values())
            content: dict[str, Any] = {
                "format": MANIFEST_FORMAT,
                "backup_id": info.backup_id,
                "backup_type": str(info.backup_type),
                "created_at": info.created_at,
                "migration_id": info.migration_id,
                "parent_id": info.parent_id,
                "checksum": info.checksum,
                "size_bytes": info.size_bytes,
                "backup_path": info.backup_path,
                "storage": info.storage,
                "parts": summary,
                "database": {"dialect": dialect.name, "url": info.database_path},
                "applied": applied,
                "run_id": run_id,
                "tables": tables,
                "extra": extra,
            }
            self.keys.sign(content)
            # Compact: a run's manifests grow with its tables and migrations, and their
            # pretty-printing cost more than the rest of a small backup (``backup create
            # --json`` prints them indented).
            manifest = json.dumps(content, separators=(",", ":"))
            path = parts[0].parent / MANIFEST
            path.write_text(manifest, encoding="utf-8")
            os.chmod(path, 0o600)
            if small and put_folder is not None:
                put_folder(info.backup_id, path.parent)
            else:
                self.storage.put(f"{info.backup_id}/{MANIFEST}", path)
        except BaseException as exc:
            # A full disk, the target's own BackupError or ^C: no partial backup may stay.
            self._delete(info.backup_id)
            if isinstance(exc, OSError):
                raise BackupError(f"storing backup {info.backup_id} failed: {exc}") from exc
            raise
        return manifest

    def _put_parts(self, backup_id: str, parts: list[Path]) -> dict[str, dict[str, Any]]:
        """Store the parts and checksum them at the same time: each part is opened before the
        target may move it, and hashed in chunks on a thread pool (hashlib and file reads
        release the GIL; see :mod:`mig.chunks`) while the target writes and syncs, so a
        backup costs one hashing pass spread over the cores, not two passes in a row."""
        from concurrent.futures import ThreadPoolExecutor

        fds: list[int] = []
        try:
            for part in parts:
                os.chmod(part, 0o600)
                fds.append(_open_part(part))
            with ThreadPoolExecutor(chunks.threads()) as pool:
                hashing = [chunks.submit(fd, os.fstat(fd).st_size, pool) for fd in fds]
                for part in parts:
                    self.storage.put(f"{backup_id}/{part.name}", part)
                entries = [entry() for entry in hashing]
        finally:
            for fd in fds:
                os.close(fd)
        return {part.name: entry for part, entry in zip(parts, entries, strict=True)}

    def _delete(self, backup_id: str) -> None:
        self._held = None  # read again when next needed
        # The manifest goes first: a backup without one is invisible, never half-listed.
        self.storage.delete(f"{backup_id}/{MANIFEST}")
        for key in list(self.storage.keys(f"{backup_id}/")):
            self.storage.delete(key)

    # -- restoring ----------------------------------------------------------------------------

    def restore(self, backup_id: str, cause: RestoreCause | None = None) -> RestoreOutcome:
        """Verify, then restore a backup; the ledger's ``restored`` transition lands with it
        (see docs/ledger.md). The caller holds the lock."""
        cause = cause or RestoreCause()
        self.record_catalogue()  # the restored database gets the whole catalogue
        chain = self.chain(self.get(backup_id))
        target = chain[-1]
        strategy = self.strategy(str(target.info.backup_type))
        # A strategy that calls job.finish inside its atomic step lets the checksums be
        # verified while it copies: finish waits for the verdict, so a damaged backup still
        # changes nothing. Any other strategy gets a verified backup before it starts.
        ledger = self.db.writer()
        ctx = self.context()
        overlap = strategy.calls_finish(ctx.dialect)
        if not overlap:
            self._verify_chain(chain)
        before = ledger.rows()
        record = MigrationExecution(
            execution_id=new_id(),
            migration_id=target.info.migration_id or "",
            version="",
            status=MigrationStatus.RUNNING,
            started_at=now(),
            operation=Operation.RESTORE,
            backup_id=target.info.backup_id,
            backup_path=target.info.backup_path,
            method=str(target.info.backup_type),
            rollback_available=False,
            error_message=cause.reason or None,
            run_id=cause.rollback_run,
        )
        keeps_schema = strategy.keeps_schema
        # A restore that keeps the schema as it is (data-only) undoes no migration.
        in_effect_then = None if keeps_schema else set(target.applied)
        lost = not (before.get("migration_executions") or before.get("backup_info"))
        url = ctx.dialect.display_url()
        prefix = self.config.table_prefix
        rollbacks: list[MigrationExecution] = []

        def finish(dialect: Dialect) -> None:
            if checking is not None:
                checking.result()  # raises BackupError for a damaged backup
            # The restored catalogue is as old as the backup; the manifests are not.
            catalogue = [(m.info, json.dumps(m.data, indent=2)) for m in self.manifests()
                         if m.info.database_path == url] if lost else []
            restored = Ledger(dialect, prefix)
            restored.actor = ledger.actor  # who asked, on the restore's rows too
            rollbacks[:] = restored.restored(record, in_effect_then, before, cause, catalogue)
            job.finished = True

        from concurrent.futures import ThreadPoolExecutor

        with ThreadPoolExecutor(max_workers=1) as pool, \
                self._workdir(f"restore-{target.info.backup_id}") as workdir:
            checking = pool.submit(self._verify_chain, chain) if overlap else None
            verified = {m.info.backup_id for m in chain}
            job = RestoreJob([m.info for m in chain], self.fetcher(workdir, verified), finish)
            try:
                strategy.restore(ctx, job)
            except BaseException as exc:
                # A damaged backup may break the copy before finish is reached: say so.
                damaged = checking.exception() if checking is not None else None
                if damaged is not None:
                    raise damaged from None
                if isinstance(exc, OSError):
                    raise BackupError(f"restoring {target.info.backup_id} failed: {exc}") from exc
                raise
            if checking is not None:
                checking.result()
        # The strategy may have replaced the database under the connection: reopen it.
        self.db.reconnect()
        if not job.finished:
            with self.db.transaction():
                finish(self.db.dialect)
        return RestoreOutcome(record, rollbacks, keeps_schema)

    def notice(
        self, backup_id: str, undoes: list[MigrationExecution] | None = None
    ) -> RestoreNotice:
        """What restoring ``backup_id`` would discard: its age, the migrations it undoes
        (``undoes``, else those in effect now but not when it was taken), and the tables
        written since it was taken where the dialect can tell."""
        manifest = self.get(backup_id)
        ledger = self.db.reader()
        if undoes is None:
            then = set(manifest.applied)
            undoes = [e for e in (ledger.in_effect() if ledger else [])
                      if e.execution_id not in then][::-1]
        saved = manifest.data.get("tables")
        live = self.db.dialect.table_stats(self.config.table_prefix) if ledger else None
        changed = None if saved is None or live is None else sorted(
            t for t in set(saved) | set(live) if saved.get(t) != live.get(t)
        )
        info = manifest.info
        return RestoreNotice(info.backup_id, str(info.backup_type), info.created_at,
                             [e.migration_id for e in undoes], changed)

    # -- leftovers ----------------------------------------------------------------------------

    def leftovers(self, store: Store | None = None) -> list[Leftover]:
        """What killed runs left behind: backups' parts without a manifest, scratch folders in
        ``.staging`` and the dialect's temporary restore files. ``in_use`` marks a folder (and
        the parts of its backup) that a running operation holds."""
        store = store or self.scan()
        found: list[Leftover] = []
        live: set[str] = set()
        staging = self.config.backups_dir / STAGING
        if staging.is_symlink():
            found.append(Leftover("staging folder", STAGING, str(staging), 0,
                                  refused="a symlink; mig never follows it, remove it by hand"))
        elif staging.is_dir():
            for entry in sorted(staging.iterdir()):
                busy = _in_use(entry)
                if busy:
                    live.add(entry.name.split(".", 1)[0])
                found.append(Leftover(
                    "staging folder", entry.name, str(entry), _tree_size(entry), busy,
                    "a symlink; mig never follows it, remove it by hand"
                    if entry.is_symlink() else "",
                ))
        for backup_id, keys in store.orphans.items():
            size, refused = 0, ""
            for key in keys:
                try:
                    local = self.storage.local_path(key)
                    size += local.lstat().st_size if local is not None else 0
                except (BackupError, OSError) as exc:
                    refused = str(exc)
            where = os.path.dirname(self.storage.describe(keys[0]))
            found.append(Leftover("parts without a manifest", backup_id, where, size,
                                  backup_id in live, refused, keys))
        for path in self.db.dialect.leftovers():
            try:
                size = path.lstat().st_size
            except OSError:
                continue
            found.append(Leftover("temporary restore file", path.name, str(path), size))
        return found

    def _reclaim(self, item: Leftover) -> None:
        self._held = None
        if item.keys:
            for key in item.keys:
                self.storage.delete(key)
        elif item.what == "staging folder":
            shutil.rmtree(item.path)
        # the dialect's temporary files go all together (see prune)

    # -- retention ----------------------------------------------------------------------------

    def prune(self, keep_days: int, keep_count: int) -> list[str]:
        """Delete backups outside the retention rules, never one that is still needed; reclaim
        what killed runs left behind; forget catalogue entries of backups deleted by hand.
        The caller holds the migration lock. Returns the ids removed (the whole report is
        :attr:`last_prune`)."""
        started = time.time()
        self.record_catalogue()
        report = PruneReport()
        store = self.scan()
        manifests = store.manifests
        report.damaged = store.damaged
        cutoff = _dt.datetime.now(_dt.UTC) - _dt.timedelta(days=keep_days)
        kept = {m.info.backup_id for m in manifests[len(manifests) - keep_count:]} if (
            keep_count
        ) else set()
        if keep_days:
            kept |= {m.info.backup_id for m in manifests
                     if _dt.datetime.fromisoformat(m.info.created_at) >= cutoff}
        kept |= self._needed_for_rollback()
        by_id = {m.info.backup_id: m for m in manifests}
        for backup_id in list(kept):  # a kept backup keeps its whole chain
            parent = by_id[backup_id].info.parent_id if backup_id in by_id else None
            while parent and parent in by_id and parent not in kept:
                kept.add(parent)
                parent = by_id[parent].info.parent_id
        removed = [m.info.backup_id for m in reversed(manifests) if m.info.backup_id not in kept]
        for backup_id in removed:
            self._delete(backup_id)
            with self.db.transaction() as ledger:
                ledger.backup_forgotten(backup_id)
        report.removed = removed
        self._reclaim_leftovers(store, started, report)
        self._forget_missing(store, report)
        self._catalogue_uncatalogued(store, set(removed), report)
        self.last_prune = report
        return removed

    def _reclaim_leftovers(self, store: Store, started: float, report: PruneReport) -> None:
        """Reclaim leftovers, but never one a running operation may be using. This database's
        operations cannot be running (the caller holds its migration lock, taken on the real
        file), so its temporary restore files all go. ``backups_dir`` may be shared with other
        databases, whose operations do run meanwhile: a scratch folder whose ``flock`` is held
        is theirs, and so are the parts of the backup it names; and anything changed since
        this prune started (a folder made between another process's ``mkdtemp`` and its
        ``flock``) is left for the next prune."""
        dialect_files = False
        for item in self.leftovers(store):
            if item.in_use or item.refused or _changed_since(Path(item.path), started):
                report.left.append(item)
                continue
            if item.what == "temporary restore file":
                dialect_files = True
                report.reclaimed.append(item)
                continue
            try:
                self._reclaim(item)
            except (BackupError, OSError) as exc:
                item.refused = str(exc)
                report.left.append(item)
                continue
            report.reclaimed.append(item)
        if dialect_files:
            self.db.dialect.remove_leftovers()

    def _forget_missing(self, store: Store, report: PruneReport) -> None:
        """Catalogue entries whose backup is gone from storage (deleted by hand): each is
        forgotten with an audit row (``forget``) saying so."""
        for row in self.gone(store):
            with self.db.transaction() as tx:
                self.forget(tx, row, "prune")
            report.forgotten.append(row.backup_id)

    def uncatalogued(self, store: Store) -> list[Manifest]:
        """Whole backups of this database in storage that the catalogue lacks: a run's rows
        are written when it releases the lock (:meth:`record_catalogue`), so a run killed
        before that leaves its backups stored, restorable, and not catalogued."""
        ledger = self.db.reader()
        if ledger is None:
            return []
        listed = {row.backup_id for row in ledger.backups()}
        url = self.db.dialect.display_url()
        return [m for m in store.manifests
                if m.info.backup_id not in listed and m.info.database_path == url]

    def _catalogue_uncatalogued(self, store: Store, removed: set[str],
                                report: PruneReport) -> None:
        stray = [m for m in self.uncatalogued(store) if m.info.backup_id not in removed]
        if stray:
            with self.db.transaction() as tx:
                for m in stray:
                    tx.backup_recorded(m.info, json.dumps(m.data, separators=(",", ":")))
            report.catalogued = [m.info.backup_id for m in stray]

    def gone(self, store: Store | None = None) -> list[BackupInfo]:
        """Catalogue entries whose backup is gone from storage (deleted outside mig)."""
        self.record_catalogue()
        ledger = self.db.reader()
        if ledger is None:
            return []
        store = store or self.scan()
        present = {m.info.backup_id for m in store.manifests} | {
            d.backup_id for d in store.damaged}
        return [row for row in ledger.backups() if row.backup_id not in present
                and not any(self.storage.keys(f"{row.backup_id}/"))]  # parts left: not gone

    @staticmethod
    def forget(ledger: Ledger, row: BackupInfo, by: str, run_id: str | None = None) -> (
            MigrationExecution):
        """Forget the catalogue entry ``row`` of a backup gone from storage, with its
        ``forget`` audit row (``by``: the command that found it gone); inside the caller's
        transaction. Returns the audit row."""
        record = MigrationExecution(
            execution_id=new_id(),
            migration_id=row.migration_id or "",
            version="",
            status=MigrationStatus.COMPLETED,
            started_at=now(),
            completed_at=now(),
            operation=Operation.FORGET,
            backup_id=row.backup_id,
            backup_path=row.backup_path,
            method=str(row.backup_type),
            rollback_available=False,
            run_id=run_id,
            error_message=f"backup {row.backup_id} was deleted from storage outside mig;"
                          f" {by} removed it from the catalogue",
        )
        ledger.backup_forgotten(row.backup_id, record)
        return record

    def _needed_for_rollback(self) -> set[str]:
        """Pre-migration backups of applied migrations that only a restore can undo."""
        needed = set()
        ledger = self.db.reader()
        for ex in ledger.in_effect() if ledger else ():
            if ex.backup_id and not ex.rollback_available:
                needed.add(ex.backup_id)
        return needed

    # -- checks -------------------------------------------------------------------------------

    def problems(self) -> list[Problem]:
        """Damaged backups, broken chains, leftovers of killed runs, and catalogue rows
        without a manifest."""
        problems: list[Problem] = []
        self.record_catalogue()
        try:
            store = self.scan()
        except BackupError as exc:
            return [Problem("backup", str(exc))]
        for m in store.manifests:
            try:
                self.chain(m)
                self._verify_parts(m)
            except BackupError as exc:
                problems.append(Problem("backup", str(exc), m.info.backup_id))
        for d in store.damaged:
            problems.append(Problem("backup", f"backup {d.backup_id} is damaged: {d.error}",
                                    d.backup_id))
        for item in self.leftovers(store):
            if not item.in_use:
                problems.append(Problem(
                    "backup", f"incomplete: {item.describe()} (`mig backup prune` reclaims it)"
                    if not item.refused else f"incomplete: {item.describe()}", item.name,
                ))
        ledger = self.db.reader()
        if ledger is not None:
            stored = {m.info.backup_id for m in store.manifests} | {
                d.backup_id for d in store.damaged}
            for row in ledger.backups():
                if row.backup_id not in stored:
                    problems.append(Problem(
                        "backup", f"catalogue lists {row.backup_id} but its manifest is gone"
                        " (`mig backup prune` forgets it)", row.backup_id,
                    ))
        # A backup stored by a run killed before it wrote its catalogue rows is no problem:
        # it is whole, listed and restorable (storage is what `backup list` and restores
        # read); the next prune, after the next run or by hand, catalogues it.
        return problems


def _in_use(path: Path) -> bool:
    """True while a running operation holds ``path``'s ``flock`` (see ``Backups._workdir``);
    a shared probe, released at once. A symlink is never opened."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC)
    except OSError:
        return False
    try:
        fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
    except BlockingIOError:
        return True
    finally:
        os.close(fd)
    return False


def _tree_size(path: Path) -> int:
    """Bytes in the files under ``path`` (never through a link)."""
    if path.is_symlink() or not path.is_dir():
        try:
            return path.lstat().st_size
        except OSError:
            return 0
    total = 0
    for dirpath, _dirs, files in os.walk(path):
        for name in files:
            with suppress(OSError):
                total += os.lstat(os.path.join(dirpath, name)).st_size
    return total


def _changed_since(path: Path, started: float) -> bool:
    try:
        return path.lstat().st_mtime > started
    except OSError:
        return False


def _private_dir(path: Path) -> None:
    path.mkdir(mode=0o700, parents=True, exist_ok=True)
    os.chmod(path, 0o700)
