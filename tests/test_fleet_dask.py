"""The ``dask`` fleet runner on a real cluster: a ``dask scheduler`` and ``dask worker``
processes on 127.0.0.1; one worker is killed mid-run and no migration is applied twice."""

from __future__ import annotations

import json
import os
import signal
import socket
import sqlite3
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fleet_support import applies, make_fleet, statuses

pytest.importorskip("distributed")
pytest.importorskip("mig_fleet_dask")

from mig.config import load_config  # noqa: E402
from mig.fleet import jobs_for, make_runner, run_fleet, select  # noqa: E402
from mig.plugins import Plugins  # noqa: E402

DASK = Path(sys.executable).with_name("dask")
pytestmark = pytest.mark.slow


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _start(*args: str, log: Path) -> subprocess.Popen[bytes]:
    with log.open("wb") as out:
        return subprocess.Popen([str(DASK), *args], stdout=out, stderr=subprocess.STDOUT,
                                start_new_session=True)


def _stop(proc: subprocess.Popen[bytes], sig: int = signal.SIGTERM) -> None:
    if proc.poll() is None:
        os.killpg(proc.pid, sig)
    try:
        proc.wait(timeout=10)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()


class Cluster:
    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.address = f"tcp://127.0.0.1:{_free_port()}"
        self.procs: list[subprocess.Popen[bytes]] = []
        self.scheduler = _start("scheduler", "--host", "127.0.0.1", "--port",
                                self.address.rsplit(":", 1)[1], "--no-dashboard",
                                log=folder / "scheduler.log")
        self.procs.append(self.scheduler)

    def worker(self, name: str) -> subprocess.Popen[bytes]:
        proc = _start("worker", self.address, "--name", name, "--nthreads", "2", "--no-nanny",
                      "--host", "127.0.0.1", "--no-dashboard", log=self.folder / f"{name}.log")
        self.procs.append(proc)
        return proc

    def workers(self) -> dict[str, str]:
        """Worker address by name, once the scheduler knows them all."""
        from distributed import Client

        with Client(self.address, timeout=30, set_as_default=False) as client:
            client.wait_for_workers(sum(p.poll() is None for p in self.procs) - 1, timeout=60)
            info = client.scheduler_info(n_workers=-1)["workers"]
            return {w["name"]: address for address, w in info.items()}


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cluster]:
    if not DASK.exists():
        pytest.skip(f"{DASK} is missing (pip install distributed)")
    made = Cluster(tmp_path_factory.mktemp("dask"))
    made.worker("steady")
    try:
        yield made
    finally:
        for proc in reversed(made.procs):
            _stop(proc)


def test_up_on_the_cluster_from_the_command_line(cluster: Cluster, tmp_path: Path) -> None:
    dbs = make_fleet(tmp_path, 4, 3, extra="[mig.options.fleet_dask]\nconnect_timeout = 2\n")
    args = ["--targets", "role=tenant", "--runner", "dask", "--cluster", cluster.address]
    proc = subprocess.run([sys.executable, "-m", "mig", *args, "up", "--json"], cwd=tmp_path,
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    report = json.loads(proc.stdout)
    assert report["runner"] == "dask" and report["totals"]["ok"] == 4
    assert all(t["worker"] == cluster.workers()["steady"] for t in report["targets"])
    assert all(applies(db) == {f"{i:03d}_t{i:03d}": 1 for i in (1, 2, 3)} for db in dbs)
    proc = subprocess.run([sys.executable, "-m", "mig", "--targets", "all", "--runner", "dask",
                           "--cluster", "tcp://127.0.0.1:1", "status"], cwd=tmp_path,
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 2
    assert "mig: error: cannot reach the Dask scheduler at tcp://127.0.0.1:1" in proc.stderr


def test_fail_fast_submits_no_more_tasks(cluster: Cluster, tmp_path: Path) -> None:
    dbs = make_fleet(tmp_path, 4, 2)
    with sqlite3.connect(dbs[0]) as conn:  # its first migration fails
        conn.execute("CREATE TABLE t001 (x INTEGER)")
    proc = subprocess.run([sys.executable, "-m", "mig", "--targets", "all", "--runner", "dask",
                           "--cluster", cluster.address, "-j", "1", "--fail-fast", "up",
                           "--json"], cwd=tmp_path, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 1, proc.stderr
    report = json.loads(proc.stdout)
    assert report["totals"] == {"ok": 0, "failed": 1, "problems": 0, "skipped": 3}
    assert all(not applies(db) for db in dbs)


def test_a_worker_killed_mid_run_applies_nothing_twice(cluster: Cluster, tmp_path: Path) -> None:
    victim = cluster.worker("victim")
    address = cluster.workers()["victim"]
    dbs = make_fleet(tmp_path, 8, 6, slow=int(os.environ.get("MIG_TEST_DASK_WORK", "40000")))
    config = load_config(tmp_path / "mig.toml")
    config.options["fleet_dask"] = {"progress_interval": 0}  # every step, to kill on one
    runner = make_runner(config, Plugins().load(), "dask", cluster.address)
    seen: dict[str, set[str | None]] = {}
    killed: list[str] = []

    def emit(event: Any) -> None:
        seen.setdefault(event.target, set()).add(event.worker)
        if not killed and event.worker == address and event.kind == "step" and event.done >= 2:
            killed.append(event.target)  # kill it while it applies this target's 3rd one
            os.killpg(victim.pid, signal.SIGKILL)

    started = time.monotonic()
    results = run_fleet(runner, jobs_for(config, select(config, "all"), "up"),
                        concurrency=4, emit=emit)
    assert killed, "the victim worker never ran a migration"
    assert victim.wait(timeout=10) == -signal.SIGKILL
    assert [r.status for r in results] == ["ok"] * 8, [r.error for r in results]
    want = {f"{i:03d}_t{i:03d}": 1 for i in range(1, 7)}
    for db in dbs:  # every migration applied exactly once, no failed or RUNNING rows
        assert applies(db) == want, db
        assert set(statuses(db)) == {"COMPLETED"}
    by_name = {r.target: r for r in results}
    lost = by_name[killed[0]]
    assert address in seen[killed[0]] and lost.worker != address  # it ran again elsewhere
    assert lost.version_after == "006"
    print(f"fleet with a lost worker: {time.monotonic() - started:.1f}s")
