"""How long `mig up` and `mig down --all` take over N small migrations on SQLite.

Each migration creates a table, adds a column, creates an index and inserts three rows; its
DOWN drops the index and the table. Every tool runs as a whole command (a subprocess, wall
clock), so interpreter start-up and file loading count. Compared with:

- lower bound: one Python process that reads the same .sql files and, per migration, runs
  BEGIN, the statements, one bookkeeping INSERT and COMMIT on a fresh SQLite file with SQLite's
  defaults (rollback journal, synchronous FULL). Nothing per migration can be cheaper and
  still leave each migration durable and recorded.
- yoyo-migrations and Alembic, doing the same work, from the benchmark's own venv.

    python benchmarks/bench_apply.py [--sizes 500,2000] [--repeat 3] [--mig PATH]
                                     [--tools lower,mig,yoyo,alembic]
"""

from __future__ import annotations

import argparse
import shutil
import sqlite3
import textwrap
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from _common import (
    ensure_venv,
    find_mig,
    fmt_runs,
    fresh_run_dir,
    interpreter_of,
    median,
    print_table,
    timed_cpu,
    venv_bin,
    write_migrations,
)

TARGETS = {500: 1.15, 2000: 1.08}  # mig / lower bound, both directions (issue 8)
TOOLS = ("lower", "mig", "yoyo", "alembic")


# -- the migrations ------------------------------------------------------------------------------

def up_sql(i: int) -> list[str]:
    t = f"bench_{i:05d}"
    return [
        f"CREATE TABLE {t} (id INTEGER PRIMARY KEY, name TEXT NOT NULL,"
        " created_at TEXT NOT NULL DEFAULT CURRENT_TIMESTAMP)",
        f"ALTER TABLE {t} ADD COLUMN score INTEGER NOT NULL DEFAULT 0",
        f"CREATE INDEX idx_{t}_name ON {t}(name)",
        f"INSERT INTO {t} (name, score) VALUES ('alpha', 1)",
        f"INSERT INTO {t} (name, score) VALUES ('beta', 2)",
        f"INSERT INTO {t} (name, score) VALUES ('gamma', 3)",
    ]


def down_sql(i: int) -> list[str]:
    t = f"bench_{i:05d}"
    return [f"DROP INDEX IF EXISTS idx_{t}_name", f"DROP TABLE IF EXISTS {t}"]


def write_mig(folder: Path, n: int) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "mig.toml").write_text(textwrap.dedent("""\
        [mig]
        database = "sqlite:///bench.db"
        migrations_dir = "migrations"
        backups_dir = "backups"
        backup = "none"
        rollback = "down"
        """))
    write_migrations(folder, n, up_sql, down_sql)


# Reads mig's own .sql files; the generated SQL has no ';' inside strings or comments.
LOWER_BOUND = '''\
import datetime, sqlite3, sys
from pathlib import Path

direction, folder, db = sys.argv[1:4]
files = sorted(Path(folder).glob("*.sql"), reverse=direction == "down")
conn = sqlite3.connect(db, isolation_level=None)
conn.execute("CREATE TABLE IF NOT EXISTS history (id INTEGER PRIMARY KEY,"
             " migration TEXT NOT NULL, direction TEXT NOT NULL, at TEXT NOT NULL)")
for f in files:
    up, _, down = f.read_text().partition("-- DOWN")
    sql = up.partition("-- UP")[2] if direction == "up" else down
    conn.execute("BEGIN")
    for stmt in sql.split(";"):
        if stmt.strip():
            conn.execute(stmt)
    conn.execute("INSERT INTO history (migration, direction, at) VALUES (?, ?, ?)",
                 (f.stem, direction, datetime.datetime.now(datetime.UTC).isoformat()))
    conn.execute("COMMIT")
conn.close()
'''


def write_yoyo(folder: Path, n: int) -> None:
    # One step per statement; yoyo rolls steps back in reverse, so DROP INDEX runs before
    # DROP TABLE, as in the DOWN section.
    (folder / "migrations").mkdir(parents=True)
    for i in range(1, n + 1):
        up, (drop_index, drop_table) = up_sql(i), down_sql(i)
        rollbacks = [drop_table, None, drop_index, None, None, None]
        steps = ",\n".join(
            f"    step({u!r}, {r!r})" if r else f"    step({u!r})"
            for u, r in zip(up, rollbacks, strict=True)
        )
        (folder / "migrations" / f"{i:05d}_bench_{i}.py").write_text(
            f"from yoyo import step\n\nsteps = [\n{steps},\n]\n"
        )


