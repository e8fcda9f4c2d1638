"""Backups of a big SQLite database against the durable copy, ``cp`` then ``sync`` (issue 9,
item 10): a backup must reach the disk, so that is its floor, measured in the same run.

Per repetition (each timed step after ``sync``, on a warm page cache):

(1) ``cp DB copy && sync copy``                        the floor
(2) ``mig backup create --type full``                  target <= 1.25x (1)
(3) ``mig backup create --type incremental`` after 1% of the rows changed (a contiguous range),
    on a base taken just before: target <= 20% of (2)
(4) ``mig backup restore`` of the tip of a base + 10 increments, against restoring a full
    backup of the same state: target <= 1.2x; each from an empty page cache when run as root
    (see ``cold_cache``), else with every backup's parts read in first
(5) ``mig up`` of --migrations small migrations with the default config (``mig init``'s
    ``backup``) against ``backup = "none"``: the cost per migration every ``mig up`` pays

Printed: every run, medians with min-max, and the ratios of the medians.

    python benchmarks/bench_backup_durable.py [--size-mb 1024] [--repeat 5] [--migrations 20]
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import time
from pathlib import Path

from _common import find_mig, fmt_runs, fresh_run_dir, median, timed, write_migrations
from bench_backup import Project, cached_database, change_contiguous, settle


def spread(values: list[float]) -> str:
    return f"median {median(values):.3f} s  (min {min(values):.3f}, max {max(values):.3f})"


def cp_sync(source: Path, dest: Path) -> float:
    dest.unlink(missing_ok=True)
    settle()
    start = time.perf_counter()
    subprocess.run(["cp", str(source), str(dest)], check=True)
    subprocess.run(["sync", str(dest)], check=True)
    elapsed = time.perf_counter() - start
    dest.unlink()
    return elapsed


def cold_cache(project: Project) -> str:
    """Before each timed restore: the page cache emptied where this user may (root: a restore
    usually runs long after its backup, and this machine drops older files from the cache on
    its own, so a chain's base, written first, was often read from disk and a full backup
    written just before was not), else every backup's parts read into it. Either way both
    restores start alike. Returns which."""
    os.sync()
    try:
        Path("/proc/sys/vm/drop_caches").write_text("3\n")
        return "cold"
    except OSError:
        for part in (project.folder / "backups").rglob("*"):
            if part.is_file():
                with part.open("rb") as fh:
                    while fh.read(1 << 24):
                        pass
        return "warm"


def restore_time(project: Project, backup_id: str) -> float:
    cache = cold_cache(project)
    elapsed = timed(project.cmd("backup", "restore", backup_id, "--yes"), cwd=project.folder)
    print(f"    restore {backup_id}: {elapsed:.3f} s ({cache} page cache)", flush=True)
    return elapsed


def per_migration(mig: str, source: Path, run: Path, n: int) -> tuple[list[float], list[float]]:
    """``mig up`` of n small migrations, default config and backup = "none", alternating."""
    folders = {}
    for name in ("default", "none"):
        folder = run / f"up-{name}"
        write_migrations(
            folder, n,
            lambda i: [f"CREATE TABLE bench_{i} (id INTEGER PRIMARY KEY, v TEXT NOT NULL)",
                       f"INSERT INTO bench_{i} (v) VALUES ('one'), ('two')"],
            lambda i: [f"DROP TABLE bench_{i}"],
        )
        subprocess.run([mig, "init"], cwd=folder, check=True, capture_output=True)
        if name == "none":
            toml = folder / "mig.toml"
            text = toml.read_text()
            line = next(x for x in text.splitlines() if x.startswith("backup ="))
            toml.write_text(text.replace(line, 'backup = "none"'))
        folders[name] = folder
    return folders["default"], folders["none"]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--size-mb", type=int, default=1024)
    ap.add_argument("--repeat", type=int, default=5)
    ap.add_argument("--migrations", type=int, default=20)
    ap.add_argument("--mig", help="the mig executable (default: mig on PATH)")
    args = ap.parse_args()
    mig = find_mig(args.mig)
    source = cached_database(args.size_mb)
    run = fresh_run_dir("backup-durable")
    size = source.stat().st_size
    print(f"mig: {mig}   database: {size / 2**20:.0f} MiB   repeat: {args.repeat}")
    floor, full, incr, chain_restore, full_restore = [], [], [], [], []
    up_default, up_none = [], []
    up_dirs = per_migration(mig, source, run, args.migrations)
    for r in range(args.repeat):
        folder = run / f"r{r}"
        project = Project(folder, source, mig, backup="incremental")
        floor.append(cp_sync(project.db, folder / "copy.db"))
        seconds, _ = project.create("full")
        full.append(seconds)
        project.create("incremental")  # the base
        change_contiguous(project.db, 0.01, r)
        seconds, tip = project.create("incremental")
        incr.append(seconds)
        for k in range(9):  # ten increments on the base in all
            change_contiguous(project.db, 0.01, 100 + k)
            _, tip = project.create("incremental")
        _, same = project.create("full")  # the same state, as one full backup
        change_contiguous(project.db, 0.01, 999)
        chain_restore.append(restore_time(project, tip))
        full_restore.append(restore_time(project, same))
        for name, target in (("none", up_none), ("default", up_default)):
            where = up_dirs[1] if name == "none" else up_dirs[0]
            shutil.copyfile(source, where / "app.db")
            shutil.rmtree(where / "backups", ignore_errors=True)
            settle()
            target.append(timed([mig, "up"], cwd=where))
        shutil.rmtree(folder)
        print(f"  run {r + 1}: cp+sync {floor[-1]:.3f}  full {full[-1]:.3f}"
              f"  incremental {incr[-1]:.3f}  restore chain {chain_restore[-1]:.3f}"
              f"  restore full {full_restore[-1]:.3f}  up none {up_none[-1]:.3f}"
              f"  up default {up_default[-1]:.3f}", flush=True)
    print()
    for label, values in (("cp + sync", floor), ("full backup", full),
                          ("incremental (1% rows)", incr), ("restore base+10", chain_restore),
                          ("restore full", full_restore), ("up, backup = none", up_none),
                          ("up, default config", up_default)):
        print(f"{label:<24} {spread(values)}   runs {fmt_runs(values)}")
    print()
    m = median
    print(f"full backup / (cp + sync):        {m(full) / m(floor):.2f}x  (target <= 1.25x)")
    print(f"incremental / full backup:        {m(incr) / m(full):.0%}  (target <= 20%)")
    print(f"restore base+10 / restore full:   {m(chain_restore) / m(full_restore):.2f}x"
          "  (target <= 1.2x)")
    extra = (m(up_default) - m(up_none)) / args.migrations
    print(f"default backups per migration:    {extra * 1000:.0f} ms"
          f" ({m(up_default) / m(up_none):.2f}x the time of backup = none,"
          f" {args.migrations} migrations)")


if __name__ == "__main__":
    main()
