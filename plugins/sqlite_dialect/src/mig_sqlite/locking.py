"""The migration lock: ``flock`` on a sidecar file ``<database>.miglock``.

The kernel drops a ``flock`` when its holder dies, so a killed mig never leaves the database
locked. The holder writes who it is into the file for the waiter's message. The file is never
deleted: a waiter may already have it open, and unlinking would let two processes each lock
a different file of the same name.
"""

from __future__ import annotations

import datetime as _dt
import fcntl
import json
import os
import socket
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from mig.errors import DatabaseError, LockTimeout

POLL_INTERVAL = 0.05


@contextmanager
def hold(lock_path: Path, timeout: float, *, database: Path) -> Iterator[None]:
    """Hold the lock on ``lock_path``; raise :class:`LockTimeout` after ``timeout`` seconds."""
    try:
        fd = os.open(lock_path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
    except OSError as exc:
        raise DatabaseError(
            f"cannot create the lock file {lock_path}: {exc.strerror or exc}"
        ) from exc
    try:
        _acquire(fd, timeout, database)
        try:
            _write_holder(fd)
            yield
        finally:
            os.ftruncate(fd, 0)
            fcntl.flock(fd, fcntl.LOCK_UN)
    finally:
        os.close(fd)


def _acquire(fd: int, timeout: float, database: Path) -> None:
    deadline = time.monotonic() + max(timeout, 0.0)
    while True:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            return
        except BlockingIOError:
            left = deadline - time.monotonic()
            if left <= 0:
                raise LockTimeout(
                    f"database {database} is locked by another mig process ({_holder(fd)});"
                    f" gave up after {timeout:g}s"
                ) from None
            time.sleep(min(POLL_INTERVAL, left))


def _write_holder(fd: int) -> None:
    since = _dt.datetime.now(_dt.UTC).isoformat(timespec="seconds")
    data = json.dumps({"pid": os.getpid(), "host": socket.gethostname(), "since": since})
    os.pwrite(fd, data.encode(), 0)
    os.ftruncate(fd, len(data))


def _holder(fd: int) -> str:
    try:
        info = json.loads(os.pread(fd, 4096, 0))
        return f"pid {info['pid']} on {info['host']} since {info['since']}"
    except (OSError, ValueError, KeyError, TypeError):
        # The holder has locked the file but not written to it yet.
        return "holder unknown"
