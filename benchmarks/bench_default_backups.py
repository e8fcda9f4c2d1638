"""What the default configuration's backups cost a run: disk written and time.

Issue 9's target: the config `mig init` writes, running `mig up` of 500 small migrations on a
20 MB SQLite database, writes at most 2x the database's size in backups and takes at most 20%
longer than the same run with `backup = "none"`.

Each repetition copies the same generated database (cached in ``.work/``), then runs the two
configurations one after the other (so a slow spell of the disk is shared), each a whole
`mig up` in a subprocess. Printed: every run, the medians, the ratio of the medians, and the
bytes the default run left under `backups/` (the run writes no backup it later deletes:
retention keeps everything younger than 30 days).

    python benchmarks/bench_default_backups.py [--migrations 500] [--size-mb 20] [--repeat 5]
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import time
from pathlib import Path

from _common import WORK, find_mig, fmt_runs, fresh_run_dir, median, timed, write_migrations
from bench_backup import generate


def tree_size(path: Path) -> int:
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file())


def floor_per_backup(db: Path, folder: Path, rounds: int = 50) -> tuple[float, float]:
    """What any durable page-level increment must do per migration, measured here: (1) write
    three small files and make them and their new folder durable (five fsyncs: the parts,
    the manifest, the folder, its parent); (2) read every page of the database and hash it
    (read 4 MiB at a time, XXH3-128 over 256 KiB blocks: the least an increment can read
    when SQLite keeps no per-page change marker). Medians in seconds."""
    import xxhash

    syncs, hashes = [], []
    buf = bytearray(4 << 20)
    for i in range(rounds):
        target = folder / f"floor-{i}"
        start = time.perf_counter()
        target.mkdir()
        for name in ("data", "index", "manifest.json"):
            fd = os.open(target / name, os.O_WRONLY | os.O_CREAT, 0o600)
            os.write(fd, os.urandom(4096))
            os.fsync(fd)
            os.close(fd)
        for where in (target, folder):
            fd = os.open(where, os.O_RDONLY | os.O_DIRECTORY)
            os.fsync(fd)
            os.close(fd)
        syncs.append(time.perf_counter() - start)
        shutil.rmtree(target)
        fd = os.open(db, os.O_RDONLY)
        start = time.perf_counter()
        size, offset = os.fstat(fd).st_size, 0
        while offset < size:
            got = os.preadv(fd, [buf], offset)
            view = memoryview(buf)[:got]
            for block in range(0, got, 256 << 10):
                xxhash.xxh3_128_digest(view[block:block + (256 << 10)])
            offset += got
        hashes.append(time.perf_counter() - start)
        os.close(fd)
    return median(syncs), median(hashes)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--migrations", type=int, default=500)
    ap.add_argument("--size-mb", type=int, default=20)
    ap.add_argument("--repeat", type=int, default=5)
    ap.add_argument("--mig", help="the mig executable (default: mig on PATH)")
    args = ap.parse_args()
    mig = find_mig(args.mig)
    cached = WORK / f"cache-backup-db-{args.size_mb}mb.sqlite"
    if not cached.exists():
        print(f"generating a {args.size_mb} MiB database (first run only) ...")
        generate(cached, args.size_mb)
    run = fresh_run_dir("default-backups")
    db_size = cached.stat().st_size
    print(f"mig: {mig}   database: {db_size / 2**20:.1f} MiB   migrations: {args.migrations}")

    def project(name: str, backup: str | None) -> Path:
        folder = run / name
        write_migrations(
            folder, args.migrations,
            lambda i: [f"CREATE TABLE bench_{i} (id INTEGER PRIMARY KEY, v TEXT NOT NULL)",
                       f"INSERT INTO bench_{i} (v) VALUES ('one'), ('two'), ('three')"],
            lambda i: [f"DROP TABLE bench_{i}"],
        )
        subprocess.run([mig, "init"], cwd=folder, check=True, capture_output=True)
        toml = folder / "mig.toml"
        if backup is not None:
            text = toml.read_text()
            default = next(line for line in text.splitlines() if line.startswith("backup ="))
            toml.write_text(text.replace(default, f'backup = "{backup}"'))
        return folder

    default, none = project("default", None), project("none", "none")
    chosen = next(line for line in (default / "mig.toml").read_text().splitlines()
                  if line.startswith("backup ="))
    print(f"mig init wrote: {chosen}")
    times: dict[str, list[float]] = {"default": [], "none": []}
    sizes: list[int] = []
    for _ in range(args.repeat):
        for name, folder in (("none", none), ("default", default)):
            shutil.copyfile(cached, folder / "app.db")
            shutil.rmtree(folder / "backups", ignore_errors=True)
            (folder / "backups").mkdir(mode=0o700)
            times[name].append(timed([mig, "up"], cwd=folder))
        sizes.append(tree_size(default / "backups"))
        print(f"  none {times['none'][-1]:.3f} s   default {times['default'][-1]:.3f} s"
              f"   backups {sizes[-1] / 2**20:.1f} MiB")
    t_none, t_default = median(times["none"]), median(times["default"])
    size = median([float(s) for s in sizes])
    print()
    print(f"backup = none     median {t_none:.3f} s   runs {fmt_runs(times['none'])}")
    print(f"default config    median {t_default:.3f} s   runs {fmt_runs(times['default'])}")
    print(f"time: {t_default / t_none:.2f}x of backup = none (target <= 1.20x);"
          f" {(t_default - t_none) / args.migrations * 1000:.1f} ms more per migration")
    print(f"disk: {size / 2**20:.1f} MiB of backups = {size / db_size:.2f}x the database"
          " (target <= 2x)")
    syncs, hashing = floor_per_backup(default / "app.db", default / "backups")
    floor = (syncs + hashing) * args.migrations
    print(f"floor per backup, measured now: 5 fsyncs {syncs * 1000:.2f} ms + reading and"
          f" hashing the database {hashing * 1000:.2f} ms; for {args.migrations} migrations"
          f" {floor:.2f} s = {(t_none + floor) / t_none:.2f}x of backup = none at best")


if __name__ == "__main__":
    main()