ALEMBIC_INI = """\
[alembic]
script_location = %(here)s
sqlalchemy.url = sqlite:///%(here)s/bench.db
"""

# SQLAlchemy's documented recipe for real transactions on pysqlite (the driver's implicit
# transactions would otherwise commit each DDL statement on its own), so that each revision
# runs in one transaction with its alembic_version update, as mig and the lower bound do.
ALEMBIC_ENV = """\
from alembic import context
from sqlalchemy import engine_from_config, event, pool

config = context.config
engine = engine_from_config(
    config.get_section(config.config_ini_section), prefix="sqlalchemy.", poolclass=pool.NullPool
)


@event.listens_for(engine, "connect")
def _connect(dbapi_connection, _record):
    dbapi_connection.isolation_level = None


@event.listens_for(engine, "begin")
def _begin(conn):
    conn.exec_driver_sql("BEGIN")


with engine.connect() as connection:
    context.configure(
        connection=connection, transaction_per_migration=True, transactional_ddl=True
    )
    with context.begin_transaction():
        context.run_migrations()
"""


def write_alembic(folder: Path, n: int) -> None:
    (folder / "versions").mkdir(parents=True)
    (folder / "alembic.ini").write_text(ALEMBIC_INI)
    (folder / "env.py").write_text(ALEMBIC_ENV)
    for i in range(1, n + 1):
        down_rev = repr(f"r{i - 1:05d}") if i > 1 else "None"
        ups = "\n".join(f"    op.execute({s!r})" for s in up_sql(i))
        downs = "\n".join(f"    op.execute({s!r})" for s in down_sql(i))
        (folder / "versions" / f"r{i:05d}_bench_{i}.py").write_text(
            f"from alembic import op\n\nrevision = 'r{i:05d}'\ndown_revision = {down_rev}\n"
            f"branch_labels = None\ndepends_on = None\n\n\n"
            f"def upgrade():\n{ups}\n\n\ndef downgrade():\n{downs}\n"
        )


# -- running -------------------------------------------------------------------------------------

@dataclass
class Tool:
    """One tool's folder, database and its up and down commands."""

    name: str
    folder: Path
    db: Path
    up: list[str]
    down: list[str]

    def reset(self) -> None:
        for p in self.folder.glob(self.db.name + "*"):  # the file, its journal, mig's lock
            p.unlink()

    def bench_tables(self) -> int:
        conn = sqlite3.connect(self.db)
        try:
            (count,) = conn.execute(
                "SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name LIKE 'bench_%'"
            ).fetchone()
        finally:
            conn.close()
        return count


