"""Incremental backups of SQLite databases, by changed pages.

A backup reads the database file page by page while a read transaction holds it still (in
WAL mode after a checkpoint has put the whole log into the file, or, when another reader
keeps that from finishing, from a copy made with SQLite's backup API), hashes every page and
stores either the whole image (a base) or only the pages whose hash differs from the parent's
index (an increment).

A restore copies the base into a temporary file beside the database, writes each increment's
pages over it in order, cuts it to the last page count, checks it with ``PRAGMA quick_check``,
writes mig's audit trail into it, syncs it and renames it over the database: a crash leaves
either the old database or the restored one.
"""

from __future__ import annotations

import contextlib
import os
import sqlite3
import stat
import tempfile
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from mig import BackupError, BackupInfo
from mig.backups import Manifest
from mig.protocols import BackupHandler, BackupJob, Context, RestoreJob

from ..files import open_copy
from . import sqlite_dialect
from .options import FORMAT, READABLE_FORMATS, Options
from .pages import (
    BLOCK,
    HASHES,
    Delta,
    Index,
    changed_pages,
    copy_file,
    copy_range,
    digests_of,
    hash_pages,
    write_delta,
)

#: Suffix of the temporary file a restore builds beside the database.
RESTORE_SUFFIX = ".mig-restore"
SIDECARS = ("-journal", "-wal", "-shm")
#: A chain whose increments hold, all together, less than this share of its base's bytes goes
#: on past ``max_chain`` (up to :data:`HARD_MAX_CHAIN`): replaying them costs at most about as
#: much as copying the base again, and a run of hundreds of small migrations would otherwise
#: copy the whole database every ``max_chain`` migrations (at a tenth, every ~130 migrations
#: of a 20 MB database: 4x its size in backups for 500 migrations). The chain then holds at
#: most about twice the base's bytes.
SMALL_CHAIN = 1.0
HARD_MAX_CHAIN = 1000
#: Below this many changed bytes an increment is cheap to replay however much of the
#: database it covers, so it never starts a new chain (small databases keep their chains).
REBASE_FLOOR = 1 << 20


class Handler(BackupHandler):
    """The ``incremental`` backup type on SQLite (see the module's docstring), with the
    settings of ``[mig.options.incremental]``."""

    finishes_atomically = True

    def create(self, ctx: Context, job: BackupJob) -> None:
        create(ctx, job, settings(ctx))

    def restore(self, ctx: Context, job: RestoreJob) -> None:
        restore(ctx, job, settings(ctx))


def settings(ctx: Context) -> Options:
    """``[mig.options.incremental]``, checked."""
    return Options.from_table(ctx.config.options.get("incremental", {}))


def _database(ctx: Context) -> Path:
    path = sqlite_dialect(ctx).path
    if path is None:
        raise BackupError(
            "an in-memory SQLite database has no file to back up incrementally"
        )
    return Path(path)


def _timeout(ctx: Context) -> float:
    return float(sqlite_dialect(ctx).busy_timeout)


class _Background:
    """Run ``work(*args)`` in a thread for the duration of a block; its error is raised at
    the end of the block (after the block's own error, if any)."""

    def __init__(self, work: Any, *args: Any) -> None:
        self.error: BaseException | None = None

        def run() -> None:
            try:
                work(*args)
            except BaseException as exc:  # handed to the caller in __exit__
                self.error = exc

        self.thread = threading.Thread(target=run, daemon=True)

    def __enter__(self) -> _Background:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.thread.join()
        if self.error is not None and exc[0] is None:
            raise self.error


# -- creating ---------------------------------------------------------------------------------


@dataclass
class Snapshot:
    """A consistent page image open for reading while the snapshot lasts."""

    fd: int
    page_size: int
    page_count: int
    #: A private copy made with SQLite's backup API (WAL mode, when the log could not be
    #: checkpointed), which a base may take over.
    copy: Path | None = None


#: Read-only descriptors of database files, by path, kept open while the file stays the same.
#: Closing any descriptor of a file drops every POSIX lock the process holds on that file,
#: the locks of SQLite connections that other threads have open on it included, so a
#: descriptor is only closed once its file has been replaced.
_DESCRIPTORS: dict[str, int] = {}
_DESCRIPTORS_LOCK = threading.Lock()


