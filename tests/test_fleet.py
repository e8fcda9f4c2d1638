"""``mig --targets ...``: one command on many databases (SQLite files and PostgreSQL)."""

from __future__ import annotations

import contextlib
import json
import os
import sqlite3
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
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
from mig import fleet as fleet_module
from mig import hookimpl
from mig.config import load_config
from mig.errors import ConfigError, PluginError
from mig.fleet import FleetRunner, ThreadRunner, jobs_for, make_runner, run_fleet, select
from mig.testing import server_unavailable

PG_URL = os.environ.get("MIG_TEST_POSTGRES", "postgresql://postgres@127.0.0.1:5432/test")


def test_up_on_every_target_and_a_failure_stays_on_its_target(tmp_path: Path) -> None:
    dbs = make_fleet(tmp_path, 6, 5)
    break_target(dbs[2], 3)
    code, out, err = mig(tmp_path, "--targets", "role=tenant", "-j", "3", "up", "--json")
    assert code == 1, err
    report = json.loads(out)
    assert report["totals"] == {"ok": 5, "failed": 1, "problems": 0, "skipped": 0}
    by_name = {t["target"]: t for t in report["targets"]}
    bad = by_name["tenants/tenant002"]
    assert bad["status"] == "failed" and "003_t003 failed" in bad["error"]
    assert bad["version_after"] == "002"
    for db in dbs:
        want = 2 if db == dbs[2] else 5
        assert sum(applies(db).values()) == want and max(applies(db).values()) == 1
    assert statuses(dbs[2])["FAILED"] == 1
    # Running again applies nothing twice; the broken one fails again, alone.
    assert_a_rerun_retries_only(tmp_path, dbs, "tenants/tenant002")


def test_fail_fast_starts_nothing_after_a_failure(tmp_path: Path) -> None:
    dbs = make_fleet(tmp_path, 4, 3)
    break_target(dbs[1], 1)
    code, out, err = mig(tmp_path, "--targets", "all", "-j", "1", "--fail-fast", "up")
    assert code == 1
    assert "2 skipped" in out and "1 failed" in out and "1 ok" in out
    assert "another target failed (--fail-fast)" in out
    assert sum(applies(dbs[0]).values()) == 3
    for db in dbs[2:]:  # never touched: no ledger at all
        with contextlib.closing(sqlite3.connect(db)) as conn:
            assert conn.execute("SELECT count(*) FROM sqlite_master").fetchone() == (0,)
    assert "[4/4]" in err  # plain progress lines when stderr is not a terminal


def test_status_matrix_plan_and_selectors(tmp_path: Path) -> None:
    extra = ('[mig.targets.main]\nurl = "sqlite:///main.db"\n'
             'labels = { role = "main", region = "eu" }\n'
             '[mig.targets.spare]\nurl = "sqlite:///spare.db"\nlabels = ["tenant", "eu"]\n')
    dbs = make_fleet(tmp_path, 3, 4, extra=extra)
    code, _, err = mig(tmp_path, "--targets", "tenants/tenant00[01]", "up")
    assert code == 0, err
    code, out, _ = mig(tmp_path, "--targets", "all", "status")
    assert code == 0
    lines = {line.split()[0]: line for line in out.splitlines()[1:-2]}
    assert "up to date" in lines["tenants/tenant000"] and "004" in lines["tenants/tenant000"]
    assert "BEHIND" in lines["tenants/tenant002"] and "BEHIND" in lines["main"]
    assert "3 of 5 target(s) behind" in out
    code, out, _ = mig(tmp_path, "--targets", "role=main", "plan", "--json")
    assert [t["data"]["plan"] for t in json.loads(out)["targets"]] == [
        ["001_t001", "002_t002", "003_t003", "004_t004"]]
    # A URL glob and a list file need no [mig.targets] entry.
    (tmp_path / "list.txt").write_text(f"# two of them\nfirst sqlite:///{dbs[0]}\n"
                                       f"sqlite:///{dbs[2]}\n", encoding="utf-8")
    config = load_config(tmp_path / "mig.toml")
    assert [t.name for t in select(config, "@list.txt", tmp_path)] == ["first", "tenant002.db"]
    assert len(select(config, "sqlite:///tenants/*.db", tmp_path)) == 3
    assert [t.name for t in select(config, "region=eu")] == ["main"]
    assert [t.name for t in select(config, "label=eu")] == ["main", "spare"]  # name or value
    assert len(select(config, "label=tenant")) == 4
    assert [t.name for t in select(config, "role!=tenant,main")] == ["main"]
    with pytest.raises(ConfigError, match="no target matches 'role=nobody'"):
        select(config, "role=nobody")
    code, out, _ = mig(tmp_path, "--targets", "tenants/tenant000", "down", "--steps", "2",
                       "--json")
    assert code == 0 and [(t["version_before"], t["version_after"])
                          for t in json.loads(out)["targets"]] == [("004", "002")]
    assert applies(dbs[0]) == {"001_t001": 1, "002_t002": 1}
    code, _, err = mig(tmp_path, "--targets", "role=nobody", "up")
    assert code == 2 and "mig: error: no target matches 'role=nobody'" in err
    code, _, err = mig(tmp_path, "--targets", "all", "history")
    assert code == 2 and "does not run with --targets" in err


