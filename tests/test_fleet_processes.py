"""``--runner processes``: each target's job in a worker process forked from mig (SQLite files)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
from pathlib import Path

from fleet_support import (
    SLOW,
    applies,
    assert_a_rerun_retries_only,
    assert_interrupted_between_targets,
    break_target,
    make_fleet,
    mig,
    statuses,
    wait_until_running,
)
from mig.config import load_config
from mig.fleet import Event, ProcessRunner, jobs_for, make_runner, run_fleet, select
from mig.plugins import Plugins


def test_every_target_in_its_own_process_and_a_failure_stays_on_its_target(
        tmp_path: Path) -> None:
    dbs = make_fleet(tmp_path, 6, 4, backup="full")
    break_target(dbs[2], 3)
    code, out, err = mig(tmp_path, "--targets", "role=tenant", "--runner", "processes",
                         "-j", "3", "up", "--json")
    assert code == 1, err
    report = json.loads(out)
    assert report["runner"] == "processes"
    assert report["totals"] == {"ok": 5, "failed": 1, "problems": 0, "skipped": 0}
    by_name = {t["target"]: t for t in report["targets"]}
    bad = by_name["tenants/tenant002"]
    assert bad["status"] == "failed" and "003_t003 failed" in bad["error"]
    assert bad["version_after"] == "002" and statuses(dbs[2])["FAILED"] == 1
    workers = {t["worker"] for t in report["targets"]}
    assert 1 < len(workers) <= 3 and all(w.startswith("pid ") for w in workers)
    assert str(os.getpid()) not in {w.split()[1] for w in workers}
    for db in dbs:
        want = 2 if db == dbs[2] else 4
        assert sum(applies(db).values()) == want and max(applies(db).values()) == 1
    for n in (0, 1, 3, 4, 5):  # each target's backups in its own folder
        assert any((tmp_path / "backups" / "tenants" / f"tenant{n:03d}").iterdir())
    assert "[6/6]" in err  # a line per finished target
    # Again: nothing is applied twice; the broken one fails again, alone.
    assert_a_rerun_retries_only(tmp_path, dbs, "tenants/tenant002", "--runner", "processes")


def test_results_and_progress_stream_while_other_targets_wait(tmp_path: Path) -> None:
    dbs = make_fleet(tmp_path, 4, 3)
    config = load_config(tmp_path / "mig.toml")
    assert isinstance(make_runner(config, Plugins().load(), "processes"), ProcessRunner)
    events: list[Event] = []
    results = ProcessRunner({}).run(jobs_for(config, select(config, "all"), "up"),
                                    concurrency=1, emit=events.append,
                                    stop=threading.Event())
    first = next(results)
    # One at a time: the first result arrives before the last target has been touched.
    assert first.target == "tenants/tenant000" and first.status == "ok"
    assert not applies(dbs[3])
    assert events and events[0].kind == "start"  # then steps, at most one per 0.1 s
    assert {(e.target, e.kind) for e in events[1:]} <= {("tenants/tenant000", "step")}
    rest = list(results)
    assert [r.target for r in rest] == [f"tenants/tenant00{n}" for n in (1, 2, 3)]
    assert all(sum(applies(db).values()) == 3 for db in dbs)
    starts = [e.target for e in events if e.kind == "start"]
    assert starts == [f"tenants/tenant00{n}" for n in range(4)]
    assert len({e.worker for e in events}) == 1  # one worker ran them one after another


def test_a_killed_worker_fails_its_target_only(tmp_path: Path) -> None:
    dbs = make_fleet(tmp_path, 4, 3, slow=200000)
    config = load_config(tmp_path / "mig.toml")
    jobs = jobs_for(config, select(config, "all"), "up")
    killed: list[str] = []

    def emit(event: Event) -> None:
        if event.target == "tenants/tenant001" and event.kind == "start":
            assert event.worker is not None
            os.kill(int(event.worker.split()[1]), signal.SIGKILL)
            killed.append(event.worker)

    results = run_fleet(ProcessRunner({}), jobs, concurrency=2, emit=emit)
    by_name = {r.target: r for r in results}
    dead = by_name.pop("tenants/tenant001")
    assert killed and dead.status == "failed" and "worker process died" in (dead.error or "")
    assert all(r.status == "ok" for r in by_name.values())
    assert all(sum(applies(db).values()) == 3 for db in (dbs[0], dbs[2], dbs[3]))
    # The kernel dropped the dead worker's lock: the next run finishes that target.
    results = run_fleet(ProcessRunner({}), jobs_for(config, select(config, "all"), "up"))
    assert [r.status for r in results] == ["ok"] * 4
    assert all(sorted(applies(db).values()) == [1, 1, 1] for db in dbs)


def test_ctrl_c_on_the_terminal_lets_running_targets_finish(tmp_path: Path) -> None:
    dbs = make_fleet(tmp_path, 6, 5, slow=SLOW)
    # Its own process group, as a terminal's foreground job: Ctrl-C reaches the workers too.
    proc = subprocess.Popen([sys.executable, "-m", "mig", "--targets", "all", "--runner",
                             "processes", "-j", "2", "up"], cwd=tmp_path, text=True,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            start_new_session=True)
    wait_until_running(dbs)
    os.killpg(proc.pid, signal.SIGINT)
    out, err = proc.communicate(timeout=60)
    assert_interrupted_between_targets(proc.returncode, out, err, dbs, 5)
