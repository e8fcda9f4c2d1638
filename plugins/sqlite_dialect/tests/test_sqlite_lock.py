from __future__ import annotations

import os
import signal
import socket
import stat
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from mig import DatabaseError, LockTimeout
from mig_sqlite import SQLiteDialect

HOLDER = """
import sys, time
from pathlib import Path
from mig_sqlite import SQLiteDialect

dialect = SQLiteDialect(sys.argv[1], base_dir=Path(sys.argv[2]), options={})
with dialect.lock(5):
    print("locked", flush=True)
    time.sleep(float(sys.argv[3]))
print("released", flush=True)
"""


def make(tmp_path: Path) -> SQLiteDialect:
    return SQLiteDialect("sqlite:///app.db", base_dir=tmp_path, options={})


@pytest.fixture
def holder(tmp_path: Path) -> Iterator[subprocess.Popen[str]]:
    """Another process holding the lock of ``tmp_path/app.db`` for up to 60 s."""
    proc = start_holder(tmp_path, 60)
    yield proc
    if proc.poll() is None:
        proc.kill()
    proc.wait()


def start_holder(tmp_path: Path, seconds: float) -> subprocess.Popen[str]:
    proc = subprocess.Popen(
        [sys.executable, "-c", HOLDER, "sqlite:///app.db", str(tmp_path), str(seconds)],
        stdout=subprocess.PIPE,
        text=True,
    )
    assert proc.stdout is not None
    assert proc.stdout.readline() == "locked\n"
    return proc


def test_lock_file_is_private_and_survives_release(tmp_path: Path) -> None:
    dialect = make(tmp_path)
    with dialect.lock(1):
        lock_file = tmp_path / "app.db.miglock"
        assert stat.S_IMODE(lock_file.stat().st_mode) == 0o600
        assert f'"pid": {os.getpid()}' in lock_file.read_text()
    assert lock_file.exists()
    assert lock_file.read_text() == ""
    with dialect.lock(0):  # free again at once
        pass


def test_second_process_times_out_naming_the_holder(
    tmp_path: Path, holder: subprocess.Popen[str]
) -> None:
    started = time.monotonic()
    with pytest.raises(LockTimeout) as info, make(tmp_path).lock(timeout=0.5):
        pytest.fail("took a lock that another process holds")
    waited = time.monotonic() - started
    assert 0.5 <= waited < 2.0
    message = str(info.value)
    assert message.startswith(f"database {tmp_path / 'app.db'} is locked by another mig process")
    assert f"pid {holder.pid} on {socket.gethostname()} since " in message
    assert message.endswith("gave up after 0.5s")
    assert info.value.exit_code == 3


def test_lock_of_a_killed_holder_is_free_at_once(
    tmp_path: Path, holder: subprocess.Popen[str]
) -> None:
    with pytest.raises(LockTimeout), make(tmp_path).lock(timeout=0):
        pass
    os.kill(holder.pid, signal.SIGKILL)
    holder.wait()
    started = time.monotonic()
    with make(tmp_path).lock(timeout=0):
        assert f'"pid": {os.getpid()}' in (tmp_path / "app.db.miglock").read_text()
    assert time.monotonic() - started < 0.5


def test_waits_for_a_holder_that_finishes(tmp_path: Path) -> None:
    proc = start_holder(tmp_path, 0.3)
    try:
        with make(tmp_path).lock(timeout=10):
            assert proc.wait(timeout=10) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
        proc.wait()


def test_lock_in_a_missing_folder(tmp_path: Path) -> None:
    dialect = SQLiteDialect("sqlite:///nowhere/app.db", base_dir=tmp_path, options={})
    with pytest.raises(DatabaseError, match="folder .*nowhere does not exist"), dialect.lock(0):
        pass


def test_lock_is_released_when_the_body_raises(tmp_path: Path) -> None:
    dialect = make(tmp_path)
    with pytest.raises(RuntimeError), dialect.lock(0):
        raise RuntimeError("boom")
    with dialect.lock(0):
        pass
