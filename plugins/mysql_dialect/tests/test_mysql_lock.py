"""The migration lock: GET_LOCK on a connection of its own."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from mig import LockTimeout
from mig_mysql import MySQLDialect
from mig_mysql.locking import MAX_NAME, lock_name
from mysql_server import admin, url_of

HOLDER = """
import sys, time
from pathlib import Path
from mig_mysql import MySQLDialect

dialect = MySQLDialect(sys.argv[1], base_dir=Path("."), options={})
with dialect.lock(5):
    print("locked", flush=True)
    time.sleep(float(sys.argv[2]))
print("released", flush=True)
"""


def make(url: str) -> MySQLDialect:
    return MySQLDialect(url, base_dir=Path("."), options={})


def start_holder(url: str, seconds: float) -> subprocess.Popen[str]:
    proc = subprocess.Popen(
        [sys.executable, "-c", HOLDER, url, str(seconds)], stdout=subprocess.PIPE, text=True
    )
    assert proc.stdout is not None
    assert proc.stdout.readline() == "locked\n"
    return proc


@pytest.fixture
def holder(my_url: str) -> Iterator[subprocess.Popen[str]]:
    proc = start_holder(my_url, 60)
    yield proc
    if proc.poll() is None:
        proc.kill()
    proc.wait()


def test_lock_names_fit() -> None:
    assert lock_name("app") == "mig:app"
    long = lock_name("x" * 64)
    assert len(long) <= MAX_NAME and long != lock_name("y" * 64)


def test_free_lock_is_taken_and_released(my_url: str) -> None:
    with make(my_url).lock(0):
        pass
    with make(my_url).lock(0):
        pass


def test_second_process_times_out_naming_the_holder(
    my_url: str, holder: subprocess.Popen[str]
) -> None:
    started = time.monotonic()
    with pytest.raises(LockTimeout) as info, make(my_url).lock(0.5):
        pytest.fail("took a lock that another process holds")
    assert 0.4 <= time.monotonic() - started < 3
    message = str(info.value)
    assert message.startswith(f"database {my_url} is locked by another mig process (")
    assert "connection " in message
    if f"pid {holder.pid} on {socket.gethostname()}" not in message:
        # performance_schema (which shows the holder's pid) is off by default on MariaDB
        assert "of root@" in message
    assert message.endswith("gave up after 0.5s")


def test_killed_holder_leaves_no_lock(my_url: str, holder: subprocess.Popen[str]) -> None:
    os.kill(holder.pid, signal.SIGKILL)
    holder.wait()
    started = time.monotonic()
    with make(my_url).lock(5):
        pass
    assert time.monotonic() - started < 3


def test_other_database_is_another_lock(
    my_url: str, holder: subprocess.Popen[str], database: str
) -> None:
    # Lock names are server-wide: each carries its database.
    other = database + "_other"
    maintenance = admin()
    maintenance.execute(f"CREATE DATABASE `{other}`")
    try:
        with make(url_of(other)).lock(0):
            pass
    finally:
        maintenance.execute(f"DROP DATABASE `{other}`")
        maintenance.close()


def test_lock_survives_reconnecting_the_dialect(my_url: str) -> None:
    dialect = make(my_url)
    with dialect.lock(0):
        dialect.connect()
        dialect.close()
        with pytest.raises(LockTimeout), make(my_url).lock(0):
            pass
