"""How fast mig backs up and restores a ~1 GiB SQLite database, full and incremental.

Every figure is the median wall clock of a whole command run as a subprocess (start-up,
plugin loading, checksums, the storage target's fsyncs: everything a user waits for), on a
warm page cache (the database was just written or copied). Measured:

(a) ``cp DB copy``                                       the reference
(b) ``sqlite3 DB ".backup out"``                         SQLite's own online backup
(c) ``mig backup create --type full``                    target: >= 0.8x cp throughput, <= (b)
(d) ``mig backup restore ID --yes`` of (c)               same targets
(e) ``mig backup create --type incremental`` after ~1% of the rows changed (a contiguous range
    of ids of the biggest table, as recent rows are): target <= 25% of (c)'s time and <= 3% of
    its size; also shown once for 1% of the rows scattered at random, the worst case of
    page-level increments
(f) restoring the tip of a chain (base + 10 increments) vs restoring a full backup of the same
    state: target <= 1.5x; also with ``check = "pages"`` (no PRAGMA quick_check of the result)
(g) ``mig up`` of 100 small migrations with ``backup = "incremental"`` vs ``"none"`` on a
    ~50 MB database: the overhead per migration

    python benchmarks/bench_backup.py [--size-mb 1024] [--repeat 3] [--small-mb 50]
                                      [--migrations 100] [--mig PATH] [--only a,b,...]

The generated databases are cached in ``benchmarks/.work/`` and reused by later runs.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sqlite3
import subprocess
import textwrap
import time
from collections.abc import Callable
from pathlib import Path

from _common import WORK, find_mig, fmt_runs, fresh_run_dir, median, print_table, timed

SQLITE_CLI = "/usr/bin/sqlite3"
MIB = 1024 * 1024

SCHEMA = [
    "CREATE TABLE users (id INTEGER PRIMARY KEY, email TEXT NOT NULL UNIQUE,"
    " name TEXT NOT NULL, created_at TEXT NOT NULL, balance REAL NOT NULL)",
    "CREATE TABLE orders (id INTEGER PRIMARY KEY, user_id INTEGER NOT NULL REFERENCES users(id),"
    " symbol TEXT NOT NULL, side TEXT NOT NULL, quantity INTEGER NOT NULL, price REAL NOT NULL,"
    " status TEXT NOT NULL, note TEXT NOT NULL, created_at TEXT NOT NULL)",
    "CREATE TABLE trades (id INTEGER PRIMARY KEY,"
    " order_id INTEGER NOT NULL REFERENCES orders(id), quantity INTEGER NOT NULL,"
    " price REAL NOT NULL, fee REAL NOT NULL, executed_at TEXT NOT NULL)",
]
INDEXES = [
    "CREATE INDEX idx_orders_user ON orders(user_id)",
    "CREATE INDEX idx_orders_symbol_time ON orders(symbol, created_at)",
    "CREATE INDEX idx_trades_order ON trades(order_id)",
]
SYMBOLS = ["AAPL", "MSFT", "GOOG", "AMZN", "TSLA", "NVDA", "META", "NFLX", "AMD", "INTC"]
BATCH = 200_000


# -- the database ------------------------------------------------------------------------------

def _stamp(i: int) -> str:
    return f"2024-{1 + i % 12:02d}-{1 + i % 28:02d}T{i % 24:02d}:{i % 60:02d}:00"


def generate(path: Path, size_mb: int) -> None:
    """Users, orders and trades with indexes, about ``size_mb`` MiB. Fast settings (no journal,
    no syncs) are for generating only: the file is renamed into the cache when complete."""
    tmp = path.with_suffix(".partial")
    tmp.unlink(missing_ok=True)
    start = time.perf_counter()
    conn = sqlite3.connect(tmp, isolation_level=None)
    conn.execute("PRAGMA journal_mode = OFF")
    conn.execute("PRAGMA synchronous = OFF")
    conn.execute("PRAGMA cache_size = -262144")
    for sql in SCHEMA:
        conn.execute(sql)
    users = min(100_000, 100 * size_mb)
    conn.execute("BEGIN")
    conn.executemany("INSERT INTO users VALUES (?, ?, ?, ?, ?)", (
        (i, f"user{i}@example.com", f"User Number {i}", _stamp(i), (i * 37 % 100_000) / 100)
        for i in range(1, users + 1)))
    conn.execute("COMMIT")
    page_size = conn.execute("PRAGMA page_size").fetchone()[0]
    target = size_mb * MIB
    done = 0
    batch = min(BATCH, 200 * size_mb)
    # the indexes built at the end add about 40% to the tables
    while conn.execute("PRAGMA page_count").fetchone()[0] * page_size < target * 0.72:
        rows = range(done + 1, done + batch + 1)
        conn.execute("BEGIN")
        conn.executemany("INSERT INTO orders VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)", (
            (i, 1 + i * 7919 % users, SYMBOLS[i % 10], "buy" if i & 1 else "sell", 1 + i % 500,
             10 + (i * 13 % 100_000) / 100, "open", f"order {i} placed by the generator",
             _stamp(i)) for i in rows))
        conn.executemany("INSERT INTO trades VALUES (?, ?, ?, ?, ?, ?)", (
            (i, i, 1 + i % 500, 10 + (i * 17 % 100_000) / 100, 0.5, _stamp(i)) for i in rows))
        conn.execute("COMMIT")
        done += batch
    for sql in INDEXES:
        conn.execute(sql)
    conn.execute("PRAGMA journal_mode = DELETE")
    conn.close()
    os.replace(tmp, path)
    print(f"  generated {path.name}: {done:,} orders, {path.stat().st_size / MIB:,.0f} MiB"
          f" in {time.perf_counter() - start:.0f} s", flush=True)


def cached_database(size_mb: int) -> Path:
    WORK.mkdir(parents=True, exist_ok=True)
    path = WORK / f"cache-backup-db-{size_mb}mb.sqlite"
    if not path.exists():
        print(f"generating a {size_mb} MiB database (first run only) ...", flush=True)
        generate(path, size_mb)
    return path


def orders_count(db: Path) -> int:
    conn = sqlite3.connect(db)
    try:
        return conn.execute("SELECT max(id) FROM orders").fetchone()[0]
    finally:
        conn.close()


def change_contiguous(db: Path, fraction: float, round_: int) -> int:
    """Change ``fraction`` of the orders, one contiguous range of ids (a new range each
    round), as an application touching its recent rows does. Returns the rows changed."""
    total = orders_count(db)
    n = int(total * fraction)
    first = 1 + (round_ * n * 7) % max(1, total - n)
    conn = sqlite3.connect(db)
    with conn:
        conn.execute("UPDATE orders SET status = 'filled', note = printf('order %d filled"
                     " in round %3d    ', id, ?) WHERE id BETWEEN ? AND ?",
                     (round_ % 1000, first, first + n - 1))
    conn.close()
    return n


def change_scattered(db: Path, fraction: float, seed: int) -> int:
    total = orders_count(db)
    n = int(total * fraction)
    import random

    ids = random.Random(seed).sample(range(1, total + 1), n)
    conn = sqlite3.connect(db)
    with conn:
        conn.executemany("UPDATE orders SET status = 'cancelled' WHERE id = ?",
                         ((i,) for i in ids))
    conn.close()
    return n


def settle() -> None:
    """Before each timed run: write back what earlier steps left dirty, so that no run pays
    for (or is slowed by) another's writes. Not timed."""
    os.sync()