@pytest.mark.parametrize(("table", "message"), [
    ('[mig.targets."a b"]\nurl = "sqlite:///x.db"', "a target name is letters"),
    ('[mig.targets.a]\nurl = "sqlite:///x.db"\nfile = "l.txt"', "exactly one of url and file"),
    ('[mig.targets.a]\nurl = "sqlite:///x.db"\nlabels = { n = 1 }', "labels must be a table"),
    ('[mig.targets.a]\nurl = "sqlite:///x.db"\nhost = "x"', "unknown key 'host'"),
])
def test_bad_target_tables_are_config_errors(tmp_path: Path, table: str, message: str) -> None:
    (tmp_path / "mig.toml").write_text("[mig]\n" + table + "\n", encoding="utf-8")
    with pytest.raises(ConfigError, match=message):
        load_config(tmp_path / "mig.toml")
    if "unknown key" in message:  # the command line says it in one line, exit 2
        code, _, err = mig(tmp_path, "--targets", "all", "status")
        assert code == 2 and err.startswith("mig: error: ") and message in err


def test_each_target_has_its_own_lock_and_backups(tmp_path: Path) -> None:
    dbs = make_fleet(tmp_path, 3, 2, backup="full", lock_timeout=0.5)
    holder = subprocess.Popen(  # holds tenant001's migration lock
        [sys.executable, "-c", "import fcntl, sys; f = open(sys.argv[1], 'w');"
         " fcntl.flock(f, fcntl.LOCK_EX); print('locked', flush=True); sys.stdin.readline()",
         f"{dbs[1]}.miglock"], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "locked"
        code, out, _ = mig(tmp_path, "--targets", "all", "up", "--json")
    finally:
        holder.communicate("\n", timeout=10)
    report = {t["target"]: t for t in json.loads(out)["targets"]}
    assert code == 1
    assert report["tenants/tenant001"]["exit_code"] == 3
    assert "locked" in report["tenants/tenant001"]["error"]
    assert sum(applies(dbs[0]).values()) == sum(applies(dbs[2]).values()) == 2
    for name in ("tenant000", "tenant002"):  # a backup before each migration, in its folder
        assert len(list((tmp_path / "backups" / "tenants" / name).glob("*/manifest.json"))) \
            + len(list((tmp_path / "backups" / "tenants" / name).glob("*.json"))) >= 1
    assert not (tmp_path / "backups" / "tenants" / "tenant001").exists()
    code, out, _ = mig(tmp_path, "--targets", "all", "backup", "create", "--json")
    assert code == 0
    ids = {t["target"]: t["data"]["backup_id"] for t in json.loads(out)["targets"]}
    assert len(set(ids.values())) == 3
    code, out, _ = mig(tmp_path, "--targets", "all", "check")
    assert code == 0, out


class _Recorder(FleetRunner):
    name = "recorder"

    def run(self, jobs: Any, *, concurrency: int | None, emit: Any, stop: Any) -> Any:
        self.options["seen"] = [job.target.name for job in jobs]
        yield from ThreadRunner({}).run(jobs, concurrency=1, emit=emit, stop=stop)


class _RunnerPlugin:
    @hookimpl
    def mig_register_fleet_runners(self) -> list[Any]:
        return [_Recorder]


class _BadRunnerPlugin:
    @hookimpl
    def mig_register_fleet_runners(self) -> list[Any]:
        return [object]


def test_runners_come_from_plugins(tmp_path: Path, register_plugin: Any) -> None:
    dbs = make_fleet(tmp_path, 2, 2)
    config = load_config(tmp_path / "mig.toml")
    plugins = register_plugin(_RunnerPlugin())
    runner = make_runner(config, plugins, "recorder", cluster="tcp://nowhere:1")
    assert isinstance(runner, _Recorder) and runner.options["cluster"] == "tcp://nowhere:1"
    events: list[Any] = []
    results = run_fleet(runner, jobs_for(config, select(config, "all"), "up"),
                        emit=events.append)
    assert [r.status for r in results] == ["ok", "ok"]
    assert runner.options["seen"] == ["tenants/tenant000", "tenants/tenant001"]
    assert [e.kind for e in events if e.target == "tenants/tenant000"] == [
        "start", "step", "step"]
    assert all(sum(applies(db).values()) == 2 for db in dbs)
    with pytest.raises(ConfigError,
                       match="--runner 'nope' is not one of processes, recorder, threads"):
        make_runner(config, plugins, "nope")
    with pytest.raises(PluginError, match="does not subclass mig.fleet.FleetRunner"):
        make_runner(config, register_plugin(_BadRunnerPlugin()), None)


class _ParseCounter:
    def __init__(self) -> None:
        self.parsed: list[str] = []
        self.split: list[str] = []

    @hookimpl(tryfirst=True)
    def mig_parse_migration(self, path: Path, text: str) -> None:
        self.parsed.append(path.name)

    @hookimpl(tryfirst=True)
    def mig_parse_split(self, sql: str, dialect: str, first_line: int, path: Path) -> None:
        self.split.append(path.name)


def test_a_fleet_command_reads_the_migrations_once(tmp_path: Path, register_plugin: Any) -> None:
    dbs = make_fleet(tmp_path, 5, 3)
    config = load_config(tmp_path / "mig.toml")
    counter = _ParseCounter()
    register_plugin(counter, fleet_module.shared_plugins(config))
    results = run_fleet(ThreadRunner({}), jobs_for(config, select(config, "all"), "up"),
                        concurrency=3)
    assert [r.status for r in results] == ["ok"] * 5
    assert sorted(counter.parsed) == ["001_t001.sql", "002_t002.sql", "003_t003.sql"]
    assert sorted(counter.split) == sorted(counter.parsed)  # each UP section split once
    # The next command reads the folder again: a migration added since runs everywhere.
    (tmp_path / "migrations" / "004_t004.sql").write_text(
        "-- @name: table 4\n-- UP\nCREATE TABLE t004 (id INTEGER PRIMARY KEY);\n"
        "-- DOWN\nDROP TABLE t004;\n", encoding="utf-8")
    results = run_fleet(ThreadRunner({}), jobs_for(config, select(config, "all"), "up"),
                        concurrency=3)
    assert [len(r.executions) for r in results] == [1] * 5
    assert counter.parsed.count("004_t004.sql") == 1 and len(counter.parsed) == 7
    assert all(sum(applies(db).values()) == 4 for db in dbs)


def test_a_bad_migration_file_fails_every_target_with_its_error(tmp_path: Path) -> None:
    dbs = make_fleet(tmp_path, 3, 2)
    (tmp_path / "migrations" / "003_bad.sql").write_text(
        "-- @name: bad\nCREATE TABLE bad (id INTEGER);\n", encoding="utf-8")
    code, out, _ = mig(tmp_path, "--targets", "all", "-j", "2", "up", "--json")
    assert code == 1
    targets = json.loads(out)["targets"]
    assert [t["status"] for t in targets] == ["failed"] * 3
    assert all("003_bad.sql:2: missing -- UP marker" in t["error"] for t in targets)
    assert all(not applies(db) for db in dbs)


@pytest.mark.server
def test_postgres_databases(tmp_path: Path) -> None:
    from mig.engine import MigrationEngine

    try:
        admin = MigrationEngine(database=PG_URL)
        admin.dialect.connect()
        admin.dialect.close()
    except Exception as exc:
        server_unavailable(f"PostgreSQL at {PG_URL} is not reachable: {exc}")
    make_fleet(tmp_path, 0, 4)
    with contextlib.ExitStack() as stack:
        urls = [stack.enter_context(admin.dialect.scratch(f"mig_fleet_{os.getpid()}_{i}"))
                for i in range(3)]
        extra = "".join(f'[mig.targets.pg{i}]\nurl = "{url}"\nlabels = {{ role = "pg" }}\n'
                        for i, url in enumerate(urls))
        make_fleet(tmp_path, 0, 4, extra=extra)
        with MigrationEngine(database=urls[1], migrations_dir=tmp_path / "migrations") as one:
            one.up(target="002")
        code, out, err = mig(tmp_path, "--targets", "role=pg", "-j", "3", "up", "--json")
        assert code == 0, err
        report = json.loads(out)["targets"]
        assert [(t["version_before"], t["version_after"], len(t["executions"]))
                for t in report] == [(None, "004", 4), ("002", "004", 2), (None, "004", 4)]
        code, out, _ = mig(tmp_path, "--targets", "role=pg", "status")
        assert code == 0 and "0 of 3 target(s) behind" in out


def test_live_view_on_a_terminal(tmp_path: Path) -> None:
    import pty

    dbs = make_fleet(tmp_path, 3, 3)
    master, terminal = pty.openpty()
    proc = subprocess.Popen([sys.executable, "-m", "mig", "--targets", "all", "-j", "2", "up"],
                            cwd=tmp_path, stdout=subprocess.PIPE, stderr=terminal, text=True)
    os.close(terminal)
    shown = b""
    while True:
        try:
            chunk = os.read(master, 4096)
        except OSError:  # EIO: the other end is closed
            break
        if not chunk:
            break
        shown += chunk
    os.close(master)
    out, _ = proc.communicate(timeout=60)
    assert proc.returncode == 0
    text = shown.decode()
    assert "\x1b[" in text  # redrawn in place
    assert "running" in text and "ETA" in text and "3/3 done, 0 failed" not in out
    assert "3 target(s): 3 ok" in out
    assert all(sum(applies(db).values()) == 3 for db in dbs)


def test_ctrl_c_lets_running_targets_finish_and_starts_no_more(tmp_path: Path) -> None:
    import signal

    dbs = make_fleet(tmp_path, 6, 5, slow=SLOW)
    proc = subprocess.Popen([sys.executable, "-m", "mig", "--targets", "all", "-j", "2", "up"],
                            cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True)
    wait_until_running(dbs)
    proc.send_signal(signal.SIGINT)
    out, err = proc.communicate(timeout=60)
    assert_interrupted_between_targets(proc.returncode, out, err, dbs, 5)