def _descriptor(db: Path) -> int:
    current = os.stat(db)
    with _DESCRIPTORS_LOCK:
        fd = _DESCRIPTORS.get(str(db))
        if fd is not None:
            if os.path.samestat(os.fstat(fd), current):
                return fd
            os.close(fd)
        fd = _DESCRIPTORS[str(db)] = os.open(db, os.O_RDONLY | os.O_CLOEXEC)
        return fd


def _forget_descriptor(db: Path) -> None:
    """Close the descriptor of a file that was just replaced (so its space is freed)."""
    with _DESCRIPTORS_LOCK:
        fd = _DESCRIPTORS.pop(str(db), None)
        if fd is not None:
            os.close(fd)


@contextlib.contextmanager
def snapshot(db: Path, timeout: float, scratch: Path) -> Iterator[Snapshot]:
    """The database's pages as of one moment, held still until the block ends."""
    if not db.is_file():
        raise BackupError(f"the database {db} does not exist")
    try:
        conn = sqlite3.connect(db, timeout=timeout, isolation_level=None)
    except sqlite3.Error as exc:
        raise BackupError(f"cannot open {db}: {exc}") from exc
    try:
        wal = conn.execute("PRAGMA journal_mode").fetchone()[0].lower() == "wal"
        fd = _descriptor(db)
        # A read transaction. In rollback-journal modes its SHARED lock keeps every writer
        # from changing the file (writing needs EXCLUSIVE), and taking it rolls back a hot
        # journal. In WAL mode it pins a snapshot: once a checkpoint has copied the whole log
        # into the file, the file holds exactly that snapshot and keeps holding it, since no
        # checkpoint writes frames newer than an open reader's snapshot.
        conn.execute("BEGIN")
        conn.execute("SELECT count(*) FROM sqlite_master").fetchone()
        if not os.path.samestat(os.fstat(fd), os.stat(db)):
            raise BackupError(f"{db} was replaced while the backup started; try again")
        if wal and not _checkpoint_fully(db):
            # another reader holds an older snapshot: let SQLite copy the pages instead
            conn.execute("COMMIT")
            with _backup_copy(conn, scratch) as snap:
                yield snap
            return
        page_size = conn.execute("PRAGMA page_size").fetchone()[0]
        page_count = conn.execute("PRAGMA page_count").fetchone()[0]
        yield Snapshot(fd, page_size, page_count)
        conn.execute("COMMIT")
    except sqlite3.Error as exc:
        raise BackupError(f"reading {db} failed: {exc}") from exc
    finally:
        conn.close()


def _checkpoint_fully(db: Path) -> bool:
    """Checkpoint from a second connection; True when every frame of the log is in the file."""
    helper = sqlite3.connect(db, isolation_level=None)
    try:
        row: tuple[int, int, int] = helper.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchone()
        busy, log, done = row
    finally:
        helper.close()
    return busy == 0 and log >= 0 and log == done


@contextlib.contextmanager
def _backup_copy(conn: sqlite3.Connection, scratch: Path) -> Iterator[Snapshot]:
    copy = scratch / ".snapshot"
    target = sqlite3.connect(copy)
    try:
        conn.backup(target)  # one step: the source is read in a single read transaction
        page_size = target.execute("PRAGMA page_size").fetchone()[0]
        page_count = target.execute("PRAGMA page_count").fetchone()[0]
    finally:
        target.close()
    fd = os.open(copy, os.O_RDONLY)
    try:
        yield Snapshot(fd, page_size, page_count, copy)
    finally:
        os.close(fd)
        copy.unlink(missing_ok=True)


