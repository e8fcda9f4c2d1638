"""How long `mig --targets all up` takes over a fleet of SQLite tenant databases.

Each of T empty SQLite files gets M migrations (a table, an index, three rows each). Timed as
whole commands (a subprocess, wall clock):

- the shell loop: `mig -d sqlite:///tenantN.db up` once per database, as a script would do
  without fleets (timed over --loop-sample databases and scaled to T: it is linear);
- `mig --targets all -j N up` with the thread runner, N in --concurrency;
- with --dask: a `dask scheduler` and 2 `dask worker` processes (1 thread each) on
  127.0.0.1, `--runner dask` (2 running, 2 more queued at the scheduler) against the thread
  runner at -j 2; the difference divided by T is the Dask runner's overhead per target.

    python benchmarks/bench_fleet.py [--targets 100] [--migrations 20]
                                     [--concurrency 1,4,8] [--repeat 3] [--dask]
"""

from __future__ import annotations

import argparse
import shutil
import socket
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

from _common import find_mig, fmt_runs, fresh_run_dir, median, print_table, timed, write_migrations

CONFIG = """\
[mig]
migrations_dir = "migrations"
backup = "none"

[mig.targets.tenants]
url = "sqlite:///tenants/*.db"
labels = { role = "tenant" }
"""


def fleet(run: Path, targets: int, migrations: int) -> Path:
    """``run/fleet``: the config, the migrations and ``targets`` empty databases."""
    root = run / "fleet"
    if root.exists():
        shutil.rmtree(root)
    write_migrations(
        root, migrations,
        lambda i: [f"CREATE TABLE t{i} (id INTEGER PRIMARY KEY, v TEXT)",
                   f"CREATE INDEX t{i}_v ON t{i} (v)",
                   f"INSERT INTO t{i} (v) VALUES ('a'), ('b'), ('c')"],
        lambda i: [f"DROP TABLE t{i}"],
    )
    (root / "mig.toml").write_text(CONFIG)
    (root / "tenants").mkdir()
    for n in range(targets):
        sqlite3.connect(root / "tenants" / f"tenant{n:04d}.db").close()
    return root


def check(root: Path, targets: int, migrations: int) -> None:
    for db in sorted((root / "tenants").glob("*.db"))[:targets]:
        with sqlite3.connect(db) as conn:
            (n,) = conn.execute("SELECT count(*) FROM mig_migration_executions"
                                " WHERE status = 'COMPLETED'").fetchone()
        if n != migrations:
            raise SystemExit(f"{db} has {n} applied migrations, not {migrations}")


def time_fleet(mig: str, run: Path, args: argparse.Namespace, extra: list[str]) -> float:
    root = fleet(run, args.targets, args.migrations)
    seconds = timed([mig, "--targets", "all", *extra, "up"], cwd=root)
    check(root, args.targets, args.migrations)
    return seconds


def time_loop(mig: str, run: Path, args: argparse.Namespace) -> float:
    sample = min(args.loop_sample, args.targets)
    root = fleet(run, sample, args.migrations)
    start = time.perf_counter()
    for db in sorted((root / "tenants").glob("*.db")):
        timed([mig, "-d", f"sqlite:///{db}", "up"], cwd=root)
    elapsed = time.perf_counter() - start
    check(root, sample, args.migrations)
    return elapsed * args.targets / sample


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

    with Client(address, timeout=60, set_as_default=False) as client:
        client.wait_for_workers(2, timeout=60)
    return address, procs


def _ratio(base: float, seconds: float) -> str:
    return f"{base / seconds:.1f}x" if base else "-"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--targets", type=int, default=100)
    parser.add_argument("--migrations", type=int, default=20)
    parser.add_argument("--concurrency", default="1,4,8")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--loop-sample", type=int, default=20)
    parser.add_argument("--dask", action="store_true", help="also the Dask runner")
    parser.add_argument("--only-dask", action="store_true", help="only Dask against threads")
    parser.add_argument("--mig", default=None)
    args = parser.parse_args()
    mig = find_mig(args.mig)
    run = fresh_run_dir("fleet")
    print(f"{args.targets} SQLite targets x {args.migrations} migrations,"
          f" median of {args.repeat} runs\n")
    rows: list[list[str]] = []
    loop = [time_loop(mig, run, args) for _ in range(0 if args.only_dask else args.repeat)]
    base = median(loop) if loop else 0.0
    if loop:
        rows.append(["shell loop of `mig up`", f"{base:.2f}", f"{args.targets / base:.1f}",
                     "1.0x", fmt_runs(loop)])
    for n in (int(x) for x in args.concurrency.split(",") if not args.only_dask):
        runs = [time_fleet(mig, run, args, ["-j", str(n)]) for _ in range(args.repeat)]
        m = median(runs)
        rows.append([f"threads -j {n}", f"{m:.2f}", f"{args.targets / m:.1f}",
                     _ratio(base, m), fmt_runs(runs)])
    dask_line = None
    if args.dask or args.only_dask:
        address, procs = start_cluster(run)
        try:
            threads = [time_fleet(mig, run, args, ["-j", "2"]) for _ in range(args.repeat)]
            dask = [time_fleet(mig, run, args, ["--runner", "dask", "--cluster", address])
                    for _ in range(args.repeat)]
        finally:
            for proc in reversed(procs):
                proc.terminate()
                proc.wait(timeout=30)
        rows.append(["threads -j 2", f"{median(threads):.2f}",
                     f"{args.targets / median(threads):.1f}", _ratio(base, median(threads)),
                     fmt_runs(threads)])
        rows.append(["dask, 2 workers x 1 thread", f"{median(dask):.2f}",
                     f"{args.targets / median(dask):.1f}", _ratio(base, median(dask)),
                     fmt_runs(dask)])
        per = (median(dask) - median(threads)) / args.targets * 1000
        dask_line = f"Dask runner overhead per target against threads -j 2: {per:+.1f} ms"
    print_table(["run", "seconds", "targets/s", "vs loop", "runs"], rows)
    if dask_line:
        print("\n" + dask_line)


if __name__ == "__main__":
    main()
