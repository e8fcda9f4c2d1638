"""The migration lock: an advisory lock on a connection of its own."""

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
from mig_postgres import PostgresDialect
from mig_postgres.locking import lock_key

HOLDER = """
import sys, time
from pathlib import Path
from mig_postgres import PostgresDialect

dialect = PostgresDialect(sys.argv[1], base_dir=Path("."), options={})
with dialect.lock(5):
    print("locked", flush=True)
    time.sleep(float(sys.argv[2]))
print("released", flush=True)
"""


def make(url: str, **options: object) -> PostgresDialect:
    return PostgresDialect(url, base_dir=Path("."), options=options)


def start_holder(url: str, seconds: float) -> subprocess.Popen[str]:
    proc = subprocess.Popen(
        [sys.executable, "-c", HOLDER, url, str(seconds)], stdout=subprocess.PIPE, text=True
    )
    assert proc.stdout is not None
    assert proc.stdout.readline() == "locked\n"
    return proc


@pytest.fixture
def holder(pg_url: str) -> Iterator[subprocess.Popen[str]]:
    proc = start_holder(pg_url, 60)
    yield proc
    if proc.poll() is None:
        proc.kill()
    proc.wait()


def test_key_depends_on_database_and_schema() -> None:
    keys = {lock_key("a", "public"), lock_key("b", "public"), lock_key("a", "app")}
    assert len(keys) == 3
    assert all(-(2**63) <= k < 2**63 for k in keys)
    assert lock_key("a", "public") == lock_key("a", "public")


def test_free_lock_is_taken_at_once_and_released(pg_url: str) -> None:
    dialect = make(pg_url)
    started = time.monotonic()
    with dialect.lock(0):
        pass
    with dialect.lock(0):  # released: free again
        pass
    assert time.monotonic() - started < 2


def test_second_process_times_out_naming_the_holder(
    pg_url: str, holder: subprocess.Popen[str]
) -> None:
    started = time.monotonic()
    with pytest.raises(LockTimeout) as info, make(pg_url).lock(0.5):
        pytest.fail("took a lock that another process holds")
    assert 0.5 <= time.monotonic() - started < 3
    message = str(info.value)
    assert message.startswith(f"database {pg_url} is locked by another mig process (")
    assert f"pid {holder.pid} on {socket.gethostname()} since " in message
    assert message.endswith("gave up after 0.5s")
    assert info.value.exit_code == 3


def test_waiter_gets_the_lock_when_the_holder_finishes(pg_url: str) -> None:
    proc = start_holder(pg_url, 0.5)
    with make(pg_url).lock(10):
        pass
    assert proc.wait(timeout=10) == 0


def test_killed_holder_leaves_no_lock(pg_url: str, holder: subprocess.Popen[str]) -> None:
    os.kill(holder.pid, signal.SIGKILL)
    holder.wait()
    started = time.monotonic()
    with make(pg_url).lock(5):
        pass
    assert time.monotonic() - started < 3


def test_other_schema_is_another_lock(pg_url: str, holder: subprocess.Popen[str]) -> None:
    with make(pg_url, schema="elsewhere").lock(0):
        pass
    # The holder's lock: it has no schema option and the default schema is public.
    with pytest.raises(LockTimeout), make(pg_url, schema="public").lock(0):
        pass


def test_lock_survives_reconnecting_the_dialect(pg_url: str) -> None:
    dialect = make(pg_url)
    with dialect.lock(0):
        dialect.connect()
        dialect.close()
        dialect.connect()
        with pytest.raises(LockTimeout), make(pg_url).lock(0):
            pass
        dialect.close()
