"""Backups: the core's orchestration of backup strategies and storage targets.

Strategies (plugins) only write and read local files; this module names backups, checksums
their parts, writes a manifest beside them through the storage target, keeps the
``backup_info`` catalogue, verifies before every restore, keeps the audit trail whole across
restores and applies the retention rules. Nothing here knows a backup type by name.
"""

from __future__ import annotations

import datetime as _dt
import hashlib
import json
import os
import shutil
import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

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

if TYPE_CHECKING:
    from .config import Config
    from .database import Database
    from .plugins import Plugins

MANIFEST = "manifest.json"
MANIFEST_FORMAT = 1
_CHUNK = 1 << 20


def sha256_file(path: Path) -> tuple[str, int]:
    """The SHA-256 and size of a file, read in 1 MiB chunks."""
    digest = hashlib.sha256()
    size = 0
    with path.open("rb") as fh:
        while chunk := fh.read(_CHUNK):
            digest.update(chunk)
            size += len(chunk)
    return digest.hexdigest(), size


def sha256_stream(stream: Any) -> tuple[str, int]:
    digest = hashlib.sha256()
    size = 0
    while chunk := stream.read(_CHUNK):
        digest.update(chunk)
        size += len(chunk)
    return digest.hexdigest(), size


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
    def _workdir(self) -> Iterator[Path]:
        """A private scratch folder beside the backups, so parts can be moved, not copied."""
        root = self.config.backups_dir
        try:
            _private_dir(root)
            staging = root / ".staging"
            _private_dir(staging)
            path = Path(tempfile.mkdtemp(dir=staging))
        except OSError as exc:
            reason = "not a folder" if root.exists() and not root.is_dir() else exc.strerror
            raise BackupError(f"cannot write backups to {root}: {reason or exc}") from exc
        try:
            yield path
        finally:
            shutil.rmtree(path, ignore_errors=True)

    # -- listing and verifying ----------------------------------------------------------------

    def manifests(self) -> list[Manifest]:
        """Every backup in storage, oldest first, read from the manifests alone."""
        found = []
        for key in self.storage.keys():  # noqa: SIM118 (a StorageTarget, not a dict)
            if key.endswith("/" + MANIFEST):
                found.append(self._read_manifest(key))
        return sorted(found, key=lambda m: (m.info.created_at, m.info.backup_id))

    def _read_manifest(self, key: str) -> Manifest:
        try:
            with self.storage.open(key) as fh:
                text = fh.read().decode("utf-8")
        except UnicodeDecodeError:
            raise BackupError(f"manifest {key} is damaged: not UTF-8") from None
        return Manifest.parse(text, key)

    def get(self, backup_id: str) -> Manifest:
        """A backup by id, or by a prefix that names exactly one."""
        if not backup_id.strip():  # '' is a prefix of every id: never "the only backup"
            raise UnknownTargetError("a backup id cannot be empty (see `mig backup list`)")
        manifests = {m.info.backup_id: m for m in self.manifests()}
        if backup_id in manifests:
            return manifests[backup_id]
        matches = [m for key, m in manifests.items() if key.startswith(backup_id)]
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
                parent = self._read_manifest(f"{parent_id}/{MANIFEST}")
            except FileNotFoundError:
                raise BackupError(
                    f"backup {manifest.info.backup_id} needs {parent_id}, which is missing:"
                    " the incremental chain is broken"
                ) from None
            seen.add(parent_id)
            chain.insert(0, parent)
        return chain

    def verify(self, backup_id: str) -> list[Manifest]:
        """Check every part of the backup and of its chain; return the chain, base first."""
        return self._verify_chain(self.chain(self.get(backup_id)))

    def _verify_chain(self, chain: list[Manifest]) -> list[Manifest]:
        for link in chain:
            self._verify_parts(link)
        return chain

    def _verify_parts(self, manifest: Manifest) -> None:
        bid = manifest.info.backup_id
        if manifest.parts.get("data", {}).get("sha256") != manifest.info.checksum:
            raise BackupError(f"backup {bid}: the manifest's checksum does not match its parts")
        for part, expected in manifest.parts.items():
            key = f"{bid}/{part}"
            try:
                local = self.storage.local_path(key)
                if local is not None:
                    digest, size = sha256_file(local)
                else:
                    with self.storage.open(key) as fh:
                        digest, size = sha256_stream(fh)
            except FileNotFoundError:
                raise BackupError(f"backup {bid} is damaged: part {part!r} is missing") from None
            if size != expected.get("size"):
                raise BackupError(
                    f"backup {bid} is damaged: {part!r} has {size} bytes, the manifest says "
                    f"{expected.get('size')} (truncated or altered)"
                )
            if digest != expected.get("sha256"):
                raise BackupError(f"backup {bid} is damaged: {part!r} fails its SHA-256 check")

    def fetcher(self, workdir: Path, verified: set[str]) -> Any:
        """``fetch(info, part)`` for strategies: a local, verified copy of a part."""

        def fetch(info: BackupInfo, part: str) -> Path:
            key = f"{info.backup_id}/{part}"
            local = self.storage.local_path(key)
            if local is not None and info.backup_id in verified:
                return local
            dest = workdir / f"fetched-{info.backup_id}-{part}"
            try:
                manifest = self._read_manifest(f"{info.backup_id}/{MANIFEST}")
                with self.storage.open(key) as src, dest.open("wb") as out:
                    shutil.copyfileobj(src, out, _CHUNK)
            except FileNotFoundError:
                # a BackupError like verify's, not an OSError that fails the caller's backup
                raise BackupError(
                    f"backup {info.backup_id} is damaged: part {part!r} is missing"
                ) from None
            digest, _ = sha256_file(dest)
            if digest != manifest.parts.get(part, {}).get("sha256"):
                raise BackupError(f"backup {info.backup_id} is damaged: {part!r} fails its check")
            return dest

        return fetch

    # -- creating -----------------------------------------------------------------------------

    def create(self, backup_type: str, migration_id: str | None = None) -> BackupInfo:
        """Take a backup now (the caller holds the migration lock)."""
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
        parent = self._latest_of_chain(backup_type) if strategy.chained else None
        info.parent_id = parent.backup_id if parent else None
        applied = [e.execution_id for e in ledger.in_effect()]
        with self._workdir() as workdir:
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
            manifest = self._store(info, parts, applied, job.extra, ctx.dialect)
        try:
            with self.db.transaction() as tx:
                tx.backup_recorded(info, manifest)
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

    def _latest_of_chain(self, backup_type: str) -> BackupInfo | None:
        """The newest backup of this type that is still whole enough to build on."""
        for manifest in reversed(self.manifests()):
            if str(manifest.info.backup_type) == backup_type:
                return manifest.info
        return None

    def _store(
        self,
        info: BackupInfo,
        parts: list[Path],
        applied: list[str],
        extra: dict[str, Any],
        dialect: Dialect,
    ) -> str:
        info.backup_path = self.storage.describe(f"{info.backup_id}/data")
        info.extra = extra
        try:
            summary = self._put_parts(info.backup_id, parts)
            info.checksum = summary["data"]["sha256"]
            info.size_bytes = sum(p["size"] for p in summary.values())
            manifest = json.dumps(
                {
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
                    "extra": extra,
                },
                indent=2,
            )
            path = parts[0].parent / MANIFEST
            path.write_text(manifest, encoding="utf-8")
            os.chmod(path, 0o600)
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
        target may move it, and hashed in a thread (hashlib and file reads release the GIL)
        while the target writes and syncs, so a backup costs one hashing pass, not two."""
        from concurrent.futures import ThreadPoolExecutor

        handles = []
        try:
            for part in parts:
                os.chmod(part, 0o600)
                handles.append(part.open("rb"))
            with ThreadPoolExecutor(max_workers=max(1, len(parts))) as pool:
                hashing = [pool.submit(sha256_stream, fh) for fh in handles]
                for part in parts:
                    self.storage.put(f"{backup_id}/{part.name}", part)
                digests = [job.result() for job in hashing]
        finally:
            for fh in handles:
                fh.close()
        return {
            part.name: {"sha256": digest, "size": size}
            for part, (digest, size) in zip(parts, digests, strict=True)
        }

    def _delete(self, backup_id: str) -> None:
        # The manifest goes first: a backup without one is invisible, never half-listed.
        self.storage.delete(f"{backup_id}/{MANIFEST}")
        for key in list(self.storage.keys(f"{backup_id}/")):
            self.storage.delete(key)

    # -- restoring ----------------------------------------------------------------------------

    def restore(self, backup_id: str, cause: RestoreCause | None = None) -> RestoreOutcome:
        """Verify, then restore a backup; the ledger's ``restored`` transition lands with it
        (see docs/ledger.md). The caller holds the lock."""
        cause = cause or RestoreCause()
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
            rollbacks[:] = Ledger(dialect, prefix).restored(
                record, in_effect_then, before, cause, catalogue
            )
            job.finished = True

        from concurrent.futures import ThreadPoolExecutor

        with ThreadPoolExecutor(max_workers=1) as pool, self._workdir() as workdir:
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

    # -- retention ----------------------------------------------------------------------------

    def prune(self, keep_days: int, keep_count: int) -> list[str]:
        """Delete backups outside the retention rules, never one that is still needed."""
        manifests = self.manifests()
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
        return removed

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
        """Damaged backups, broken chains, and catalogue rows without a manifest."""
        problems: list[Problem] = []
        try:
            manifests = self.manifests()
        except BackupError as exc:
            return [Problem("backup", str(exc))]
        for m in manifests:
            try:
                self.chain(m)
                self._verify_parts(m)
            except BackupError as exc:
                problems.append(Problem("backup", str(exc), m.info.backup_id))
        ledger = self.db.reader()
        if ledger is not None:
            stored = {m.info.backup_id for m in manifests}
            for row in ledger.backups():
                if row.backup_id not in stored:
                    problems.append(Problem(
                        "backup", f"catalogue lists {row.backup_id} but its manifest is gone",
                        row.backup_id,
                    ))
        return problems


def _private_dir(path: Path) -> None:
    path.mkdir(mode=0o700, parents=True, exist_ok=True)
    os.chmod(path, 0o700)
