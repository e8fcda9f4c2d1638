"""Replacing a live SQLite database file with a restored copy, atomically: the dialect's
mechanism behind :meth:`SQLiteDialect.rebuild`, which the restores of :mod:`.backup` call."""

from __future__ import annotations

import contextlib
import os
import sqlite3
import stat
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

from mig import BackupError, DatabaseError
from mig.protocols import RestoreJob

if TYPE_CHECKING:
    from .dialect import SQLiteDialect

_TEMP_MARK = ".mig-restore-"
_SIDECARS = ("-wal", "-shm", "-journal")


def journal_mode(conn: sqlite3.Connection) -> str:
    return str(conn.execute("PRAGMA journal_mode").fetchone()[0]).lower()


def real_file(db: Path) -> Path:
    """The file behind ``db`` (through symlinks, as SQLite names its sidecar files): the one
    to replace, with the folder it lives in."""
    return Path(os.path.realpath(db))


def temp_beside(db: Path) -> Path:
    """A new temporary file name in the database's folder (same file system: renamable)."""
    db = real_file(db)
    return db.with_name(f".{db.name}{_TEMP_MARK}{os.urandom(6).hex()}")


def leftovers(db: Path) -> list[Path]:
    """The temporary files of killed restores beside ``db``: this module's
    (``.app.db.mig-restore-*``) and the incremental restore's (``.app.db.*.mig-restore``),
    with their sidecars."""
    db = real_file(db)
    try:
        names = os.listdir(db.parent)
    except (FileNotFoundError, NotADirectoryError):
        return []
    prefix = f".{db.name}."
    return [db.parent / name for name in sorted(names)
            if name.startswith(prefix) and "mig-restore" in name]


def remove_stale_temps(db: Path) -> None:
    """Remove what killed restores left beside ``db`` (the caller holds mig's lock on it)."""
    for path in leftovers(db):
        path.unlink(missing_ok=True)


def discard(tmp: Path) -> None:
    for suffix in ("", *_SIDECARS):
        Path(f"{tmp}{suffix}").unlink(missing_ok=True)


def finish_in_copy(
    dialect: SQLiteDialect,
    tmp: Path,
    job: RestoreJob,
    setup: Callable[[SQLiteDialect], None] | None = None,
    build: Callable[[SQLiteDialect], None] | None = None,
) -> None:
    """Open the database file ``tmp`` with the live database's dialect class, run ``setup``
    (outside a transaction), then ``build`` and mig's bookkeeping (``job.finish``) in one
    transaction, and close it."""
    restored = open_copy(dialect, tmp, job)
    try:
        if setup is not None:
            setup(restored)
        restored.begin()
        try:
            if build is not None:
                build(restored)
            job.finish(restored)
            restored.commit()
        except BaseException:
            restored.rollback()
            raise
    finally:
        restored.close()
    if Path(f"{tmp}-wal").exists():  # the last connection's close checkpoints and removes it
        raise BackupError(f"the restored copy {tmp} kept its write-ahead log after closing")


def open_copy(dialect: SQLiteDialect, tmp: Path, job: RestoreJob) -> SQLiteDialect:
    """A connected dialect of ``dialect``'s class on the restored copy ``tmp``. A copy that
    SQLite cannot open means the backup holds no database: a failed restore (exit 1), told
    by the backup's id, not by the temporary file's name."""
    # The live database's foreign-key setting (a restore must run as migrations do); its
    # journal mode is set again on the next connection to the live file.
    same = {"foreign_keys": dialect.options.foreign_keys}
    restored = type(dialect)(f"sqlite:///{tmp}", base_dir=tmp.parent, options=same)
    try:
        restored.connect()
    except DatabaseError as exc:
        reason = exc.__cause__ if isinstance(exc.__cause__, sqlite3.Error) else "cannot open it"
        raise BackupError(
            f"backup {job.chain[-1].backup_id} does not restore to a SQLite database: {reason}"
        ) from None
    return restored


def replace_database(dialect: SQLiteDialect, tmp: Path) -> None:
    """Rename the complete, closed database ``tmp`` over the live one: the one atomic step.

    Before it, the old database must not depend on any sidecar file (its log is checkpointed
    into it), and the sidecars go, lest SQLite apply the old one's log or journal to the new
    file. The live connection is closed (the core reconnects) and reopened if this fails.
    """
    assert dialect.path is not None  # rebuild() refuses in-memory databases
    db = real_file(dialect.path)
    _sync(tmp)
    _take_over(db, tmp)
    conn = dialect.connection
    if conn is not None:
        if journal_mode(conn) == "wal":
            busy, log, done = conn.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchone()
            if busy or log != done:
                raise BackupError(
                    f"cannot restore over {db}: another connection is using it (its"
                    " write-ahead log cannot be checkpointed); close it and retry"
                )
        dialect.close()
    try:
        for suffix in _SIDECARS:
            Path(f"{db}{suffix}").unlink(missing_ok=True)
        os.replace(tmp, db)
    except BaseException:
        if conn is not None:
            dialect.connect()
        raise
    _sync(db.parent)


def _take_over(db: Path, tmp: Path) -> None:
    """The restored file keeps the permissions (and, where allowed, the owner) of the file it
    replaces, so the application can still open it."""
    try:
        st = os.stat(db)
    except FileNotFoundError:
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp, 0o644 & ~umask)
        return
    with contextlib.suppress(PermissionError):  # only root may give a file away
        os.chown(tmp, st.st_uid, st.st_gid)
    os.chmod(tmp, stat.S_IMODE(st.st_mode))


def _sync(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY | (os.O_DIRECTORY if path.is_dir() else 0))
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def rebuild(
    dialect: SQLiteDialect,
    job: RestoreJob,
    fill: Callable[[Path], None] | None = None,
    setup: Callable[[SQLiteDialect], None] | None = None,
    build: Callable[[SQLiteDialect], None] | None = None,
) -> None:
    """Replace ``dialect``'s database by a new one built beside it: ``fill(tmp)`` writes the
    file (else it starts empty), ``setup`` and ``build`` run on it (see :func:`finish_in_copy`)
    with mig's bookkeeping, then one rename swaps it in. Any failure leaves the database as
    it was; leftovers of a killed rebuild are removed by the next one."""
    db: Path | None = dialect.path
    if db is None:
        raise BackupError(
            "restoring into an in-memory SQLite database is not supported (it would be gone"
            " when mig reconnects)"
        )
    remove_stale_temps(db)
    tmp = temp_beside(db)
    try:
        if fill is not None:
            fill(tmp)
        finish_in_copy(dialect, tmp, job, setup, build)
        replace_database(dialect, tmp)
    finally:
        discard(tmp)
