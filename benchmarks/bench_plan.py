"""How long the read-only commands take over 10,000 migration files.

Generates 10,000 small valid migrations (every third depends on the one before it, every
hundredth also on one fifty back) and times `mig plan`, `mig status` and `mig validate` as
whole commands, on a fresh database; with --applied, again after `mig up` has applied all of
them (which takes a while, and is timed once). Target: each under 1 s.

    python benchmarks/bench_plan.py [--count 10000] [--repeat 5] [--applied] [--mig PATH]
"""

from __future__ import annotations

import argparse
import json
import textwrap
from pathlib import Path

from _common import find_mig, fmt_runs, fresh_run_dir, median, print_table, timed

TARGET = 1.0
COMMANDS = (["plan"], ["status"], ["validate"])


def mid(i: int) -> str:
    return f"{i:05d}_plan_{i}"


def dependencies(i: int) -> list[str]:
    deps = []
    if i % 3 == 0:
        deps.append(mid(i - 1))
    if i % 100 == 0:
        deps.append(mid(i - 50))
    return deps


def write_project(folder: Path, count: int) -> None:
    migrations = folder / "migrations"
    migrations.mkdir(parents=True)
    (folder / "mig.toml").write_text(textwrap.dedent("""\
        [mig]
        database = "sqlite:///bench.db"
        migrations_dir = "migrations"
        backups_dir = "backups"
        backup = "none"
        """))
    for i in range(1, count + 1):
        t = f"plan_{i:05d}"
        (migrations / f"{mid(i)}.sql").write_text(
            f"-- @name: Plan {i}\n"
            f"-- @type: table_creation\n"
            f"-- @dependencies: {json.dumps(dependencies(i))}\n"
            "\n-- UP\n"
            f"CREATE TABLE {t} (id INTEGER PRIMARY KEY, value TEXT NOT NULL);\n"
            f"CREATE INDEX idx_{t}_value ON {t}(value);\n"
            "\n-- DOWN\n"
            f"DROP INDEX IF EXISTS idx_{t}_value;\n"
            f"DROP TABLE IF EXISTS {t};\n"
        )


def time_commands(mig: str, folder: Path, state: str, repeat: int) -> list[list[str]]:
    rows = []
    for command in COMMANDS:
        runs = [timed([mig, *command], cwd=folder) for _ in range(repeat)]
        med = median(runs)
        rows.append([f"mig {' '.join(command)}", state, f"{med:.3f}", f"< {TARGET:g} s",
                     "yes" if med < TARGET else "NO", fmt_runs(runs)])
        print(f"  {rows[-1][0]:<13} ({state}): median {med:.3f}s", flush=True)
    return rows


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--count", type=int, default=10_000, help="migration files (default 10000)")
    ap.add_argument("--repeat", type=int, default=5, help="runs per command (default 5)")
    ap.add_argument("--applied", action="store_true",
                    help="also time them with every migration applied (runs `mig up` first)")
    ap.add_argument("--mig", help="the mig executable (default: mig on PATH)")
    args = ap.parse_args()
    mig = find_mig(args.mig)
    run = fresh_run_dir("plan")
    write_project(run, args.count)
    print(f"mig: {mig}   {args.count} migrations in {run / 'migrations'}", flush=True)

    rows = time_commands(mig, run, "fresh db", args.repeat)
    if args.applied:
        t_up = timed([mig, "up"], cwd=run)
        print(f"  mig up of {args.count}: {t_up:.1f}s ({t_up / args.count * 1000:.2f} ms each)",
              flush=True)
        rows += time_commands(mig, run, f"{args.count} applied", args.repeat)

    print()
    print_table(["command", "database", "median s", "target", "met", "runs (s)"], rows)


if __name__ == "__main__":
    main()
