"""The migration lock: ``GET_LOCK`` on a connection of its own.

A named lock belongs to its session: when the holder dies, the server ends the session and
frees the lock, so a killed mig never leaves the database locked. Lock names are server-wide,
so the name carries the database. A dedicated connection keeps the lock through the
reconnects a restore makes.
"""

from __future__ import annotations

import hashlib
import os
import socket
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from typing import TYPE_CHECKING, Any

from mig.errors import DatabaseError, LockTimeout

if TYPE_CHECKING:
    from .dialect import MySQLDialect

#: The longest lock name MySQL accepts.
MAX_NAME = 64
PROGRAM_NAME = "mig lock: pid {pid} on {host}"


def lock_name(database: str) -> str:
    name = f"mig:{database}"
    if len(name.encode()) > MAX_NAME:
        name = "mig:" + hashlib.sha256(database.encode()).hexdigest()[:40]
    return name


@contextmanager
def hold(dialect: MySQLDialect, timeout: float) -> Iterator[None]:
    """Hold the migration lock; raise :class:`LockTimeout` after ``timeout`` seconds."""
    import pymysql

    name = lock_name(dialect.target.database)
    conn = dialect.open_connection(
        program_name=PROGRAM_NAME.format(pid=os.getpid(), host=socket.gethostname())
    )
    try:
        cur = conn.cursor()
        try:
            # The server waits (fractions of a second allowed); 1 taken, 0 timed out.
            cur.execute("SELECT GET_LOCK(%s, %s)", (name, max(timeout, 0.0)))
            (taken,) = cur.fetchone()
            if taken != 1:
                raise LockTimeout(
                    f"database {dialect.display_url()} is locked by another mig process"
                    f" ({_holder(cur, name)}); gave up after {timeout:g}s"
                )
        except pymysql.MySQLError as exc:
            raise DatabaseError(
                f"cannot take the migration lock on {dialect.display_url()}:"
                f" {dialect.describe(exc)}"
            ) from None
        try:
            yield
        finally:
            with suppress(pymysql.MySQLError):
                cur.execute("SELECT RELEASE_LOCK(%s)", (name,))
    finally:
        with suppress(Exception):
            conn.close()


def _holder(cur: Any, name: str) -> str:
    """Who holds the lock: its connection, and the pid and host it said it runs on when
    ``performance_schema`` shows connection attributes."""
    import pymysql

    try:
        cur.execute("SELECT IS_USED_LOCK(%s)", (name,))
        (holder,) = cur.fetchone()
        if holder is None:
            return "holder unknown"
        program = None
        with suppress(pymysql.MySQLError):
            cur.execute(
                "SELECT ATTR_VALUE FROM performance_schema.session_connect_attrs"
                " WHERE PROCESSLIST_ID = %s AND ATTR_NAME = 'program_name'",
                (holder,),
            )
            row = cur.fetchone()
            program = row[0] if row else None
        cur.execute(
            "SELECT USER, HOST, TIME FROM information_schema.PROCESSLIST WHERE ID = %s",
            (holder,),
        )
        row = cur.fetchone()
    except pymysql.MySQLError:
        return "holder unknown"
    where = f"connection {holder}"
    if row is not None:
        user, host, seconds = row
        where += f" of {user}@{host}, for {seconds}s"
    if program and str(program).startswith("mig lock: "):
        return f"{str(program).removeprefix('mig lock: ')}, {where}"
    return where
