"""How long ``schema_snapshot()`` takes on a schema of many tables, per dialect.

Each table has five columns (a primary key, a NOT NULL column with a default, a foreign key
to the first table) and one index. The snapshot is taken in process on an open connection
(the way the engine takes it after a run), ``--repeat`` times; the median and the fastest are
printed with the snapshot's size. The server databases are fresh (CREATE DATABASE, dropped
afterwards) on MIG_BENCH_POSTGRES / MIG_BENCH_MYSQL (defaults: the test servers); a server
that cannot be reached is reported and skipped.

    python benchmarks/bench_snapshot.py [--sqlite 500] [--postgres 200] [--mysql 200]
        [--repeat 5]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from _common import fresh_run_dir

POSTGRES = os.environ.get("MIG_BENCH_POSTGRES", "postgresql://postgres@127.0.0.1:5432/test")
MYSQL = os.environ.get("MIG_BENCH_MYSQL", "mysql://root@127.0.0.1:3306/test")


def ddl(count: int, int_type: str) -> list[str]:
    statements = []
    for i in range(count):
        ref = "" if i == 0 else " REFERENCES t00000 (id)"
        statements += [
            f"CREATE TABLE t{i:05d} (id {int_type} PRIMARY KEY, name VARCHAR(100) NOT NULL"
            f" DEFAULT 'x', parent {int_type}{ref}, amount DECIMAL(10, 2), note TEXT)",
            f"CREATE INDEX i{i:05d} ON t{i:05d} (name)",
        ]
    return statements


def with_database(url: str, dialect_class: Any, quote: str) -> Callable[[], Any]:
    @contextmanager
    def database() -> Iterator[Any]:
        admin = dialect_class(url, base_dir=Path.cwd(), options={})
        admin.connect()
        name = f"mig_bench_{uuid.uuid4().hex[:10]}"
        admin.execute(f"CREATE DATABASE {quote}{name}{quote}")
        dialect = dialect_class(
            urlunsplit(urlsplit(url)._replace(path=f"/{name}")), base_dir=Path.cwd(), options={}
        )
        try:
            dialect.connect()
            yield dialect
        finally:
            dialect.close()
            drop = f"DROP DATABASE IF EXISTS {quote}{name}{quote}"
            admin.execute(drop + (" WITH (FORCE)" if quote == '"' else ""))
            admin.close()

    return database


def measure(label: str, dialect: Any, statements: list[str], repeat: int) -> None:
    for statement in statements:
        dialect.execute(statement)
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        snap = dialect.schema_snapshot()
        times.append(time.perf_counter() - start)
    size = len(json.dumps(snap))
    print(
        f"{label:<28} {len(snap['tables']):>5} tables {len(snap['indexes']):>5} indexes"
        f"  median {statistics.median(times) * 1000:8.1f} ms  best {min(times) * 1000:8.1f} ms"
        f"  ({size / 1024:.0f} KiB of JSON)",
        flush=True,
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sqlite", type=int, default=500)
    parser.add_argument("--postgres", type=int, default=200)
    parser.add_argument("--mysql", type=int, default=200)
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()

    from mig_sqlite import SQLiteDialect

    run = fresh_run_dir("snapshot")
    sqlite = SQLiteDialect("sqlite:///bench.db", base_dir=run, options={})
    sqlite.connect()
    measure(f"sqlite ({args.sqlite} tables)", sqlite, ddl(args.sqlite, "INTEGER"), args.repeat)
    sqlite.close()

    servers = []
    if args.postgres:
        from mig_postgres import PostgresDialect

        servers.append(("postgres", POSTGRES, PostgresDialect, '"', args.postgres, "INTEGER"))
    if args.mysql:
        from mig_mysql import MySQLDialect

        servers.append(("mysql", MYSQL, MySQLDialect, "`", args.mysql, "INT"))
    for name, url, dialect_class, quote, count, int_type in servers:
        try:
            with with_database(url, dialect_class, quote)() as dialect:
                measure(f"{name} ({count} tables)", dialect, ddl(count, int_type), args.repeat)
        except Exception as exc:  # an unreachable server: say so, go on with the others
            print(f"{name}: skipped ({exc})")


if __name__ == "__main__":
    main()