def make_tools(run: Path, n: int, mig: str, wanted: list[str]) -> list[Tool]:
    base = run / f"n{n}"
    mig_dir = base / "mig"
    write_mig(mig_dir, n)  # the lower bound reads these files too

    def lower() -> Tool:
        folder = base / "lower"
        folder.mkdir()
        script = folder / "lower_bound.py"
        script.write_text(LOWER_BOUND)
        py, db = interpreter_of(mig), folder / "bench.db"
        args = [str(mig_dir / "migrations"), str(db)]
        return Tool("lower bound", folder, db,
                    [py, str(script), "up", *args], [py, str(script), "down", *args])

    def mig_() -> Tool:
        return Tool("mig", mig_dir, mig_dir / "bench.db",
                    [mig, "up"], [mig, "down", "--all", "--yes"])

    def yoyo() -> Tool:
        folder = base / "yoyo"
        write_yoyo(folder, n)
        db = folder / "bench.db"
        common = ["--batch", "--no-config-file", "--database", f"sqlite:///{db}",
                  str(folder / "migrations")]
        return Tool("yoyo", folder, db, [str(venv_bin("yoyo")), "apply", *common],
                    [str(venv_bin("yoyo")), "rollback", "--all", *common])

    def alembic() -> Tool:
        folder = base / "alembic"
        write_alembic(folder, n)
        cfg = ["-c", str(folder / "alembic.ini")]
        exe = str(venv_bin("alembic"))
        return Tool("alembic", folder, folder / "bench.db",
                    [exe, *cfg, "upgrade", "head"], [exe, *cfg, "downgrade", "base"])

    tools: dict[str, Callable[[], Tool]] = {
        "lower": lower, "mig": mig_, "yoyo": yoyo, "alembic": alembic,
    }
    return [tools[name]() for name in TOOLS if name in wanted]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--sizes", default="500,2000", help="comma-separated N (default 500,2000)")
    ap.add_argument("--repeat", type=int, default=3, help="runs per tool, size and direction")
    ap.add_argument("--mig", help="the mig executable (default: mig on PATH)")
    ap.add_argument("--tools", default=",".join(TOOLS), help="subset of " + ",".join(TOOLS))
    ap.add_argument("--nosync", action="store_true",
                    help="diagnostic: run every command under eatmydata (fsync becomes a no-op),"
                         " to see the CPU-side cost without the disk's noise")
    args = ap.parse_args()
    sizes = [int(s) for s in args.sizes.split(",")]
    wanted = [t.strip() for t in args.tools.split(",")]
    if "lower" not in wanted:
        wanted.insert(0, "lower")  # the ratios need it
    mig = find_mig(args.mig)
    prefix = []
    if args.nosync:
        if not shutil.which("eatmydata"):
            raise SystemExit("--nosync needs eatmydata on PATH (apt-get install eatmydata)")
        prefix = ["eatmydata"]
    if {"yoyo", "alembic"} & set(wanted):
        ensure_venv()
    run = fresh_run_dir("apply")
    print(f"mig: {mig}   work folder: {run}   repeat: {args.repeat}"
          + ("   NOSYNC (eatmydata): not the target measurement" if prefix else ""), flush=True)

    wall: dict[tuple[str, int, str], list[float]] = {}
    cpu: dict[tuple[str, int, str], list[float]] = {}
    for n in sizes:
        tools = make_tools(run, n, mig, wanted)
        for rep in range(1, args.repeat + 1):
            # Tools take turns within each repetition, so a slow spell of the disk is shared.
            for tool in tools:
                tool.reset()
                line = f"  N={n} run {rep}: {tool.name:<11}"
                for direction, cmd, tables in (("up", tool.up, n), ("down", tool.down, 0)):
                    w, c = timed_cpu(prefix + cmd, cwd=tool.folder)
                    if tool.bench_tables() != tables:
                        raise SystemExit(f"{tool.name} {direction} left {tool.bench_tables()}"
                                         f" bench tables, expected {tables}")
                    wall.setdefault((tool.name, n, direction), []).append(w)
                    cpu.setdefault((tool.name, n, direction), []).append(c)
                    line += f"  {direction} {w:7.3f}s (cpu {c:6.3f}s)"
                print(line, flush=True)

    rows = []
    for n in sizes:
        for direction in ("up", "down"):
            floor = median(wall[("lower bound", n, direction)])
            cpu_floor = median(cpu[("lower bound", n, direction)])
            for name in ("lower bound", "mig", "yoyo", "alembic"):
                runs = wall.get((name, n, direction))
                if not runs:
                    continue
                med, cpu_med = median(runs), median(cpu[(name, n, direction)])
                target = f"<= {TARGETS[n]:.2f}x" if name == "mig" and n in TARGETS else ""
                rows.append([name, str(n), "up" if direction == "up" else "down --all",
                             f"{med:.3f}", f"{med / n * 1000:.2f}", f"{med / floor:.2f}x",
                             target, f"{cpu_med:.3f}", f"{cpu_med / cpu_floor:.2f}x",
                             fmt_runs(runs)])
    print()
    print_table(["tool", "N", "direction", "median s", "ms/migr", "vs lower", "target",
                 "cpu s", "cpu vs lower", "runs (s)"], rows)
    print("\nvs lower: median wall clock / the lower bound's (the targeted figure);"
          " cpu: user+system seconds, without the time spent waiting on fsync.")


if __name__ == "__main__":
    main()