# -- projects ----------------------------------------------------------------------------------

class Project:
    """A mig project folder around a copy of a database."""

    def __init__(self, folder: Path, source: Path, mig: str, backup: str = "full",
                 extra: str = "") -> None:
        self.folder, self.mig = folder, mig
        folder.mkdir(parents=True)
        self.db = folder / "bench.db"
        (folder / "migrations").mkdir()
        (folder / "mig.toml").write_text(textwrap.dedent(f"""\
            [mig]
            database = "sqlite:///bench.db"
            migrations_dir = "migrations"
            backups_dir = "backups"
            backup = "{backup}"
            lock_timeout = 60
            """) + extra)
        subprocess.run(["cp", str(source), str(self.db)], check=True)

    def cmd(self, *args: str) -> list[str]:
        return [self.mig, *args]

    def time(self, *args: str) -> float:
        settle()
        return timed(self.cmd(*args), cwd=self.folder)

    def create(self, backup_type: str) -> tuple[float, str]:
        """Time ``mig backup create``; returns the time and the new backup's id."""
        settle()
        start = time.perf_counter()
        proc = subprocess.run(self.cmd("backup", "create", "--type", backup_type),
                              cwd=self.folder, capture_output=True, text=True)
        elapsed = time.perf_counter() - start
        if proc.returncode:
            raise SystemExit(f"mig backup create --type {backup_type} failed:\n{proc.stderr}")
        return elapsed, proc.stdout.strip().splitlines()[-1]

    def manifest(self, backup_id: str) -> dict:
        return json.loads((self.folder / "backups" / backup_id / "manifest.json").read_text())

    def drop_backup(self, backup_id: str) -> None:
        shutil.rmtree(self.folder / "backups" / backup_id)


