"""What the schema record costs `mig up`: one normalised snapshot of the user schema, its
fingerprint and one small transaction per command (docs/ledger.md, "The schema record").

For each dialect it times `mig up` of N migrations (a subprocess, wall clock, median of
--repeat runs on fresh databases), then, on the migrated database, the record itself
(`mig.runner.record_schema`, in-process, median of 7), and prints the record's share of `up`.
Targets: at most 3% of `up` of 500 on SQLite, 10% on PostgreSQL.

    python benchmarks/bench_schema_record.py [--count 500] [--repeat 3] [--dialects sqlite,postgres]
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import time
from pathlib import Path

import bench_apply
import bench_postgres
from _common import find_mig, fresh_run_dir

TARGETS = {"sqlite": 0.03, "postgres": 0.10}


def timed(command: list[str], cwd: Path, env: dict[str, str]) -> float:
    start = time.perf_counter()
    subprocess.run(command, cwd=cwd, env=env, check=True, stdout=subprocess.DEVNULL)
    return time.perf_counter() - start


def record_cost(folder: Path, env: dict[str, str]) -> tuple[float, int]:
    """Median seconds of one schema record on the migrated database, and its table count."""
    from mig.engine import MigrationEngine
    from mig.runner import record_schema

    os.environ.update(env)
    with MigrationEngine.from_config(folder / "mig.toml") as engine:
        ledger = engine.db.writer()
        last = ledger.executions(1)[0]
        runs = []
        for _ in range(7):
            start = time.perf_counter()
            record_schema(engine.db, last)
            runs.append(time.perf_counter() - start)
        tables = len(engine.dialect.schema_snapshot()["tables"])
    return statistics.median(runs), tables


def sqlite_case(run: Path, count: int, repeat: int, mig: str) -> tuple[float, float, int]:
    folder = run / "sqlite"
    bench_apply.write_mig(folder, count)
    env = dict(os.environ)
    ups = []
    for _ in range(repeat):
        for leftover in folder.glob("bench.db*"):
            leftover.unlink()
        ups.append(timed([mig, "up"], folder, env))
    cost, tables = record_cost(folder, env)
    return statistics.median(ups), cost, tables


def postgres_case(run: Path, count: int, repeat: int, mig: str) -> tuple[float, float, int]:
    folder = run / "postgres"
    bench_postgres.write_project(folder, count)
    server = bench_postgres.Server(bench_postgres.ADMIN_URL)
    name = f"mig_bench_record_{os.getpid()}"
    ups = []
    try:
        for _ in range(repeat):
            env = {**os.environ, "MIG_DATABASE": server.fresh(name)}
            ups.append(timed([mig, "up"], folder, env))
        cost, tables = record_cost(folder, env)
    finally:
        server.drop(name)
    return statistics.median(ups), cost, tables


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=500)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--dialects", default="sqlite,postgres")
    parser.add_argument("--mig")
    args = parser.parse_args()
    mig = find_mig(args.mig)
    run = fresh_run_dir("schema-record")
    cases = {"sqlite": sqlite_case, "postgres": postgres_case}
    print(f"{'dialect':<9} {'N':>5} {'tables':>6} {'up s':>8} {'record ms':>10} {'share':>7}"
          f"  target")
    for dialect in args.dialects.split(","):
        up, cost, tables = cases[dialect](run, args.count, args.repeat, mig)
        print(f"{dialect:<9} {args.count:>5} {tables:>6} {up:>8.3f} {cost * 1000:>10.1f}"
              f" {cost / up:>7.1%}  <= {TARGETS[dialect]:.0%}")


if __name__ == "__main__":
    main()
