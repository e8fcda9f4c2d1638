"""Backups of a ~1 GiB SQLite database into an S3 bucket (a local moto server) against the
local directory target and a plain file copy, with the peak memory of each mig command.

Every figure is a whole command run as a subprocess (start-up, plugin loading, boto3,
checksums, the transfer). Per repetition, on a warm page cache and after an untimed ``sync``:

    cp DB copy / cp + sync              the local file copy of the same size (the yardstick)
    mig backup create --type full       storage = "local"  and  storage = "s3"
    mig backup restore ID --yes         of each

Peak RSS is ``ru_maxrss`` of each mig process alone (``os.wait4`` on its pid, started from a
small trampoline process; the figure ``/usr/bin/time -v`` prints as "Maximum resident set
size"). A backup held in memory would
show as an RSS above the database's size; streaming keeps it near the interpreter's own.

The S3 endpoint is moto's standalone server (an emulator, written in Python) started by this
script in its own process on 127.0.0.1, so its memory is not counted in mig's and its speed,
not S3's, bounds the S3 figures. Fake credentials are set in the environment.

    python benchmarks/bench_s3.py [--size-mb 1024] [--repeat 3] [--part-size-mb 8]
                                  [--mig PATH] [--endpoint URL --bucket NAME]

``--endpoint``/``--bucket`` measure an existing endpoint instead (credentials from the
environment). The database is the one bench_backup.py generates, cached in benchmarks/.work/.
"""

from __future__ import annotations

import argparse
import os
import shutil
import socket
import subprocess
import sys
import textwrap
import time
import uuid
from pathlib import Path

from _common import find_mig, fmt_runs, fresh_run_dir, median, print_table
from bench_backup import cached_database

