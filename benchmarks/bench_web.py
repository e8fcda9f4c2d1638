"""How long `mig serve` takes to build its pages for a project of 2,000 applied migrations.

Generates N small migrations (each creates a table; every third depends on the one before it,
every hundredth also on one fifty back), applies them all (timed once, not the figure), then
starts the web server in this process (uvicorn on 127.0.0.1, a free port) and requests the
status, history and graph pages --repeat times each. The figure is the server time of a page
(the `Server-Timing` header: from the request reaching the app to the response's headers),
median of the runs; the wall clock of the whole request over loopback is shown beside it, and
the CPU time this process (server and client) spent on it, which a busy machine inflates less.
The first request of each page (which fills the caches: parsed files, status) is not counted;
``--cold`` drops the caches before every request. Target: each page under 300 ms.

    python benchmarks/bench_web.py [--count 2000] [--repeat 7] [--cold]
"""

from __future__ import annotations

import argparse
import textwrap
import threading
import time
import urllib.request
from pathlib import Path

from _common import fmt_runs, fresh_run_dir, median, print_table

TARGET_MS = 300.0
PAGES = ("/", "/history", "/graph")
TOKEN = "bench-token"


def mid(i: int) -> str:
    return f"{i:05d}_web_{i}"


def write_project(folder: Path, count: int) -> None:
    migrations = folder / "migrations"
    migrations.mkdir(parents=True)
    (folder / "mig.toml").write_text(textwrap.dedent("""\
        [mig]
        database = "sqlite:///bench.db"
        migrations_dir = "migrations"
        backup = "none"
        """))
    for i in range(1, count + 1):
        deps = [mid(i - 1)] * (i % 3 == 0) + [mid(i - 50)] * (i % 100 == 0)
        (migrations / f"{mid(i)}.sql").write_text(
            f"-- @name: web {i}\n-- @dependencies: {deps}\n".replace("'", '"')
            + f"-- UP\nCREATE TABLE t{i} (id INTEGER PRIMARY KEY, note TEXT);\n"
            + f"-- DOWN\nDROP TABLE t{i};\n")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=2000)
    parser.add_argument("--repeat", type=int, default=7)
    parser.add_argument("--cold", action="store_true", help="no cache between requests")
    args = parser.parse_args()

    import uvicorn
    from mig.config import load_config
    from mig.engine import MigrationEngine
    from mig_web.app import create_app
    from mig_web.server import resolve

    run = fresh_run_dir("web")
    write_project(run, args.count)
    start = time.perf_counter()
    with MigrationEngine.from_config(run / "mig.toml") as eng:
        done = eng.up()
    assert len(done) == args.count, f"applied {len(done)} of {args.count}"
    print(f"applied {args.count} migrations in {time.perf_counter() - start:.1f} s (setup)")

    settings = resolve(load_config(run / "mig.toml"), port=0, environ={"MIG_WEB_TOKEN": TOKEN})
    server = uvicorn.Server(uvicorn.Config(create_app(settings), host="127.0.0.1",
                                           port=settings.port, log_level="warning"))
    web = server.config.app.state.web if hasattr(server.config.app, "state") else None
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    while not server.started:
        time.sleep(0.02)
    base = f"http://127.0.0.1:{settings.port}"
    rows = []
    try:
        for page in PAGES:
            server_ms, wall_ms, cpu_ms, size = [], [], [], 0
            for i in range(args.repeat + 1):  # the first request warms the caches: not counted
                if args.cold and web is not None:
                    web.forget()
                req = urllib.request.Request(base + page,
                                             headers={"Authorization": f"Bearer {TOKEN}"})
                t0, c0 = time.perf_counter(), time.process_time()
                with urllib.request.urlopen(req, timeout=120) as resp:
                    body = resp.read()
                    timing = resp.headers["Server-Timing"]
                wall = (time.perf_counter() - t0) * 1000
                cpu = time.process_time() - c0
                assert resp.status == 200 and timing, (page, resp.status)
                if i:
                    server_ms.append(float(timing.split("dur=")[1]) / 1000)
                    wall_ms.append(wall / 1000)
                    cpu_ms.append(cpu)
                size = len(body)
            verdict = "ok" if median(server_ms) * 1000 < TARGET_MS else "OVER TARGET"
            rows.append([page, f"{median(server_ms) * 1000:.0f} ms", fmt_runs(server_ms),
                         f"{median(wall_ms) * 1000:.0f} ms", f"{median(cpu_ms) * 1000:.0f} ms",
                         f"{size / 1024:.0f} KiB", verdict])
    finally:
        server.should_exit = True
        thread.join(10)
    print(f"\n{args.count} applied migrations, {args.repeat} runs per page, target"
          f" < {TARGET_MS:.0f} ms server time\n")
    print_table(["page", "server (median)", "runs (s)", "wall (median)", "CPU (median)", "size",
                 ""], rows)


if __name__ == "__main__":
    main()