def have_backup_type(mig: str, name: str) -> bool:
    proc = subprocess.run([mig, "plugins", "--json"], capture_output=True, text=True)
    try:
        plugins = json.loads(proc.stdout)
    except ValueError:
        return False
    return any(p.get("name") == f"backup_{name}" and not p.get("error") for p in plugins)


# -- the measurements --------------------------------------------------------------------------

Row = list[str]


def repeat(n: int, run: Callable[[int], float]) -> list[float]:
    return [run(i) for i in range(n)]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--size-mb", type=int, default=1024, help="database size (default 1024)")
    ap.add_argument("--repeat", type=int, default=3, help="runs per measurement (default 3)")
    ap.add_argument("--small-mb", type=int, default=50, help="database size for (g)")
    ap.add_argument("--migrations", type=int, default=100, help="migrations for (g)")
    ap.add_argument("--mig", help="the mig executable (default: mig on PATH)")
    ap.add_argument("--only", default="a,b,c,d,e,f,g", help="subset of the measurements")
    args = ap.parse_args()
    only = set(args.only.split(","))
    mig = find_mig(args.mig)
    has_full = have_backup_type(mig, "full")
    has_incremental = have_backup_type(mig, "incremental")
    source = cached_database(args.size_mb)
    size = source.stat().st_size
    run = fresh_run_dir("backup")
    print(f"mig: {mig}   work folder: {run}   repeat: {args.repeat}   database: {size / MIB:,.0f}"
          f" MiB   full: {'yes' if has_full else 'NOT INSTALLED'}   incremental:"
          f" {'yes' if has_incremental else 'NOT INSTALLED'}", flush=True)

    times: dict[str, list[float]] = {}
    notes: dict[str, str] = {}

    def record(key: str, runs: list[float], note: str = "") -> None:
        times[key] = runs
        if note:
            notes[key] = note
        print(f"  {key:<34} {fmt_runs(runs)}  {note}", flush=True)

    main_project = Project(run / "main", source, mig)
    db = main_project.db

    if "a" in only:
        out = run / "copy.db"

        def cp(_: int) -> float:
            out.unlink(missing_ok=True)
            settle()
            return timed(["cp", str(db), str(out)])

        record("cp", repeat(args.repeat, cp))

        def cp_sync(_: int) -> float:
            out.unlink(missing_ok=True)
            settle()
            return timed(["sh", "-c", f"cp '{db}' '{out}' && sync '{out}'"])

        record("cp + sync", repeat(args.repeat, cp_sync))
        out.unlink(missing_ok=True)

    if "b" in only:
        out = run / "dot-backup.db"

        def dot_backup(_: int) -> float:
            out.unlink(missing_ok=True)
            settle()
            return timed([SQLITE_CLI, str(db), f".backup '{out}'"])

        record(".backup", repeat(args.repeat, dot_backup))
        out.unlink(missing_ok=True)

    full_id = None
    full_size = None
    if has_full and {"c", "d", "e"} & only:
        ids: list[str] = []

        def full(_: int) -> float:
            elapsed, backup_id = main_project.create("full")
            ids.append(backup_id)
            return elapsed

        record("mig backup create --type full", repeat(args.repeat, full))
        full_id = ids[-1]
        full_size = main_project.manifest(full_id)["size_bytes"]
        for old in ids[:-1]:
            main_project.drop_backup(old)

    if has_full and "d" in only and full_id:
        record("mig backup restore (full)", repeat(
            args.repeat, lambda _: main_project.time("backup", "restore", full_id, "--yes")))

    if has_incremental and "e" in only:
        base_time, base_id = main_project.create("incremental")
        record("incremental: base", [base_time])
        sizes, stored = [], []
        rows = 0

        def incremental(i: int) -> float:
            nonlocal rows
            rows = change_contiguous(db, 0.01, i + 1)
            elapsed, backup_id = main_project.create("incremental")
            manifest = main_project.manifest(backup_id)
            sizes.append(manifest["size_bytes"])
            stored.append(manifest["extra"].get("pages_stored", 0))
            return elapsed

        runs = repeat(args.repeat, incremental)
        record("incremental after 1% of rows", runs,
               f"{rows:,} rows; {median(sizes) / MIB:.1f} MiB, {median(stored):,.0f} pages")
        times["_incr_size"] = [median(sizes)]
        scattered = change_scattered(db, 0.01, 7)
        elapsed, backup_id = main_project.create("incremental")
        manifest = main_project.manifest(backup_id)
        kind = manifest["extra"].get("kind")
        record("incremental after 1% scattered", [elapsed],
               f"{scattered:,} rows; {manifest['size_bytes'] / MIB:.1f} MiB, "
               f"{manifest['extra'].get('pages_stored', 0):,} pages ({kind})")
        times["_scattered_size"] = [manifest["size_bytes"]]
        if full_size is None:
            full_size = main_project.manifest(base_id)["size_bytes"]

    if has_incremental and "f" in only:
        shutil.rmtree(main_project.folder / "backups", ignore_errors=True)
        chain = Project(run / "chain", source, mig)
        shutil.rmtree(main_project.folder)  # room on the disk
        chain.create("incremental")
        tip = ""
        for i in range(10):
            change_contiguous(chain.db, 0.01, 100 + i)
            _, tip = chain.create("incremental")
        depth = chain.manifest(tip)["extra"].get("depth")
        record("restore chain tip (base + 10)", repeat(
            args.repeat, lambda _: chain.time("backup", "restore", tip, "--yes")),
            f"depth {depth}")
        config = chain.folder / "mig.toml"
        plain = config.read_text()
        config.write_text(plain + '\n[mig.options.incremental]\ncheck = "pages"\n')
        record("restore chain tip, check = pages", repeat(
            args.repeat, lambda _: chain.time("backup", "restore", tip, "--yes")))
        config.write_text(plain)
        if has_full:
            _, same = chain.create("full")
            record("restore full of the same state", repeat(
                args.repeat, lambda _: chain.time("backup", "restore", same, "--yes")))
        shutil.rmtree(chain.folder)

    if has_incremental and "g" in only:
        small = cached_database(args.small_mb)
        projects = {}
        for backup in ("none", "incremental"):
            folder = run / f"up-{backup}"
            projects[backup] = folder
        results: dict[str, list[float]] = {"none": [], "incremental": []}
        for i in range(args.repeat):
            for backup, folder in projects.items():
                shutil.rmtree(folder, ignore_errors=True)
                p = Project(folder, small, mig, backup)
                for k in range(1, args.migrations + 1):
                    (folder / "migrations" / f"{k:04d}_step_{k}.sql").write_text(
                        f"-- @name: Step {k}\n\n-- UP\n"
                        f"CREATE TABLE step_{k} (id INTEGER PRIMARY KEY, note TEXT);\n"
                        f"INSERT INTO step_{k} (note) VALUES ('row one'), ('row two');\n"
                        f"UPDATE orders SET status = 'step {k}' WHERE id = {k * 97};\n\n"
                        f"-- DOWN\nDROP TABLE step_{k};\n")
                results[backup].append(p.time("up"))
                if backup == "incremental" and i == args.repeat - 1:
                    listed = json.loads(subprocess.run(
                        p.cmd("backup", "list", "--json"), cwd=folder, capture_output=True,
                        text=True).stdout)
                    total = sum(b["size_bytes"] for b in listed)
                    notes["_g"] = (f"{len(listed)} backups, {total / MIB:.1f} MiB in all,"
                                   f" {sum(1 for b in listed if b['parent_id'])} with a parent")
        record(f"mig up x{args.migrations}, backup none", results["none"])
        record(f"mig up x{args.migrations}, incremental", results["incremental"],
               notes.get("_g", ""))
        for folder in projects.values():
            shutil.rmtree(folder, ignore_errors=True)

    report(times, notes, size, full_size, args)
    shutil.rmtree(run, ignore_errors=True)


