"""How long `mig --help` takes, against yoyo and Alembic, and what its imports cost.

Times `mig --help` (whole command, wall clock, median of 20 runs; answered from the help
cache of mig.launcher), the same without the cache, `mig status -h` (typer, no plugins),
`mig status` in a new `mig init` + `mig up` project (the engine and every plugin: what each command
pays before its own work), the same with `MIG_NO_CACHE=1` (no cached entry points),
`yoyo --help` and `alembic --help` from the benchmark's venv, and `python -c pass` on mig's
interpreter as the floor. Then prints the 10 imports with the largest cumulative time from
`python -X importtime` for `mig --help`, so an import that creeps in is visible.
Target: mig under 0.08 s (80 ms).

    python benchmarks/bench_startup.py [--repeat 20] [--mig PATH] [--no-compare]
"""

from __future__ import annotations

import argparse
import shutil
import subprocess

from _common import (
    ensure_venv,
    find_mig,
    fmt_runs,
    fresh_run_dir,
    interpreter_of,
    median,
    print_table,
    timed,
    venv_bin,
)

TARGET = 0.08


def import_times(python: str, script: str) -> list[tuple[int, int, str]]:
    """(cumulative µs, self µs, module) for each import `script --help` makes."""
    proc = subprocess.run([python, "-X", "importtime", script, "--help"],
                          stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    out = []
    for line in proc.stderr.splitlines():
        if not line.startswith("import time:") or "cumulative" in line:
            continue
        own, cumulative, module = line[len("import time:"):].split("|", 2)
        out.append((int(cumulative), int(own), module.rstrip()))
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--repeat", type=int, default=20, help="runs per command (default 20)")
    ap.add_argument("--mig", help="the mig executable (default: mig on PATH)")
    ap.add_argument("--no-compare", action="store_true", help="skip yoyo and Alembic")
    args = ap.parse_args()
    mig = find_mig(args.mig)
    python = interpreter_of(mig)

    commands = [("python -c pass (floor)", [python, "-c", "pass"]), ("mig --help", [mig, "--help"]),
                # the help cache turned off: what the first `mig --help` after an install costs
                ("mig --help, no cache", ["env", "MIG_NO_CACHE=1", mig, "--help"]),
                ("mig status -h", [mig, "status", "-h"]),
                ("mig status, empty project", [mig, "status"]),
                ("mig status, no cache", ["env", "MIG_NO_CACHE=1", mig, "status"])]
    project = fresh_run_dir("startup")
    timed([mig, "init"], cwd=project)
    timed([mig, "up"], cwd=project)
    if not args.no_compare:
        ensure_venv()
        commands += [("yoyo --help", [str(venv_bin("yoyo")), "--help"]),
                     ("alembic --help", [str(venv_bin("alembic")), "--help"])]

    rows = []
    for label, cmd in commands:
        timed(cmd, cwd=project)  # warm the page cache and the .pyc files
        runs = [timed(cmd, cwd=project) for _ in range(args.repeat)]
        med = median(runs)
        target = f"< {TARGET:g} s" if label == "mig --help" else ""
        met = ("yes" if med < TARGET else "NO") if target else ""
        rows.append([label, f"{med:.3f}", target, met, fmt_runs(runs)])
    print(f"mig: {mig}   python: {python}   repeat: {args.repeat}\n")
    print_table(["command", "median s", "target", "met", "runs (s)"], rows)

    script = shutil.which(mig) or mig
    imports = sorted(import_times(python, script), reverse=True)
    print(f"\ntop 10 cumulative imports of `mig --help` (python -X importtime, "
          f"{len(imports)} modules):")
    print_table(["cumulative ms", "self ms", "module"],
                [[f"{c / 1000:.1f}", f"{s / 1000:.1f}", m] for c, s, m in imports[:10]])


if __name__ == "__main__":
    main()