def _parent_index(ctx: Context, job: BackupJob, options: Options) -> tuple[
    Index | None, int, str
]:
    """The parent's page index and this backup's depth in the chain, or None and why a new
    chain starts."""
    parent = job.parent
    if parent is None:
        return None, 0, "no earlier incremental backup"
    if parent.database_path != ctx.dialect.display_url():
        return None, 0, f"the previous incremental backup is of {parent.database_path}"
    if (parent.extra.get("format") not in READABLE_FORMATS
            or parent.extra.get("dialect") != "sqlite"):
        return None, 0, f"backup {parent.backup_id} was made by another version or dialect"
    try:
        # Only the ancestors' manifests are read (listing every backup would cost as much
        # again for each of the hundreds of backups a long history holds; while the lock
        # is held they are in memory).
        chain = [m.info for m in ctx.backups.chain(Manifest(parent, {}, [], {}))]
        depth = len(chain)
        small = sum(link.size_bytes for link in chain[1:]) < SMALL_CHAIN * chain[0].size_bytes
        if depth > options.max_chain and not (small and depth < HARD_MAX_CHAIN):
            return None, 0, f"the chain reached max_chain = {options.max_chain} increments"
        index = chain_index(chain, job.fetch)
    except BackupError as exc:
        return None, 0, f"the previous chain cannot be built on: {exc}"
    if index.hash_name != options.hash:
        return None, 0, f"the hash changed from {index.hash_name} to {options.hash}"
    return index, depth, ""


