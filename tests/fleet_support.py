"""Fleets of SQLite tenant databases for the fleet, Dask and metrics tests (real files)."""

from __future__ import annotations

import contextlib
import json
import os
import sqlite3
import subprocess
import sys
from collections import Counter
from pathlib import Path

CONFIG = """\
[mig]
migrations_dir = "migrations"
backups_dir = "backups"
backup = "{backup}"
lock_timeout = {lock_timeout}

[mig.targets.tenants]
url = "sqlite:///tenants/*.db"
labels = {{ role = "tenant" }}
{extra}"""


def make_fleet(root: Path, targets: int, migrations: int, *, backup: str = "none",
               lock_timeout: float = 10, extra: str = "", slow: int = 0) -> list[Path]:
    """``root/mig.toml`` with a ``tenants`` glob, ``targets`` empty database files and
    ``migrations`` migrations each creating one table (``slow`` rows of busy work each, to
    keep a run going long enough to interrupt it). Returns the database files."""
    (root / "tenants").mkdir(parents=True, exist_ok=True)
    (root / "migrations").mkdir(exist_ok=True)
    (root / "mig.toml").write_text(
        CONFIG.format(backup=backup, lock_timeout=lock_timeout, extra=extra), encoding="utf-8")
    for i in range(1, migrations + 1):
        work = (f"\nCREATE TABLE w{i:03d} AS WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL"
                f" SELECT x + 1 FROM c WHERE x < {slow}) SELECT sum(x) AS s FROM c;"
                if slow else "")
        (root / "migrations" / f"{i:03d}_t{i:03d}.sql").write_text(
            f"-- @name: table {i}\n-- UP\nCREATE TABLE t{i:03d} (id INTEGER PRIMARY KEY);"
            f"{work}\n-- DOWN\nDROP TABLE t{i:03d};{f' DROP TABLE w{i:03d};' if slow else ''}\n",
            encoding="utf-8")
    files = []
    for n in range(targets):
        path = root / "tenants" / f"tenant{n:03d}.db"
        sqlite3.connect(path).close()
        files.append(path)
    return files


def _column(db: Path, sql: str) -> Counter[str]:
    with contextlib.closing(sqlite3.connect(f"file:{db}?mode=ro", uri=True)) as conn:
        if not conn.execute("SELECT 1 FROM sqlite_master WHERE name ="
                            " 'mig_migration_executions'").fetchone():
            return Counter()  # mig never wrote to it
        return Counter(r[0] for r in conn.execute(sql).fetchall())


def applies(db: Path) -> Counter[str]:
    """How many times each migration was applied successfully, from the ledger's rows."""
    return _column(db, "SELECT migration_id FROM mig_migration_executions"
                       " WHERE operation = 'apply' AND status = 'COMPLETED'")


def statuses(db: Path) -> Counter[str]:
    """Executions by status (COMPLETED, FAILED, RUNNING, ...)."""
    return _column(db, "SELECT status FROM mig_migration_executions")


def mig(root: Path, *args: str, timeout: float = 60) -> tuple[int, str, str]:
    """``mig ARGS`` run in ``root``: exit code, stdout, stderr."""
    proc = subprocess.run([sys.executable, "-m", "mig", *args], cwd=root, capture_output=True,
                          text=True, timeout=timeout,
                          env={k: v for k, v in os.environ.items() if k != "MIG_DATABASE"})
    return proc.returncode, proc.stdout, proc.stderr


def break_target(db: Path, version: int) -> None:
    """Make migration ``version`` fail on ``db``: its table is there already."""
    with contextlib.closing(sqlite3.connect(db)) as conn:
        conn.execute(f"CREATE TABLE t{version:03d} (x INTEGER)")
        conn.commit()


def assert_a_rerun_retries_only(root: Path, dbs: list[Path], broken: str,
                                *args: str) -> None:
    """``mig --targets all ARGS up`` again: nothing is applied twice, and only target
    ``broken`` runs anything (and fails again, alone)."""
    code, out, _ = mig(root, "--targets", "all", *args, "up", "--json")
    assert code == 1
    assert [t["target"] for t in json.loads(out)["targets"] if t["executions"]] == [broken]
    assert all(max(applies(db).values()) == 1 for db in dbs)


#: Rows of busy work per migration in the ^C tests: 0.2 s a migration, so the interrupt lands
#: long before a third target could start, even on a loaded machine (at 4 ms a migration all
#: six targets sometimes finished first).
SLOW = 1_000_000


def wait_until_running(dbs: list[Path], timeout: float = 60) -> None:
    """Until one of the first two targets (those a -j 2 fleet starts with) has applied a
    migration."""
    import time

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with contextlib.suppress(sqlite3.Error):
            if sum(applies(dbs[0]).values()) + sum(applies(dbs[1]).values()):
                return
        time.sleep(0.02)


def assert_interrupted_between_targets(code: int, out: str, err: str, dbs: list[Path],
                                       migrations: int) -> None:
    """A ^C'd fleet: exit 1, the rest skipped, and every target whole or untouched, some of
    each."""
    assert code == 1, err
    assert "skipped" in out and "interrupted" in out
    done = [sum(applies(db).values()) for db in dbs]
    assert set(done) <= {0, migrations} and 0 < done.count(migrations) < len(dbs), done
