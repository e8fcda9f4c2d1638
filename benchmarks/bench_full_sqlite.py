"""How fast is a full backup of a SQLite database? Compares the strategy's copy with ``cp``,
the sqlite3 CLI's ``.backup``, the online backup API and ``VACUUM INTO`` on one database file.

    python benchmarks/bench_full_sqlite.py [DB] [--size-gib 1] [--wal]

Without DB it builds one (``--size-gib``, default 1) in a temporary folder. Each method runs
three times after a warm-up; the best time counts (the file is in the page cache, as it is
right after a migration run).
"""

from __future__ import annotations

import argparse
import os
import random
import shutil
import sqlite3
import subprocess
import tempfile
import time
from pathlib import Path
from types import SimpleNamespace

from mig_sqlite import SQLiteDialect
from mig_sqlite.backup import full


def build(path: Path, gib: float, wal: bool) -> None:
    conn = sqlite3.connect(path, isolation_level=None)
    if wal:
        conn.execute("PRAGMA journal_mode = WAL")
    conn.execute("PRAGMA synchronous = OFF")
    conn.execute("CREATE TABLE t (id INTEGER PRIMARY KEY, name TEXT, score REAL, payload BLOB)")
    conn.execute("CREATE INDEX t_name ON t (name)")
    rnd, i = random.Random(1), 0
    while path.stat().st_size < gib * (1 << 30):
        conn.execute("BEGIN")
        conn.executemany(
            "INSERT INTO t VALUES (?, ?, ?, ?)",
            ((i + k, f"name-{rnd.random()}", rnd.random(), rnd.randbytes(400))
             for k in range(20000)),
        )
        conn.execute("COMMIT")
        i += 20000
    conn.close()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("db", nargs="?")
    parser.add_argument("--size-gib", type=float, default=1.0)
    parser.add_argument("--wal", action="store_true")
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="mig-bench-"))
    try:
        db = Path(args.db) if args.db else work / "big.db"
        if not args.db:
            build(db, args.size_gib, args.wal)
        out = work / "out"
        dialect = SQLiteDialect(f"sqlite:///{db}", base_dir=db.parent, options={})
        dialect.connect()
        live = dialect.connection
        assert live is not None
        ctx = SimpleNamespace(dialect=dialect)

        def strategy() -> None:
            job = SimpleNamespace(workdir=out.parent, extra={})
            full.Handler().create(ctx, job)  # type: ignore[arg-type]

        def api() -> None:
            target = sqlite3.connect(out)
            live.backup(target)
            target.close()

        methods = {
            "cp": lambda: subprocess.run(["cp", db, out], check=True),
            "mig-backup-full": strategy,
            "sqlite3 CLI .backup": lambda: subprocess.run(
                ["sqlite3", str(db), f".backup '{out}'"], check=True),
            "Connection.backup()": api,
            "VACUUM INTO": lambda: live.execute("VACUUM INTO ?", (str(out),)),
        }
        size = db.stat().st_size
        print(f"{db} ({size / (1 << 30):.2f} GiB, journal_mode "
              f"{SQLiteDialect.journal_mode(live)})")
        best = {}
        for name, run in methods.items():
            if name.startswith("sqlite3") and not shutil.which("sqlite3"):
                continue
            times = []
            for _ in range(4):
                for leftover in (out, out.parent / "data"):
                    leftover.unlink(missing_ok=True)
                os.sync()  # no writeback of the previous copy during this one
                started = time.perf_counter()
                run()
                times.append(time.perf_counter() - started)
            best[name] = min(times[1:])
            print(f"  {name:<22} {best[name]:6.3f} s  {size / best[name] / (1 << 20):7.0f} MiB/s"
                  f"  ({best['cp'] / best[name]:.2f}x cp)")
        dialect.close()
    finally:
        shutil.rmtree(work, ignore_errors=True)



if __name__ == "__main__":
    main()