def report(times: dict[str, list[float]], notes: dict[str, str], size: int,
           full_size: int | None, args: argparse.Namespace) -> None:
    mb = size / MIB
    cp = median(times["cp"]) if "cp" in times else None
    dot = median(times[".backup"]) if ".backup" in times else None
    rows: list[Row] = []

    def add(key: str, label: str, vs: str = "", target: str = "", ok: bool | None = None,
            moved: float | None = mb) -> None:
        if key not in times:
            return
        t = median(times[key])
        speed = f"{moved / t:,.0f}" if moved else ""
        verdict = "" if ok is None else ("yes" if ok else "NO")
        rows.append([label, f"{t:.3f}", speed, vs, target, verdict, fmt_runs(times[key])])

    add("cp", "(a) cp", "1.00x cp")
    add("cp + sync", "    cp + sync (for reference)",
        f"{cp / median(times['cp + sync']):.2f}x cp" if cp else "")
    add(".backup", "(b) sqlite3 .backup", f"{cp / dot:.2f}x cp" if cp and dot else "")
    for key, label in (("mig backup create --type full", "(c) mig backup create --type full"),
                       ("mig backup restore (full)", "(d) mig backup restore (full)")):
        if key in times and cp and dot:
            t = median(times[key])
            ok = cp / t >= 0.8 and t <= dot
            add(key, label, f"{cp / t:.2f}x cp, {t / dot:.2f}x .backup",
                ">= 0.8x cp, <= .backup", ok)
    full_t = median(times["mig backup create --type full"]) if (
        "mig backup create --type full" in times) else None
    add("incremental: base", "(e) incremental: the base")
    if "incremental after 1% of rows" in times:
        t = median(times["incremental after 1% of rows"])
        size_ratio = times["_incr_size"][0] / full_size if full_size else None
        vs = (f"{t / full_t:.0%} of full time" if full_t else "no full backup to compare") + (
            f", {size_ratio:.1%} of its size" if size_ratio is not None else "")
        ok = (t <= 0.25 * full_t and size_ratio <= 0.03) if full_t and size_ratio else None
        add("incremental after 1% of rows", "(e) incremental, 1% rows changed", vs,
            "<= 25% time, <= 3% size", ok)
        rows[-1][2] += " (scan)"
    if "incremental after 1% scattered" in times:
        t = median(times["incremental after 1% scattered"])
        s = times["_scattered_size"][0] / full_size if full_size else None
        add("incremental after 1% scattered", "    incremental, 1% rows scattered",
            (f"{t / full_t:.0%} of full time" if full_t else "")
            + (f", {s:.1%} of its size" if s is not None else ""), "(worst case, no target)")
    if "restore chain tip (base + 10)" in times:
        t = median(times["restore chain tip (base + 10)"])
        full_r = times.get("restore full of the same state")
        ratio = t / median(full_r) if full_r else None
        add("restore chain tip (base + 10)", "(f) restore base + 10 increments",
            f"{ratio:.2f}x full restore" if ratio else "", "<= 1.5x full restore",
            ratio <= 1.5 if ratio else None)
        if "restore chain tip, check = pages" in times:
            t2 = median(times["restore chain tip, check = pages"])
            add("restore chain tip, check = pages", "    the same, check = \"pages\"",
                f"{t2 / median(full_r):.2f}x full restore" if full_r else "",
                "(no quick_check)")
        add("restore full of the same state", "    restore full of the same state")
    none_key = f"mig up x{args.migrations}, backup none"
    incr_key = f"mig up x{args.migrations}, incremental"
    if none_key in times and incr_key in times:
        a, b = median(times[none_key]), median(times[incr_key])
        per = (b - a) / args.migrations * 1000
        add(none_key, f"(g) mig up x{args.migrations}, backup none", moved=None)
        add(incr_key, f"(g) mig up x{args.migrations}, incremental",
            f"+{per:.1f} ms per migration", moved=None)
    print()
    print_table(["measure", "median s", "MB/s", "compared", "target", "met", "runs (s)"], rows)
    for key, note in notes.items():
        if not key.startswith("_"):
            print(f"  {key}: {note}")
    if "_g" in notes:
        print(f"  (g): {notes['_g']} (database {args.small_mb} MiB)")
    print(f"\nMB/s = database size ({mb:,.0f} MiB) / median time. Warm page cache throughout;"
          " every mig figure is a whole command (start-up, checksums, fsyncs included).")


if __name__ == "__main__":
    main()
