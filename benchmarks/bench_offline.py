"""What writing an offline script costs (`mig up --sql`), against running the migrations.

Generates N small migrations (a table and an index each) and, on SQLite, times in-process:
``engine.up()`` with ``backup = "none"`` on a fresh database (the baseline), ``engine.up_sql()``
on a fresh database (the script for all N), and ``sqlite3 -bail`` running that script (when
the client is installed). Median of ``--repeat`` runs each, with every run shown, and the
ratios to the baseline measured here.

    python benchmarks/bench_offline.py [--count 500] [--repeat 5]
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import time
from pathlib import Path

from _common import fmt_runs, fresh_run_dir, median, print_table, write_migrations
from mig.engine import MigrationEngine

CONFIG = """[mig]
database = "sqlite:///app.db"
migrations_dir = "migrations"
backups_dir = "backups"
backup = "none"
"""


def project(root: Path, count: int) -> Path:
    root.mkdir()
    (root / "mig.toml").write_text(CONFIG)
    write_migrations(
        root, count,
        lambda i: [f"CREATE TABLE t{i} (id INTEGER PRIMARY KEY, note TEXT)",
                   f"CREATE INDEX t{i}_note ON t{i} (note)"],
        lambda i: [f"DROP TABLE t{i}"],
    )
    return root


def once(root: Path, what: str) -> float:
    (root / "app.db").unlink(missing_ok=True)
    engine = MigrationEngine.from_config(root / "mig.toml")
    try:
        started = time.perf_counter()
        if what == "up":
            engine.up()
        else:
            (root / "up.sql").write_text(engine.up_sql())
        return time.perf_counter() - started
    finally:
        engine.close()


def client(root: Path) -> float:
    (root / "app.db").unlink(missing_ok=True)
    started = time.perf_counter()
    with (root / "up.sql").open() as script:
        subprocess.run(["sqlite3", "-bail", str(root / "app.db")], stdin=script, check=True)
    return time.perf_counter() - started


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--count", type=int, default=500)
    ap.add_argument("--repeat", type=int, default=5)
    args = ap.parse_args()
    root = project(fresh_run_dir("offline") / "p", args.count)
    runs: dict[str, list[float]] = {"mig up (baseline)": [], "mig up --sql": []}
    if shutil.which("sqlite3"):
        runs["sqlite3 -bail < up.sql"] = []
    for _ in range(args.repeat):  # interleaved, so drift in the machine's load hits all alike
        runs["mig up (baseline)"].append(once(root, "up"))
        runs["mig up --sql"].append(once(root, "sql"))
        if "sqlite3 -bail < up.sql" in runs:
            runs["sqlite3 -bail < up.sql"].append(client(root))
    base = median(runs["mig up (baseline)"])
    print(f"{args.count} migrations on SQLite, {args.repeat} runs each "
          f"(script: {(root / 'up.sql').stat().st_size} bytes)")
    print_table(
        ["what", "median s", "spread s", "vs baseline", "runs"],
        [[name, f"{median(v):.3f}", f"{max(v) - min(v):.3f}", f"{median(v) / base:.2f}x",
          fmt_runs(v)] for name, v in runs.items()],
    )


if __name__ == "__main__":
    main()
