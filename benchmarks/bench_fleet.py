"""How long `mig --targets all up` takes over a fleet of databases, against a shell loop.

T databases get M migrations (a table, an index, three rows each): empty SQLite files, or
with --postgres T databases on a PostgreSQL server (created by this script with a unique
prefix, `migbench_fleet_<pid>_`, emptied between runs and dropped at the end; the server is
MIG_BENCH_POSTGRES, default postgresql://postgres@127.0.0.1:5432/test). Timed as whole
commands (a subprocess, wall clock; the CPU seconds of the command beside it):

- the shell loop: `mig -d URL up` once per database, as a script would do without fleets
  (timed over --loop-sample databases and scaled to T: each database costs the same);
- `mig --targets all -j N up` with the thread runner, N in --concurrency (or
  `--runner processes -j N` with --processes);
- with --dask: a `dask scheduler` and 2 `dask worker` processes (1 thread each) on
  127.0.0.1, `--runner dask` against the thread runner at -j 2; the difference divided by T
  is the Dask runner's overhead per target.

The commands take turns within a repetition, so a slow spell of the shared disk or CPU falls
on all of them; ratios are of medians measured in the same run.

    python benchmarks/bench_fleet.py [--targets 100] [--migrations 20] [--postgres]
                                     [--concurrency 1,2,4,8] [--repeat 5] [--dask]
"""

from __future__ import annotations

import argparse
import os
import shutil
import socket
import sqlite3
import subprocess
import sys
from collections.abc import Callable
from functools import partial
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

from _common import (
    find_mig,
    fmt_runs,
    fresh_run_dir,
    median,
    print_table,
    timed_cpu,
    write_migrations,
)

ADMIN_URL = os.environ.get("MIG_BENCH_POSTGRES", "postgresql://postgres@127.0.0.1:5432/test")
CONFIG = """\
[mig]
migrations_dir = "migrations"
backup = "none"

[mig.targets.tenants]
{where}
labels = {{ role = "tenant" }}
"""
LEDGER = "SELECT count(*) FROM mig_migration_executions WHERE status = 'COMPLETED'"


class Fleet:
    """T SQLite files under ``root/tenants``, with the config and migrations."""

    kind = "SQLite"

    def __init__(self, run: Path, migrations: int) -> None:
        self.root = run / "fleet"
        self.migrations = migrations
        self.count = 0

    def prepare(self, count: int) -> Path:
        """A fresh fleet of ``count`` empty databases; returns the folder of its mig.toml."""
        if self.root.exists():
            shutil.rmtree(self.root)
        write_migrations(
            self.root, self.migrations,
            lambda i: [f"CREATE TABLE t{i} (id INTEGER PRIMARY KEY, v TEXT)",
                       f"CREATE INDEX t{i}_v ON t{i} (v)",
                       f"INSERT INTO t{i} (id, v) VALUES (1, 'a'), (2, 'b'), (3, 'c')"],
            lambda i: [f"DROP TABLE t{i}"],
        )
        self.count = count
        self.create(count)
        return self.root

    def create(self, count: int) -> None:
        (self.root / "mig.toml").write_text(CONFIG.format(where='url = "sqlite:///tenants/*.db"'))
        (self.root / "tenants").mkdir()
        for n in range(count):
            sqlite3.connect(self.root / "tenants" / f"tenant{n:04d}.db").close()

    def urls(self) -> list[str]:
        return [f"sqlite:///{db}" for db in sorted((self.root / "tenants").glob("*.db"))]

    def applied(self, url: str) -> int:
        with sqlite3.connect(url.removeprefix("sqlite:///")) as conn:
            return int(conn.execute(LEDGER).fetchone()[0])

    def check(self) -> None:
        """Stop the benchmark unless every database has all its migrations applied."""
        for url in self.urls():
            n = self.applied(url)
            if n != self.migrations:
                raise SystemExit(f"{url} has {n} applied migrations, not {self.migrations}")

    def close(self) -> None:
        pass


class PostgresFleet(Fleet):
    """T databases ``migbench_fleet_<pid>_NNNN``, created once, emptied per run, dropped at
    the end."""

    kind = "PostgreSQL"

    def __init__(self, run: Path, migrations: int) -> None:
        import psycopg

        super().__init__(run, migrations)
        self.admin = psycopg.connect(ADMIN_URL, autocommit=True)
        self.prefix = f"migbench_fleet_{os.getpid()}_"
        self.names: list[str] = []

    def url(self, name: str) -> str:
        return urlunsplit(urlsplit(ADMIN_URL)._replace(path=f"/{name}"))

    def create(self, count: int) -> None:
        import psycopg

        while len(self.names) < count:
            name = f"{self.prefix}{len(self.names):04d}"
            self.admin.execute(f'CREATE DATABASE "{name}"')
            self.names.append(name)
        for name in self.names[:count]:  # empty: a fresh public schema
            with psycopg.connect(self.url(name), autocommit=True) as conn:
                conn.execute("DROP SCHEMA public CASCADE")
                conn.execute("CREATE SCHEMA public")
        lines = [f"{name} {self.url(name)}" for name in self.names[:count]]
        (self.root / "targets.txt").write_text("\n".join(lines) + "\n")
        (self.root / "mig.toml").write_text(CONFIG.format(where='file = "targets.txt"'))

    def urls(self) -> list[str]:
        return [self.url(name) for name in self.names[:self.count]]

    def applied(self, url: str) -> int:
        import psycopg

        with psycopg.connect(url) as conn:
            row = conn.execute(LEDGER).fetchone()
        return int(row[0]) if row else 0

    def close(self) -> None:
        for name in self.names:
            self.admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        self.admin.close()


