"""The migration lock: a session-level advisory lock held on a connection of its own.

The key is derived from the database and the schema mig works in, so two projects in two
schemas of one database do not wait for each other. The lock lives as long as its connection:
when the holder dies, the server ends its session and drops the lock, so a killed mig never
leaves the database locked. A dedicated connection (not the dialect's) keeps the lock through
the reconnects a restore makes, and never holds a transaction open that ``CREATE INDEX
CONCURRENTLY`` would wait for.
"""

from __future__ import annotations

import datetime as _dt
import hashlib
import os
import socket
import time
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from typing import TYPE_CHECKING, Any

from mig.errors import DatabaseError, LockTimeout

if TYPE_CHECKING:
    from .dialect import PostgresDialect

POLL_INTERVAL = 0.05
#: ``application_name`` of the lock's connection; the waiter's message shows it.
APPLICATION_NAME = "mig lock: pid {pid} on {host}"


def lock_key(database: str, schema: str) -> int:
    """A signed 64-bit advisory lock key for mig in ``schema`` of ``database``."""
    digest = hashlib.sha256(f"mig\0{database}\0{schema}".encode()).digest()
    return int.from_bytes(digest[:8], "big", signed=True)


@contextmanager
def hold(dialect: PostgresDialect, timeout: float) -> Iterator[None]:
    """Hold the migration lock; raise :class:`LockTimeout` after ``timeout`` seconds."""
    import psycopg

    name = APPLICATION_NAME.format(pid=os.getpid(), host=socket.gethostname())[:63]
    conn = dialect.open_connection(application_name=name)
    try:
        try:
            schema = dialect.target.schema
            if not schema:
                row = conn.execute("SELECT current_schema()").fetchone()
                assert row is not None  # a SELECT without FROM gives one row
                schema = row[0] or "public"
            key = lock_key(dialect.target.database, schema)
            _acquire(conn, key, timeout, dialect)
        except psycopg.Error as exc:
            raise DatabaseError(
                f"cannot take the migration lock on {dialect.display_url()}:"
                f" {dialect.scrub(' '.join(str(exc).split()))}"
            ) from None
        try:
            yield
        finally:
            with suppress(psycopg.Error):
                conn.execute("SELECT pg_advisory_unlock(%s)", (key,))
    finally:
        conn.close()


def _acquire(conn: Any, key: int, timeout: float, dialect: PostgresDialect) -> None:
    deadline = time.monotonic() + max(timeout, 0.0)
    while True:
        (taken,) = conn.execute("SELECT pg_try_advisory_lock(%s)", (key,)).fetchone()
        if taken:
            return
        left = deadline - time.monotonic()
        if left <= 0:
            raise LockTimeout(
                f"database {dialect.display_url()} is locked by another mig process"
                f" ({_holder(conn, key)}); gave up after {timeout:g}s"
            )
        time.sleep(min(POLL_INTERVAL, left))


def _holder(conn: Any, key: int) -> str:
    """Who holds the lock, from ``pg_locks``: a bigint key shows as classid (high 32 bits)
    and objid (low 32 bits) with objsubid 1."""
    row = conn.execute(
        "SELECT a.pid, a.application_name, a.backend_start FROM pg_locks l"
        " JOIN pg_stat_activity a ON a.pid = l.pid"
        " WHERE l.locktype = 'advisory' AND l.granted AND l.objsubid = 1"
        " AND l.database = (SELECT oid FROM pg_database WHERE datname = current_database())"
        " AND l.classid::bigint = %s AND l.objid::bigint = %s",
        ((key >> 32) & 0xFFFFFFFF, key & 0xFFFFFFFF),
    ).fetchone()
    if row is None:
        return "holder unknown"
    backend, application, since = row
    since_text = since.astimezone(_dt.UTC).isoformat(timespec="seconds") if since else "?"
    if application and application.startswith("mig lock: "):
        return f"{application.removeprefix('mig lock: ')} since {since_text}"
    who = f"application {application!r}, " if application else ""
    return f"{who}server process {backend} since {since_text}"
