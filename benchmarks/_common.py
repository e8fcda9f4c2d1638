"""Helpers shared by the benchmark scripts: timing, the work folder, the comparison venv."""

from __future__ import annotations

import os
import resource
import shutil
import statistics
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path

HERE = Path(__file__).resolve().parent
WORK = HERE / ".work"  # git-ignored
VENV = WORK / "venv"
COMPARED = ("yoyo-migrations", "alembic")

# Every tool runs as its users run it, with compiled bytecode cached: a shell that sets
# PYTHONDONTWRITEBYTECODE would make each command recompile its sources (~40 ms for mig's
# editable install) and measure that instead.
os.environ.pop("PYTHONDONTWRITEBYTECODE", None)


def fresh_run_dir(prefix: str) -> Path:
    """A new empty folder under .work/ for this run; earlier runs of the same script are removed."""
    WORK.mkdir(parents=True, exist_ok=True)
    for old in WORK.glob(f"{prefix}-*"):
        shutil.rmtree(old, ignore_errors=True)
    run = WORK / f"{prefix}-{os.getpid()}"
    run.mkdir()
    return run


def venv_bin(name: str) -> Path:
    return VENV / "bin" / name


def ensure_venv() -> Path:
    """The benchmark's own venv with yoyo and Alembic, created on first use."""
    python = venv_bin("python")
    if not (venv_bin("yoyo").exists() and venv_bin("alembic").exists()):
        print(f"creating {VENV} with {', '.join(COMPARED)} (first run only) ...", flush=True)
        subprocess.run([sys.executable, "-m", "venv", str(VENV)], check=True)
        subprocess.run([str(python), "-m", "pip", "install", "-q", *COMPARED], check=True)
    return python


def find_mig(given: str | None) -> str:
    mig = given or shutil.which("mig")
    if not mig:
        sys.exit("mig is not on PATH: activate the dev venv or pass --mig PATH")
    return str(Path(mig).resolve()) if os.sep in mig else mig


def interpreter_of(script: str) -> str:
    """The Python a console script runs with (its shebang), else this one.

    The lower bound runs on it so both sides pay the same interpreter start-up and the same
    sqlite3 library.
    """
    path = shutil.which(script) or script
    try:
        with open(path, "rb") as f:
            first = f.readline().decode(errors="replace").strip()
    except OSError:
        return sys.executable
    if first.startswith("#!"):
        parts = first[2:].split()
        if parts and "python" in Path(parts[-1]).name and Path(parts[-1]).exists():
            return parts[-1]
        if parts and "python" in Path(parts[0]).name and Path(parts[0]).exists():
            return parts[0]
    return sys.executable


def timed_cpu(cmd: Sequence[str], cwd: Path | None = None) -> tuple[float, float]:
    """Wall-clock seconds of one whole command and the CPU seconds (user + system) it used.

    The CPU figure leaves out time spent waiting for the disk (fsync), which on a shared
    machine varies a lot from run to run. Stops the benchmark if the command fails.
    """
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    proc = subprocess.run(
        list(cmd), cwd=cwd, stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
    )
    elapsed = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if proc.returncode != 0:
        err = proc.stderr.decode(errors="replace").strip()[-2000:]
        raise SystemExit(f"command failed ({proc.returncode}): {' '.join(cmd)}\n{err}")
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return elapsed, cpu


def timed(cmd: Sequence[str], cwd: Path | None = None) -> float:
    """Wall-clock seconds of one whole command; stops the benchmark if it fails."""
    return timed_cpu(cmd, cwd)[0]


def median(values: Sequence[float]) -> float:
    return statistics.median(values)


def fmt_runs(values: Sequence[float]) -> str:
    return " ".join(f"{v:.3f}" for v in values)


def print_table(header: Sequence[str], rows: Sequence[Sequence[str]]) -> None:
    widths = [max(len(str(c)) for c in col) for col in zip(header, *rows, strict=True)]
    line = "  ".join(f"{{:<{w}}}" for w in widths)
    print(line.format(*header))
    print(line.format(*("-" * w for w in widths)))
    for row in rows:
        print(line.format(*row))


def write_migrations(
    folder: Path, n: int, up_sql: Callable[[int], list[str]], down_sql: Callable[[int], list[str]]
) -> None:
    """``folder/migrations``: n mig migration files with the statements of up_sql(i) and
    down_sql(i) (the benchmarks' SQL has no ';' inside strings or comments)."""
    (folder / "migrations").mkdir(parents=True)
    for i in range(1, n + 1):
        body = "\n".join(
            [f"-- @name: Bench {i}", "", "-- UP"]
            + [s + ";" for s in up_sql(i)]
            + ["", "-- DOWN"]
            + [s + ";" for s in down_sql(i)]
        )
        (folder / "migrations" / f"{i:05d}_bench_{i}.sql").write_text(body + "\n")