Timing = tuple[float, float]  # wall seconds, CPU seconds


def time_fleet(mig: str, fleet: Fleet, targets: int, extra: list[str]) -> Timing:
    root = fleet.prepare(targets)
    timing = timed_cpu([mig, "--targets", "all", *extra, "up"], cwd=root)
    fleet.check()
    return timing


def time_loop(mig: str, fleet: Fleet, targets: int, sample: int) -> Timing:
    """The shell loop over ``sample`` databases, scaled to ``targets``."""
    sample = min(sample, targets)
    root = fleet.prepare(sample)
    wall = cpu = 0.0
    for url in fleet.urls():
        w, c = timed_cpu([mig, "-d", url, "up"], cwd=root)
        wall, cpu = wall + w, cpu + c
    fleet.check()
    return wall * targets / sample, cpu * targets / sample


def _port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def start_cluster(run: Path) -> tuple[str, list[subprocess.Popen[bytes]]]:
    dask = str(Path(sys.executable).with_name("dask"))
    address = f"tcp://127.0.0.1:{_port()}"
    log = (run / "dask.log").open("wb")
    procs = [subprocess.Popen([dask, "scheduler", "--host", "127.0.0.1", "--port",
                               address.rsplit(":", 1)[1], "--no-dashboard"],
                              stdout=log, stderr=log)]
    for name in ("w1", "w2"):
        procs.append(subprocess.Popen(
            [dask, "worker", address, "--name", name, "--nthreads", "1", "--no-nanny",
             "--host", "127.0.0.1", "--no-dashboard"], stdout=log, stderr=log))
    from distributed import Client

    with Client(address, timeout=60,  # type: ignore[no-untyped-call]
                set_as_default=False) as client:
        client.wait_for_workers(2, timeout=60)
    return address, procs


def spread(values: list[float]) -> str:
    return f"{min(values):.2f}-{max(values):.2f}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--targets", type=int, default=100)
    parser.add_argument("--migrations", type=int, default=20)
    parser.add_argument("--postgres", action="store_true", help="PostgreSQL databases")
    parser.add_argument("--concurrency", default="1,2,4,8")
    parser.add_argument("--processes", action="store_true",
                        help="also `--runner processes` at each -j")
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--loop-sample", type=int, default=20)
    parser.add_argument("--dask", action="store_true", help="also the Dask runner")
    parser.add_argument("--only-dask", action="store_true", help="only Dask against threads")
    parser.add_argument("--mig", default=None)
    args = parser.parse_args()
    mig = find_mig(args.mig)
    run = fresh_run_dir("fleetpg" if args.postgres else "fleet")
    fleet = (PostgresFleet if args.postgres else Fleet)(run, args.migrations)
    T = args.targets
    sample = min(args.loop_sample, T)
    print(f"{T} {fleet.kind} targets x {args.migrations} migrations,"
          f" median of {args.repeat} runs (shell loop: {sample} databases timed, scaled"
          f" to {T})\n", flush=True)

    runs: dict[str, Callable[[], Timing]] = {}
    if not args.only_dask:
        runs["shell loop of `mig up`"] = lambda: time_loop(mig, fleet, T, args.loop_sample)
        for n in (int(x) for x in args.concurrency.split(",")):
            runs[f"threads -j {n}"] = partial(time_fleet, mig, fleet, T, ["-j", str(n)])
            if args.processes:
                runs[f"processes -j {n}"] = partial(
                    time_fleet, mig, fleet, T, ["--runner", "processes", "-j", str(n)])
    procs: list[subprocess.Popen[bytes]] = []
    try:
        if args.dask or args.only_dask:
            address, procs = start_cluster(run)
            runs.setdefault("threads -j 2", lambda: time_fleet(mig, fleet, T, ["-j", "2"]))
            runs["dask, 2 workers x 1 thread"] = lambda: time_fleet(
                mig, fleet, T, ["--runner", "dask", "--cluster", address])
        timings: dict[str, list[Timing]] = {name: [] for name in runs}
        for rep in range(args.repeat):
            for name, func in runs.items():
                timings[name].append(func())
                wall, cpu = timings[name][-1]
                print(f"run {rep + 1}: {name}: {wall:.2f} s (CPU {cpu:.2f} s)", flush=True)
    finally:
        for proc in reversed(procs):
            proc.terminate()
            proc.wait(timeout=30)
        fleet.close()

    base = median([w for w, _ in timings.get("shell loop of `mig up`", [])] or [0.0])
    rows = []
    for name, values in timings.items():
        walls, cpus = [w for w, _ in values], [c for _, c in values]
        m = median(walls)
        rows.append([name, f"{m:.2f}", spread(walls), f"{T / m:.1f}",
                     f"{base / m:.1f}x" if base else "-", f"{median(cpus):.2f}",
                     f"{median(walls) / T * 1000:.0f}", fmt_runs(walls)])
    print()
    print_table(["run", "median s", "spread s", "targets/s", "vs loop", "CPU s",
                 "ms/target", "runs"], rows)
    if "dask, 2 workers x 1 thread" in timings:
        dask = median([w for w, _ in timings["dask, 2 workers x 1 thread"]])
        threads = median([w for w, _ in timings["threads -j 2"]])
        print(f"\nDask runner overhead per target against threads -j 2:"
              f" {(dask - threads) / T * 1000:+.1f} ms")


if __name__ == "__main__":
    main()