def create(ctx: Context, job: BackupJob, options: Options) -> None:
    db = _database(ctx)
    if ctx.dialect.in_transaction:
        raise BackupError("an incremental backup cannot be taken inside an open transaction")
    parent, depth, reason = _parent_index(ctx, job, options)
    digest_size = HASHES[options.hash][0]
    if parent is not None and job.parent is not None:
        seed = int(job.parent.extra.get("seed", 0))
    else:  # a new chain hashes with a seed of its own (see pages.HASHES)
        seed = int.from_bytes(os.urandom(8), "little") if options.hash == "xxh3" else 0
    data, index_path = job.workdir / "data", job.workdir / "index"
    what = f"the database {db}"
    with snapshot(db, _timeout(ctx), job.workdir) as snap:
        if parent is not None and parent.page_size != snap.page_size:
            reason = f"the page size changed from {parent.page_size} to {snap.page_size}"
            parent = None
        changed: list[int] | None = None
        if parent is not None and job.parent is not None:
            hashed = hash_pages(snap.fd, snap.page_size, snap.page_count, options.hash,
                                options.threads, what=what, seed=seed,
                                previous=parent.hashed())
            digests = hashed.pages
            changed = changed_pages(parent, digests, digest_size)
            if (len(changed) > options.rebase_ratio * snap.page_count
                    and len(changed) * snap.page_size > REBASE_FLOOR):
                reason = f"{len(changed)} of {snap.page_count} pages changed"
                changed = None
                _copy_image(snap, data)
        else:
            # The kernel copies the image (copy_file_range, as cp does) while it is hashed.
            with _Background(_copy_image, snap, data):
                hashed = hash_pages(snap.fd, snap.page_size, snap.page_count, options.hash,
                                    options.threads, what=what, seed=seed)
            digests = hashed.pages
        if changed is not None:
            write_delta(snap.fd, data, snap.page_size, snap.page_count, changed, what)
    index = Index(options.hash, snap.page_size, snap.page_count, digests, hashed.blocks,
                  max(1, BLOCK // snap.page_size))
    index.write(index_path, changed)
    LAST_INDEX[:] = [(job.info.backup_id, index)]
    job.extra.update({
        "format": FORMAT,
        "dialect": "sqlite",
        "kind": "base" if changed is None else "increment",
        "depth": 0 if changed is None else depth,
        "page_size": snap.page_size,
        "page_count": snap.page_count,
        "pages_stored": snap.page_count if changed is None else len(changed),
        "hash": f"{options.hash}/{digest_size * 8}",
        "seed": seed,
        "read": "backup-api" if snap.copy is not None else "file",
    })
    if changed is None:
        job.info.parent_id = None
        job.extra["new_chain"] = reason


#: The whole page index of the newest backup this process made (its id and index): the next
#: increment of a run builds on it without reading its chain back.
LAST_INDEX: list[tuple[str, Index]] = []


def chain_index(chain: list[BackupInfo], fetch: Any) -> Index:
    """The whole page index of the last backup of ``chain`` (base first): the base's index
    with each increment's digests put in, or a whole index an increment of format 1 kept."""
    last = fetch(chain[-1], "index")  # still there and whole, or this raises
    if LAST_INDEX and LAST_INDEX[0][0] == chain[-1].backup_id:
        return LAST_INDEX[0][1]
    if Index.kind(last) == "whole":
        return Index.read(last, f"backup {chain[-1].backup_id}")
    start = 0
    for i in range(len(chain) - 1, -1, -1):  # the newest link that holds a whole index
        if Index.kind(fetch(chain[i], "index")) == "whole":
            start = i
            break
    what = f"backup {chain[start].backup_id}"
    index = Index.read(fetch(chain[start], "index"), what)
    for link in chain[start + 1:]:
        what = f"backup {link.backup_id}"
        part = fetch(link, "index")
        # Only format 2 made the delta (a whole part to verify) the sole list of its pages.
        pages = Delta.open(fetch(link, "data"), what).pages if (
            Index.kind(part) == "sparse-2") else None
        index = index.updated(Index.read(part, what, pages), what)
    return index


def _copy_image(snap: Snapshot, data: Path) -> None:
    if snap.copy is not None:
        os.replace(snap.copy, data)
        return
    out = os.open(data, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        copy_range(snap.fd, 0, out, 0, snap.page_size * snap.page_count)
    finally:
        os.close(out)


# -- restoring --------------------------------------------------------------------------------


def _check_chain(chain: list[BackupInfo]) -> tuple[int, int]:
    """The page size and final page count of a chain, after checking it hangs together."""
    base = chain[0]
    for i, link in enumerate(chain):
        extra = link.extra
        if extra.get("format") not in READABLE_FORMATS or extra.get("dialect") != "sqlite":
            raise BackupError(f"backup {link.backup_id} is not an incremental SQLite backup of"
                              " a format this plugin reads")
        kind = "base" if i == 0 else "increment"
        if extra.get("kind") != kind:
            raise BackupError(f"backup {link.backup_id} should be a {kind} in the chain of"
                              f" {chain[-1].backup_id} but is a {extra.get('kind')}")
        if extra.get("page_size") != base.extra.get("page_size"):
            raise BackupError(f"backup {link.backup_id} has another page size than its base")
    return int(base.extra["page_size"]), int(chain[-1].extra["page_count"])


def restore(ctx: Context, job: RestoreJob, options: Options) -> None:
    db = _database(ctx)
    page_size, page_count = _check_chain(job.chain)
    folder = db.parent
    _remove_leftovers(db)
    fd, name = tempfile.mkstemp(dir=folder, prefix=f".{db.name}.", suffix=RESTORE_SUFFIX)
    tmp = Path(name)
    try:
        # The descriptor stays open until the connections on the file are closed: closing it
        # would drop their POSIX locks.
        try:
            if db.exists():
                os.chmod(tmp, stat.S_IMODE(db.stat().st_mode))
            written = _replay(job, fd, page_size)
            os.ftruncate(fd, page_size * page_count)
            _verify_written(job, fd, written, page_size, page_count)
            # Write the rebuilt pages to disk while quick_check reads them (CPU and disk at
            # once); the commit of the audit trail then has little left to sync.
            with _Background(os.fsync, fd):
                _finish(ctx, job, tmp, options)
            os.fsync(fd)
        finally:
            os.close(fd)
        _swap(ctx, db, tmp)
    except BaseException:
        _unlink_with_sidecars(tmp)
        raise


def _replay(job: RestoreJob, fd: int, page_size: int) -> set[int]:
    """Copy the base and write every increment over it; returns the pages the increments
    wrote."""
    base = job.chain[0]
    image = job.fetch(base, "data")
    size = image.stat().st_size
    if size != page_size * int(base.extra["page_count"]):
        raise BackupError(f"backup {base.backup_id}: the page image has {size} bytes, expected"
                          f" {page_size} x {base.extra['page_count']}")
    copy_file(image, fd, size)
    written: set[int] = set()
    for link in job.chain[1:]:
        what = f"backup {link.backup_id}"
        delta = Delta.open(job.fetch(link, "data"), what)
        if delta.page_size != page_size or delta.page_count != link.extra["page_count"]:
            raise BackupError(f"{what}: the page delta does not match its manifest")
        Index.read(job.fetch(link, "index"), what, delta.pages)  # lists the same pages
        delta.apply(fd)
        written.update(delta.pages)
    return written


def _verify_written(
    job: RestoreJob, fd: int, written: set[int], page_size: int, page_count: int
) -> None:
    """Compare every page the increments wrote with the last backup's page index: proof that
    the replay rebuilt those pages exactly (the rest is the base, whose SHA-256 the core
    checked). Costs a hash of the changed pages only."""
    target = job.chain[-1]
    what = f"backup {target.backup_id}"
    index = chain_index(job.chain, job.fetch)
    if (index.page_size, index.page_count) != (page_size, page_count):
        raise BackupError(f"{what}: its page index does not match its manifest")
    size = index.digest_size
    pages_ = sorted(p for p in written if p <= page_count)
    got = digests_of(fd, page_size, pages_, index.hash_name, int(target.extra.get("seed", 0)))
    for i, page in enumerate(pages_):
        if got[i * size:(i + 1) * size] != index.digests[(page - 1) * size:page * size]:
            raise BackupError(f"restoring {what}: page {page} was not rebuilt as it was backed"
                              " up (the chain's parts do not fit together)")


def _finish(ctx: Context, job: RestoreJob, tmp: Path, options: Options) -> None:
    """Check the rebuilt database, then write the audit trail into it (one transaction)."""
    dialect = open_copy(sqlite_dialect(ctx), tmp, job)
    try:
        if options.check != "pages":
            rows = dialect.query(f"PRAGMA {options.check}")
            if rows != [("ok",)]:
                found = "; ".join(str(r[0]) for r in rows[:3])
                raise BackupError(f"the restored database fails {options.check}: {found}")
        dialect.begin()
        try:
            job.finish(dialect)
            dialect.commit()
        except BaseException:
            dialect.rollback()
            raise
        if dialect.query("PRAGMA journal_mode")[0][0].lower() == "wal":
            dialect.query("PRAGMA wal_checkpoint(TRUNCATE)")
    except sqlite3.Error as exc:
        raise BackupError(f"the restored database cannot be opened: {exc}") from exc
    finally:
        dialect.close()
    for suffix in SIDECARS:
        Path(f"{tmp}{suffix}").unlink(missing_ok=True)


def _swap(ctx: Context, db: Path, tmp: Path) -> None:
    """Rename ``tmp`` over ``db`` so that nothing left of the old database (a hot journal, a
    WAL) can be replayed into the new one, then reconnect the dialect."""
    ctx.dialect.close()
    guard: sqlite3.Connection | None = None
    replaced = False
    try:
        if db.exists():
            guard = sqlite3.connect(db, timeout=_timeout(ctx), isolation_level=None)
            if guard.execute("PRAGMA journal_mode").fetchone()[0].lower() == "wal":
                busy = guard.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchone()[0]
                if busy:
                    raise BackupError(f"{db} is in use by another process; stop it and retry")
                guard.close()  # the last connection: SQLite removes the (empty) WAL
                guard = None
            else:
                # No other connection reads or writes the old file until the rename; taking
                # the lock also rolls back a hot journal left by a crashed writer.
                guard.execute("BEGIN EXCLUSIVE")
        for suffix in SIDECARS:
            side = Path(f"{db}{suffix}")
            if suffix == "-wal" and side.exists() and side.stat().st_size:
                raise BackupError(f"{db} is in use by another process; stop it and retry")
            side.unlink(missing_ok=True)
        os.replace(tmp, db)
        replaced = True
        _fsync_dir(db.parent)
    except sqlite3.Error as exc:
        raise BackupError(f"cannot take {db} over for the restore: {exc}") from exc
    finally:
        if guard is not None:
            guard.close()
        if replaced:
            _forget_descriptor(db)
        ctx.dialect.connect()


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _unlink_with_sidecars(path: Path) -> None:
    for suffix in ("", *SIDECARS):
        Path(f"{path}{suffix}").unlink(missing_ok=True)


def _remove_leftovers(db: Path) -> None:
    """Temporary files of restores that were killed (the caller holds the migration lock, so
    no other restore is running)."""
    for leftover in db.parent.glob(f".{db.name}.*{RESTORE_SUFFIX}"):
        _unlink_with_sidecars(leftover)
