"""How long `mig test` takes over N small migrations on SQLite, against `mig up` followed by
`mig down --all` of the same migrations (the target: at most 3x).

The migrations are bench_apply.py's: each creates a table, adds a column, creates an index and
inserts three rows; its DOWN drops the index and the table. `mig test` applies each one, rolls
it back, compares the schema and applies it again, on a scratch database of its own; the
baseline is the two commands a person would run by hand on a fresh database. Both sides run
as whole commands (a subprocess, wall clock) and take turns within each repetition, so a slow
spell of the disk is shared.

    python benchmarks/bench_migtest.py [--count 500] [--repeat 3] [--mig PATH]
"""

from __future__ import annotations

import argparse

from _common import find_mig, fmt_runs, fresh_run_dir, median, print_table, timed_cpu
from bench_apply import write_mig

TARGET = 3.0


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--count", type=int, default=500, help="migrations (default 500)")
    ap.add_argument("--repeat", type=int, default=3, help="runs of each side (default 3)")
    ap.add_argument("--mig", help="the mig executable (default: mig on PATH)")
    args = ap.parse_args()
    mig = find_mig(args.mig)
    run = fresh_run_dir("migtest")
    write_mig(run, args.count)
    db = run / "bench.db"
    print(f"mig: {mig}   work folder: {run}   N={args.count}   repeat: {args.repeat}",
          flush=True)

    wall: dict[str, list[float]] = {}
    cpu: dict[str, list[float]] = {}
    for rep in range(1, args.repeat + 1):
        db.unlink(missing_ok=True)
        up, up_cpu = timed_cpu([mig, "up"], cwd=run)
        down, down_cpu = timed_cpu([mig, "down", "--all", "--yes"], cwd=run)
        db.unlink(missing_ok=True)
        test, test_cpu = timed_cpu([mig, "test"], cwd=run)
        if db.exists():
            raise SystemExit("mig test created the configured database")
        for name, w, c in (("mig up", up, up_cpu), ("mig down --all", down, down_cpu),
                           ("up + down --all", up + down, up_cpu + down_cpu),
                           ("mig test", test, test_cpu)):
            wall.setdefault(name, []).append(w)
            cpu.setdefault(name, []).append(c)
        print(f"  run {rep}: up {up:7.3f}s  down --all {down:7.3f}s  test {test:7.3f}s"
              f"  (test / (up + down) = {test / (up + down):.2f}x)", flush=True)

    base, base_cpu = median(wall["up + down --all"]), median(cpu["up + down --all"])
    rows = []
    for name in ("mig up", "mig down --all", "up + down --all", "mig test"):
        med, cpu_med = median(wall[name]), median(cpu[name])
        rows.append([name, f"{med:.3f}", f"{med / base:.2f}x",
                     f"<= {TARGET:.1f}x" if name == "mig test" else "",
                     f"{cpu_med:.3f}", f"{cpu_med / base_cpu:.2f}x", fmt_runs(wall[name])])
    print()
    print_table(["command", "median s", "vs up+down", "target", "cpu s", "cpu vs up+down",
                 "runs (s)"], rows)
    print("\nvs up+down: median wall clock / the median of `mig up` + `mig down --all`;"
          " cpu: user+system seconds, without the time spent waiting on fsync.")


if __name__ == "__main__":
    main()
