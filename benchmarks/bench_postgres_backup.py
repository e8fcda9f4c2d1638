"""How long a full backup and a restore of a PostgreSQL database take through mig, against
pg_dump and pg_restore run by hand.

The database is made once, with one table filled by one ``CREATE TABLE ... AS SELECT ...
FROM generate_series(...)`` statement to about ``--size-mb`` MiB (plus its primary key, so a
restore rebuilds an index as real ones do). Then, for each repetition, the tools take turns:

- backup: ``mig backup create --type full`` (pg_dump -Fc, then mig's SHA-256, the local
  storage target's fsync, the manifest and the catalogue row) against ``pg_dump -Fc -f FILE``;
- restore: ``mig backup restore ID --yes`` (the checksum verified first, then the whole
  restore and mig's audit trail in one transaction) against ``pg_restore --clean --if-exists
  -d DB FILE`` (not atomic) and, for reference, the same with ``--single-transaction``.

Every command is timed as a whole (a subprocess, wall clock): interpreter start-up counts.
The database is MIG_BENCH_POSTGRES's server (default postgresql://postgres@127.0.0.1:5432/
test, whose database is the maintenance database); it is dropped at the end.

    python benchmarks/bench_postgres_backup.py [--size-mb 1024] [--repeat 3] [--mig PATH]
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import textwrap
import time
from collections.abc import Sequence
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

from _common import find_mig, fmt_runs, fresh_run_dir, median, print_table

TARGET = 1.2  # mig / by hand
ADMIN_URL = os.environ.get("MIG_BENCH_POSTGRES", "postgresql://postgres@127.0.0.1:5432/test")
#: Bytes a row of the generated table takes on disk, heap and primary key (measured).
ROW_BYTES = 132


def timed(cmd: Sequence[str], cwd: Path, env: dict[str, str]) -> tuple[float, str]:
    start = time.perf_counter()
    proc = subprocess.run(list(cmd), cwd=cwd, env=env, stdin=subprocess.DEVNULL,
                          capture_output=True, text=True)
    elapsed = time.perf_counter() - start
    if proc.returncode != 0:
        raise SystemExit(f"command failed ({proc.returncode}): {' '.join(cmd)}\n"
                         f"{proc.stderr.strip()[-2000:]}")
    return elapsed, proc.stdout


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size-mb", type=int, default=1024, help="database size (MiB)")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--mig", help="the mig executable (default: the one on PATH)")
    args = parser.parse_args()

    import psycopg

    mig = find_mig(args.mig)
    pg_dump, pg_restore = shutil.which("pg_dump"), shutil.which("pg_restore")
    if not (pg_dump and pg_restore):
        raise SystemExit("pg_dump and pg_restore must be on the PATH")
    run = fresh_run_dir("postgres-backup")
    database = f"mig_bench_backup_{os.getpid()}"
    url = urlunsplit(urlsplit(ADMIN_URL)._replace(path=f"/{database}"))
    (run / "mig.toml").write_text(textwrap.dedent("""\
        [mig]
        migrations_dir = "migrations"
        backups_dir = "backups"
        backup = "none"
        """))
    (run / "migrations").mkdir()
    env = {k: v for k, v in os.environ.items() if k != "MIG_DISABLE_PLUGIN_AUTOLOAD"}
    env["MIG_DATABASE"] = url
    by_hand = run / "by-hand.dump"
    rows = args.size_mb * 2**20 // ROW_BYTES

    admin = psycopg.connect(ADMIN_URL, autocommit=True)
    admin.execute(f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)')
    admin.execute(f'CREATE DATABASE "{database}"')
    try:
        start = time.perf_counter()
        with psycopg.connect(url, autocommit=True) as conn:
            conn.execute(
                "CREATE TABLE big AS SELECT i AS id, md5(i::text) AS label,"
                " (i::bigint * 7919) % 1000003 AS amount,"
                " timestamptz '2020-01-01' + i * interval '1 second' AS at,"
                f" 'row ' || i AS note FROM generate_series(1, {rows}) AS i"
            )
            conn.execute("ALTER TABLE big ADD PRIMARY KEY (id)")
            conn.execute("VACUUM ANALYZE big")
            (size,) = conn.execute("SELECT pg_database_size(current_database())").fetchone()
        print(f"generated {rows:,} rows, database {size / 2**20:,.0f} MiB"
              f" in {time.perf_counter() - start:.1f} s", flush=True)

        def check() -> None:
            with psycopg.connect(url) as conn:
                (count,) = conn.execute("SELECT count(*) FROM big").fetchone()
            if count != rows:
                raise SystemExit(f"the restored table has {count} rows, expected {rows}")

        times: dict[str, list[float]] = {k: [] for k in (
            "mig backup", "pg_dump", "mig restore", "pg_restore", "pg_restore -1")}
        sizes: dict[str, int] = {}
        for i in range(args.repeat):
            elapsed, out = timed([mig, "backup", "create", "--type", "full"], run, env)
            times["mig backup"].append(elapsed)
            backup_id = out.strip().splitlines()[-1]
            sizes["mig"] = (run / "backups" / backup_id / "data").stat().st_size
            by_hand.unlink(missing_ok=True)
            elapsed, _ = timed([pg_dump, "-Fc", "-f", str(by_hand), "-d", url], run, env)
            times["pg_dump"].append(elapsed)
            sizes["pg_dump"] = by_hand.stat().st_size

            elapsed, _ = timed([mig, "backup", "restore", backup_id, "--yes"], run, env)
            times["mig restore"].append(elapsed)
            check()
            elapsed, _ = timed([pg_restore, "--clean", "--if-exists", "-d", url, str(by_hand)],
                               run, env)
            times["pg_restore"].append(elapsed)
            check()
            elapsed, _ = timed([pg_restore, "--clean", "--if-exists", "--single-transaction",
                                "-d", url, str(by_hand)], run, env)
            times["pg_restore -1"].append(elapsed)
            check()
            print(f"run {i + 1}: " + ", ".join(f"{k} {v[-1]:.2f}s" for k, v in times.items()),
                  flush=True)
            shutil.rmtree(run / "backups" / backup_id)
    finally:
        admin.execute(f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)')
        admin.close()

    print(f"\nPostgreSQL, a {size / 2**20:,.0f} MiB database ({rows:,} rows), archive"
          f" {sizes['pg_dump'] / 2**20:,.0f} MiB; median of {args.repeat} (seconds)")
    print_table(["command", "median", "runs"],
                [[k, f"{median(v):.2f}", fmt_runs(v)] for k, v in times.items()])
    for ours, theirs in (("mig backup", "pg_dump"), ("mig restore", "pg_restore"),
                         ("mig restore", "pg_restore -1")):
        ratio = median(times[ours]) / median(times[theirs])
        verdict = "OK" if ratio <= TARGET else "ABOVE TARGET"
        print(f"{ours} / {theirs}: {ratio:.2f}x (target <= {TARGET}x) {verdict}")


if __name__ == "__main__":
    main()
