"""How long `mig lint` takes over 2,000 migration files. Target: under 5 s.

Generates N migrations (`--count`, default 2000) in five shapes that take turns: a new table
with its columns, checks and an index; an added column; an index on an existing table and a
backfill; a foreign key; seed rows. Some are lint findings on purpose (an index without
CONCURRENTLY, a foreign key without NOT VALID), so the rules do their full work. Times the
whole `mig lint` command (wall clock, start-up and file parsing included) per dialect, `--repeat`
times (default 3), and prints the median.

    python benchmarks/bench_lint.py [--count 2000] [--repeat 3] [--dialects postgresql,sqlite,mysql]
"""

from __future__ import annotations

import argparse
import resource
import subprocess
import time
from pathlib import Path

from _common import find_mig, fmt_runs, fresh_run_dir, median, print_table

TARGET = 5.0


def shape(i: int) -> tuple[list[str], list[str]]:
    """The UP and DOWN statements of migration i."""
    t, prev = f"t_{i}", f"t_{max(1, i - (i % 5))}"
    kind = i % 5
    if kind in (0, 1):
        return ([f"CREATE TABLE {t} (id INTEGER PRIMARY KEY, name VARCHAR(100) NOT NULL, "
                 f"amount DECIMAL(12, 2) NOT NULL DEFAULT 0, note TEXT, created_at TIMESTAMP "
                 f"NOT NULL DEFAULT CURRENT_TIMESTAMP, CHECK (amount >= 0))",
                 f"CREATE INDEX idx_{t}_name ON {t} (name)"],
                [f"DROP INDEX idx_{t}_name", f"DROP TABLE {t}"])
    if kind == 2:
        return ([f"ALTER TABLE {prev} ADD COLUMN c_{i} VARCHAR(20) NOT NULL DEFAULT 'x'"],
                [f"ALTER TABLE {prev} DROP COLUMN c_{i}"])
    if kind == 3:
        return ([f"CREATE INDEX idx_{prev}_{i} ON {prev} (created_at)",
                 f"UPDATE {prev} SET note = 'n' WHERE note IS NULL AND amount > {i}"],
                [f"DROP INDEX idx_{prev}_{i}"])
    return ([f"ALTER TABLE {prev} ADD CONSTRAINT fk_{i} FOREIGN KEY (id) REFERENCES t_1 (id)",
             f"INSERT INTO {prev} (id, name) VALUES ({i}, 'a'), ({i + 1}, 'b'), ({i + 2}, 'c')"],
            [f"DELETE FROM {prev} WHERE id IN ({i}, {i + 1}, {i + 2})",
             f"ALTER TABLE {prev} DROP CONSTRAINT fk_{i}"])


URLS = {"postgresql": "postgresql://bench@127.0.0.1:9/never", "mysql": "mysql://bench@127.0.0.1:9/n",
        "sqlite": "sqlite:///bench.db"}


def write_project(folder: Path, count: int, dialect: str) -> None:
    migrations = folder / "migrations"
    migrations.mkdir(parents=True)
    (folder / "mig.toml").write_text(
        f'[mig]\ndatabase = "{URLS[dialect]}"\nmigrations_dir = "migrations"\nbackup = "none"\n'
    )
    for i in range(1, count + 1):
        up, down = shape(i)
        body = "\n".join([f"-- @name: Lint bench {i}", "", "-- UP", *(s + ";" for s in up),
                          "", "-- DOWN", *(s + ";" for s in down)])
        (migrations / f"{i:05d}_lint_{i}.sql").write_text(body + "\n")


def timed_lint(mig: str, folder: Path) -> tuple[float, float, int]:
    """Wall seconds, CPU seconds and the finding count of one `mig lint --json` (exit 0 or 4)."""
    import json

    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    proc = subprocess.run([mig, "lint", "--json"], cwd=folder, capture_output=True)
    elapsed = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if proc.returncode not in (0, 4):
        raise SystemExit(f"mig lint failed ({proc.returncode}): {proc.stderr.decode()[-2000:]}")
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return elapsed, cpu, len(json.loads(proc.stdout)["findings"])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--count", type=int, default=2000, help="migration files (default 2000)")
    ap.add_argument("--repeat", type=int, default=3, help="runs per dialect (default 3)")
    ap.add_argument("--dialects", default="postgresql,sqlite,mysql")
    ap.add_argument("--mig", help="the mig executable (default: mig on PATH)")
    args = ap.parse_args()
    mig = find_mig(args.mig)
    run = fresh_run_dir("lint")
    rows = []
    for dialect in args.dialects.split(","):
        folder = run / dialect
        write_project(folder, args.count, dialect)
        walls, cpus, found = [], [], 0
        for _ in range(args.repeat):
            wall, cpu, found = timed_lint(mig, folder)
            walls.append(wall)
            cpus.append(cpu)
        med = median(walls)
        rows.append([dialect, str(args.count), str(found), f"{med:.2f}", f"{median(cpus):.2f}",
                     f"< {TARGET:g} s", "yes" if med < TARGET else "NO", fmt_runs(walls)])
        print(f"  mig lint, {dialect}, {args.count} files: median {med:.2f}s "
              f"({found} findings)", flush=True)
    print()
    print_table(["dialect", "files", "findings", "median s", "cpu s", "target", "met",
                 "runs (s)"], rows)


if __name__ == "__main__":
    main()