MIB = 1024 * 1024


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def start_moto() -> tuple[subprocess.Popen[bytes], str]:
    port = free_port()
    server = shutil.which("moto_server") or "moto_server"
    proc = subprocess.Popen([server, "-H", "127.0.0.1", "-p", str(port)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return proc, f"http://127.0.0.1:{port}"
        except OSError:
            time.sleep(0.2)
    proc.kill()
    raise SystemExit("moto_server did not start (pip install 'moto[server]')")


#: Runs a command and writes its peak RSS (KiB) to a file. A forked child's maxrss starts at
#: its parent's RSS (Linux keeps the pre-exec high-water mark), so the command is started by
#: this small interpreter, not by the benchmark (which may hold SQLite's cache from generating
#: the database): the floor is this trampoline's ~10 MiB, below any mig command's own.
TRAMPOLINE = (
    "import os, subprocess, sys\n"
    "proc = subprocess.Popen(sys.argv[2:])\n"
    "_, status, usage = os.wait4(proc.pid, 0)\n"
    "cpu = usage.ru_utime + usage.ru_stime\n"
    "open(sys.argv[1], 'w').write(f'{usage.ru_maxrss} {cpu}')\n"
    "sys.exit(os.waitstatus_to_exitcode(status))\n"
)


def run_measured(cmd: list[str], cwd: Path) -> tuple[float, int, float, str]:
    """Wall seconds, peak RSS (bytes) and CPU seconds of the command's process alone, and
    its stdout."""
    os.sync()
    out_path, err_path, rss_path = (cwd / f".bench-{n}" for n in ("out", "err", "rss"))
    with out_path.open("wb") as out, err_path.open("wb") as err:
        start = time.perf_counter()
        code = subprocess.call([sys.executable, "-c", TRAMPOLINE, str(rss_path), *cmd],
                               cwd=cwd, stdin=subprocess.DEVNULL, stdout=out, stderr=err)
        elapsed = time.perf_counter() - start
    if code:
        raise SystemExit(f"failed ({code}): {' '.join(cmd)}\n{err_path.read_text()[-2000:]}")
    rss, cpu = rss_path.read_text().split()
    return elapsed, int(rss) * 1024, float(cpu), out_path.read_text()


def project(folder: Path, source: Path, storage: str, options: str = "") -> Path:
    folder.mkdir(parents=True)
    (folder / "migrations").mkdir()
    (folder / "mig.toml").write_text(textwrap.dedent(f"""\
        [mig]
        database = "sqlite:///bench.db"
        migrations_dir = "migrations"
        backups_dir = "backups"
        backup = "full"
        storage = "{storage}"
        lock_timeout = 60
        """) + options)
    subprocess.run(["cp", str(source), str(folder / "bench.db")], check=True)
    return folder


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--size-mb", type=int, default=1024)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--part-size-mb", type=int, default=8)
    ap.add_argument("--mig")
    ap.add_argument("--endpoint", help="an existing S3 endpoint instead of a moto server")
    ap.add_argument("--bucket", help="with --endpoint: an existing bucket")
    args = ap.parse_args()
    mig = find_mig(args.mig)
    source = cached_database(args.size_mb)
    size = source.stat().st_size
    run = fresh_run_dir("s3")

    server = None
    if args.endpoint:
        endpoint, bucket = args.endpoint, args.bucket or sys.exit("--endpoint needs --bucket")
    else:
        for name, value in {"AWS_ACCESS_KEY_ID": "bench", "AWS_SECRET_ACCESS_KEY": "bench",
                            "AWS_EC2_METADATA_DISABLED": "true"}.items():
            os.environ[name] = value
        server, endpoint = start_moto()
        bucket = f"mig-bench-{uuid.uuid4().hex[:8]}"
    import boto3

    s3 = boto3.client("s3", endpoint_url=endpoint, region_name="us-east-1")
    if server is not None:
        s3.create_bucket(Bucket=bucket)
    prefix = f"bench-{uuid.uuid4().hex[:8]}"
    options = textwrap.dedent(f"""
        [mig.options.s3]
        bucket = "{bucket}"
        prefix = "{prefix}"
        endpoint_url = "{endpoint}"
        region = "us-east-1"
        part_size_mb = {args.part_size_mb}
        """)
    print(f"mig: {mig}   database: {size / MIB:,.0f} MiB   repeat: {args.repeat}   endpoint: "
          f"{endpoint} ({'moto, local emulator' if server else 'given'})   part size: "
          f"{args.part_size_mb} MiB", flush=True)

    local = project(run / "local", source, "local")
    remote = project(run / "s3", source, "s3", options)
    times: dict[str, list[float]] = {}
    rss: dict[str, list[int]] = {}
    cpus: dict[str, list[float]] = {}

    def record(key: str, seconds: float, peak: int = 0, cpu: float = 0.0) -> None:
        times.setdefault(key, []).append(seconds)
        if peak:
            rss.setdefault(key, []).append(peak)
            cpus.setdefault(key, []).append(cpu)
        extra = f"   peak RSS {peak / MIB:,.1f} MiB   CPU {cpu:.2f} s" if peak else ""
        print(f"  {key:<28} {seconds:7.2f} s{extra}", flush=True)

    try:
        for i in range(args.repeat):
            print(f"run {i + 1}/{args.repeat}", flush=True)
            copy = run / "copy.db"
            os.sync()
            start = time.perf_counter()
            subprocess.run(["cp", str(source), str(copy)], check=True)
            record("cp", time.perf_counter() - start)
            copy.unlink()
            os.sync()
            start = time.perf_counter()
            subprocess.run(["cp", str(source), str(copy)], check=True)
            subprocess.run(["sync", str(copy)], check=True)
            record("cp + sync", time.perf_counter() - start)
            copy.unlink()
            for name, folder in (("local", local), ("s3", remote)):
                seconds, peak, cpu, out = run_measured(
                    [mig, "backup", "create", "--type", "full"], folder)
                backup_id = out.strip().splitlines()[-1]
                record(f"{name}: backup create", seconds, peak, cpu)
                seconds, peak, cpu, _ = run_measured(
                    [mig, "backup", "restore", backup_id, "--yes"], folder)
                record(f"{name}: backup restore", seconds, peak, cpu)
                run_measured([mig, "backup", "prune", "--keep-count", "0", "--keep-days", "0"],
                             folder)
    finally:
        if server is not None:
            server.terminate()
            server.wait()
        else:
            for page in s3.get_paginator("list_objects_v2").paginate(
                    Bucket=bucket, Prefix=prefix + "/"):
                for obj in page.get("Contents", ()):
                    s3.delete_object(Bucket=bucket, Key=obj["Key"])

    print()
    rows = []
    for key, runs in times.items():
        m = median(runs)
        peaks = rss.get(key)
        rows.append([
            key, f"{m:.2f}", f"{size / MIB / m:,.0f}", f"{m / median(times['cp']):.1f}x",
            f"{max(peaks) / MIB:,.1f}" if peaks else "-",
            f"{median(cpus[key]):.2f}" if peaks else "-", fmt_runs(runs),
        ])
    print_table(["command", "median s", "MiB/s", "vs cp", "peak RSS MiB", "mig CPU s", "runs"],
                rows)
    print(f"\ndatabase {size / MIB:,.0f} MiB; a restore from S3 downloads each part twice "
          "(the core's verification and its copy for the restore run side by side).")


if __name__ == "__main__":
    main()
