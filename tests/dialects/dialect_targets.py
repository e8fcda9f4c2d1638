"""Databases of every dialect for the cross-dialect suite (see conftest.py): a fresh one per
test, its URL, the example's migrations for it, and helpers that look at it through the
driver directly, never through mig. Extend :class:`DialectTarget` (and its three subclasses)
with what a new test needs, e.g. dumping every table's rows for backup round trips.
"""

from __future__ import annotations

import os
import shutil
import sqlite3
import subprocess
import sys
import uuid
from collections.abc import Sequence
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit, urlunsplit

from mig.testing import Project, server_unavailable

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = {
    "sqlite": ROOT / "migrations",
    "postgres": ROOT / "plugins" / "postgres_dialect" / "example" / "migrations",
    "mysql": ROOT / "plugins" / "mysql_dialect" / "example" / "migrations",
}
SERVER_URLS = {
    "postgres": os.environ.get("MIG_TEST_POSTGRES", "postgresql://postgres@127.0.0.1:5432/test"),
    "mysql": os.environ.get("MIG_TEST_MYSQL", "mysql://root@127.0.0.1:3306/test"),
}
BOOKKEEPING = {
    "mig_migration_metadata", "mig_migration_executions", "mig_backup_info", "mig_schema_version",
    "mig_schema_snapshots",
}
EXAMPLE_TABLES = {"users", "portfolio", "orders", "trades", "user_preferences"}

CONFIG = """\
[mig]
database = "{url}"
migrations_dir = "migrations"
backups_dir = "backups"
backup = "{backup}"
lock_timeout = {lock_timeout}
"""

#: Holds the migration lock of the project in argv[1] until a line arrives on stdin.
LOCK_HOLDER = """
import sys
from mig.engine import MigrationEngine

engine = MigrationEngine.from_config(sys.argv[1])
with engine.dialect.lock(30):
    print("locked", flush=True)
    sys.stdin.readline()
print("released", flush=True)
"""


def _server(url: str) -> dict[str, Any]:
    parts = urlsplit(url)
    return {
        "user": unquote(parts.username) if parts.username else None,
        "password": unquote(parts.password) if parts.password else None,
        "host": parts.hostname or "127.0.0.1",
        "port": parts.port,
        "database": unquote(parts.path.lstrip("/")),
    }


class DialectTarget:
    """One fresh database of one dialect. ``name`` is the dialect's name (``sqlite``,
    ``postgres``, ``mysql``), ``url`` the database URL mig is given."""

    name: str
    url: str

    #: Whether DDL rolls back with its transaction (False for MySQL).
    transactional_ddl = True

    def __init__(self, name: str, url: str) -> None:
        self.name = name
        self.url = url

    @property
    def example(self) -> Path:
        """The bundled example's migrations written for this dialect."""
        return EXAMPLES[self.name]

    def project(
        self, root: Path, *, example: bool = False, lock_timeout: float = 10, backup: str = "none"
    ) -> Project:
        """A mig project in ``root`` pointed at this database (``example``: with a copy of the
        example's migrations; ``backup``: the type taken before each migration)."""
        project = Project(root)
        project.write_config(
            CONFIG.format(url=self.url, lock_timeout=lock_timeout, backup=backup)
        )
        if example:
            shutil.rmtree(project.migrations_dir)
            shutil.copytree(self.example, project.migrations_dir)
        return project

    def hold_lock(self, project: Project) -> subprocess.Popen[str]:
        """Another process holding the project's migration lock until ``release_lock``."""
        proc = subprocess.Popen(
            [sys.executable, "-c", LOCK_HOLDER, str(project.config_path)],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, env=project.env(),
        )
        assert proc.stdout is not None
        assert proc.stdout.readline() == "locked\n"
        return proc

    @staticmethod
    def release_lock(proc: subprocess.Popen[str]) -> None:
        assert proc.stdin is not None and proc.stdout is not None
        proc.stdin.write("\n")
        proc.stdin.flush()
        assert proc.stdout.readline() == "released\n"
        proc.wait(timeout=10)

    # -- looking at the database (through the driver, not through mig) ------------------------

    def query(self, sql: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        raise NotImplementedError

    def execute(self, *sql: str) -> None:
        """Run statements in autocommit mode on a connection of their own."""
        raise NotImplementedError

    def tables(self) -> set[str]:
        raise NotImplementedError

    def user_tables(self) -> set[str]:
        """Tables that are not mig's bookkeeping."""
        return self.tables() - BOOKKEEPING

    def objects(self) -> set[tuple[Any, ...]]:
        """The schema as a set of comparable facts: tables and views, their columns, indexes,
        constraints and triggers (to compare before and after a backup round trip)."""
        raise NotImplementedError

    def rows(self, table: str, order_by: str | None = None) -> list[tuple[Any, ...]]:
        """Every row of ``table`` (a trusted name), in ``order_by`` order when given."""
        return self.query(f"SELECT * FROM {table}" + (f" ORDER BY {order_by}" if order_by else ""))

    def contents(self, bookkeeping: bool = False) -> dict[str, list[tuple[Any, ...]]]:
        """Every table's rows, sorted, by table name (mig's own tables only when asked): the
        whole state of the database, to compare before and after a backup round trip."""
        names = self.tables() if bookkeeping else self.user_tables()
        return {name: sorted(self.rows(name), key=repr) for name in sorted(names)}

    def executions(self, migration_id: str | None = None) -> list[dict[str, Any]]:
        """Rows of ``mig_migration_executions`` as dicts, oldest first."""
        if "mig_migration_executions" not in self.tables():
            return []
        where, params = ("", ()) if migration_id is None else (
            f" WHERE migration_id = {self.mark}", (migration_id,)
        )
        rows = self.query(
            "SELECT execution_id, migration_id, status, operation, statements_committed,"
            f" error_message FROM mig_migration_executions{where} ORDER BY seq", params
        )
        keys = ("execution_id", "migration_id", "status", "operation", "statements_committed",
                "error_message")
        return [dict(zip(keys, row, strict=True)) for row in rows]

    def current_version(self) -> str:
        return self.query("SELECT current_version FROM mig_schema_version")[0][0]

    mark = "?"

    def drop(self) -> None:
        """Remove the database (the fixture does it after the test)."""


class SQLiteTarget(DialectTarget):
    def __init__(self, path: Path) -> None:
        super().__init__("sqlite", "sqlite:///" + str(path))
        self.path = path

    def connect(self) -> sqlite3.Connection:
        conn = sqlite3.connect(self.path, isolation_level=None)
        conn.execute("PRAGMA foreign_keys = ON")  # as the servers enforce theirs
        return conn

    def query(self, sql: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        if not self.path.exists():
            return []
        conn = self.connect()
        try:
            return conn.execute(sql, params).fetchall()
        finally:
            conn.close()

    def execute(self, *sql: str) -> None:
        conn = self.connect()
        try:
            for statement in sql:
                conn.execute(statement)
        finally:
            conn.close()

    def tables(self) -> set[str]:
        rows = self.query(
            "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'"
        )
        return {name for (name,) in rows}

    def exists(self) -> bool:
        return self.path.exists()

    def objects(self) -> set[tuple[Any, ...]]:
        return set(self.query(
            "SELECT type, name, tbl_name, sql FROM sqlite_master WHERE name NOT LIKE 'sqlite_%'"
        ))


class PostgresTarget(DialectTarget):
    mark = "%s"

    def __init__(self, admin_url: str, database: str) -> None:
        parts = urlsplit(admin_url)
        super().__init__("postgres", urlunsplit(parts._replace(path=f"/{database}")))
        self.server = _server(admin_url)
        self.database = database

    def connect(self, database: str | None = None) -> Any:
        import psycopg

        s = self.server
        kwargs = {k: v for k, v in (("user", s["user"]), ("password", s["password"]),
                                    ("host", s["host"]), ("port", s["port"])) if v is not None}
        return psycopg.connect(dbname=database or self.database, autocommit=True,
                               connect_timeout=5, **kwargs)

    def query(self, sql: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        with self.connect() as conn:
            cur = conn.execute(sql, params or None)
            return cur.fetchall() if cur.description else []

    def execute(self, *sql: str) -> None:
        with self.connect() as conn:
            for statement in sql:
                conn.execute(statement)

    def tables(self) -> set[str]:
        rows = self.query(
            "SELECT tablename FROM pg_tables WHERE schemaname = current_schema()"
        )
        return {name for (name,) in rows}

    def objects(self) -> set[tuple[Any, ...]]:
        where = "n.nspname = current_schema()"
        return set(self.query(
            "SELECT 'relation', c.relname, c.relkind::text, NULL FROM pg_class c"
            f" JOIN pg_namespace n ON n.oid = c.relnamespace WHERE {where}"
            " UNION ALL SELECT 'column', c.relname, a.attname,"
            " format_type(a.atttypid, a.atttypmod) || ' ' || a.attnotnull::text"
            " FROM pg_attribute a JOIN pg_class c ON c.oid = a.attrelid"
            f" JOIN pg_namespace n ON n.oid = c.relnamespace WHERE {where}"
            " AND a.attnum > 0 AND NOT a.attisdropped"
            " UNION ALL SELECT 'constraint', c.relname, o.conname, pg_get_constraintdef(o.oid)"
            " FROM pg_constraint o JOIN pg_class c ON c.oid = o.conrelid"
            f" JOIN pg_namespace n ON n.oid = c.relnamespace WHERE {where}"
            " UNION ALL SELECT 'index', c.relname, NULL, pg_get_indexdef(c.oid) FROM pg_class c"
            f" JOIN pg_namespace n ON n.oid = c.relnamespace WHERE {where} AND c.relkind = 'i'"
            " UNION ALL SELECT 'trigger', c.relname, t.tgname, pg_get_triggerdef(t.oid)"
            " FROM pg_trigger t JOIN pg_class c ON c.oid = t.tgrelid"
            f" JOIN pg_namespace n ON n.oid = c.relnamespace WHERE {where}"
            " AND NOT t.tgisinternal"
            " UNION ALL SELECT 'function', p.proname, NULL, pg_get_functiondef(p.oid)"
            " FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace"
            f" WHERE {where} AND p.prokind IN ('f', 'p')"
        ))

    def exists(self) -> bool:
        with self.connect(self.server["database"]) as conn:
            return conn.execute(
                "SELECT 1 FROM pg_database WHERE datname = %s", (self.database,)
            ).fetchone() is not None

    def create(self) -> None:
        with self.connect(self.server["database"]) as conn:
            conn.execute(f'CREATE DATABASE "{self.database}"')

    def drop(self) -> None:
        with self.connect(self.server["database"]) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{self.database}" WITH (FORCE)')


class MySQLTarget(DialectTarget):
    mark = "%s"
    transactional_ddl = False

    def __init__(self, admin_url: str, database: str) -> None:
        parts = urlsplit(admin_url)
        super().__init__("mysql", urlunsplit(parts._replace(path=f"/{database}")))
        self.server = _server(admin_url)
        self.database = database

    def connect(self, database: str | None = None) -> Any:
        import pymysql

        s = self.server
        return pymysql.connect(
            host=s["host"], port=s["port"] or 3306, user=s["user"], password=s["password"] or "",
            database=self.database if database is None else database or None,
            autocommit=True, charset="utf8mb4", connect_timeout=5,
        )

    def query(self, sql: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        conn = self.connect()
        try:
            with conn.cursor() as cur:
                cur.execute(sql, params or None)
                return list(cur.fetchall())
        finally:
            conn.close()

    def execute(self, *sql: str) -> None:
        conn = self.connect()
        try:
            with conn.cursor() as cur:
                for statement in sql:
                    cur.execute(statement)
        finally:
            conn.close()

    def tables(self) -> set[str]:
        rows = self.query(
            "SELECT TABLE_NAME FROM information_schema.TABLES WHERE TABLE_SCHEMA = DATABASE()"
        )
        return {str(name) for (name,) in rows}

    def objects(self) -> set[tuple[Any, ...]]:
        return set(self.query(
            "SELECT 'table', TABLE_NAME, TABLE_TYPE, NULL FROM information_schema.TABLES"
            " WHERE TABLE_SCHEMA = DATABASE()"
            " UNION ALL SELECT 'column', TABLE_NAME, COLUMN_NAME,"
            " CONCAT(COLUMN_TYPE, ' ', IS_NULLABLE, ' ', COALESCE(COLUMN_DEFAULT, ''))"
            " FROM information_schema.COLUMNS WHERE TABLE_SCHEMA = DATABASE()"
            " UNION ALL SELECT 'index', TABLE_NAME, INDEX_NAME,"
            " CONCAT(NON_UNIQUE, ' ', SEQ_IN_INDEX, ' ', COLUMN_NAME)"
            " FROM information_schema.STATISTICS WHERE TABLE_SCHEMA = DATABASE()"
            " UNION ALL SELECT 'foreign key', TABLE_NAME, CONSTRAINT_NAME,"
            " CONCAT(COLUMN_NAME, ' -> ', REFERENCED_TABLE_NAME, '.', REFERENCED_COLUMN_NAME)"
            " FROM information_schema.KEY_COLUMN_USAGE WHERE TABLE_SCHEMA = DATABASE()"
            " AND REFERENCED_TABLE_NAME IS NOT NULL"
            " UNION ALL SELECT 'trigger', EVENT_OBJECT_TABLE, TRIGGER_NAME, ACTION_STATEMENT"
            " FROM information_schema.TRIGGERS WHERE TRIGGER_SCHEMA = DATABASE()"
            " UNION ALL SELECT 'routine', ROUTINE_NAME, ROUTINE_TYPE, ROUTINE_DEFINITION"
            " FROM information_schema.ROUTINES WHERE ROUTINE_SCHEMA = DATABASE()"
            " UNION ALL SELECT 'view', TABLE_NAME, NULL, VIEW_DEFINITION"
            " FROM information_schema.VIEWS WHERE TABLE_SCHEMA = DATABASE()"
        ))

    def exists(self) -> bool:
        conn = self.connect("")
        try:
            with conn.cursor() as cur:
                cur.execute(
                    "SELECT 1 FROM information_schema.SCHEMATA WHERE SCHEMA_NAME = %s",
                    (self.database,),
                )
                return cur.fetchone() is not None
        finally:
            conn.close()

    def create(self) -> None:
        conn = self.connect("")
        try:
            with conn.cursor() as cur:
                cur.execute(f"CREATE DATABASE `{self.database}` CHARACTER SET utf8mb4")
        finally:
            conn.close()

    def drop(self) -> None:
        conn = self.connect("")
        try:
            with conn.cursor() as cur:
                cur.execute(f"DROP DATABASE IF EXISTS `{self.database}`")
        finally:
            conn.close()


_REACHABLE: dict[str, str | None] = {}


def server_problem(name: str) -> str | None:
    """Why the server of dialect ``name`` cannot be used (None when it can), asked once."""
    if name not in _REACHABLE:
        probe = (PostgresTarget if name == "postgres" else MySQLTarget)(SERVER_URLS[name], "")
        try:
            probe.connect(probe.server["database"]).close()
            _REACHABLE[name] = None
        except ImportError as exc:
            _REACHABLE[name] = f"the {name} driver is not installed: {exc}"
        except Exception as exc:
            where = urlsplit(SERVER_URLS[name])
            _REACHABLE[name] = (
                f"{name} server at {where.hostname}:{where.port} is unreachable:"
                f" {' '.join(str(exc).split())}"
            )
    return _REACHABLE[name]


def new_target(name: str, tmp_path: Path) -> DialectTarget:
    """A fresh database of dialect ``name`` (the caller drops it); skips or fails the test
    when its server cannot be used."""
    if name == "sqlite":
        return SQLiteTarget(tmp_path / "app.db")
    problem = server_problem(name)
    if problem is not None:
        server_unavailable(problem)
    database = f"mig_test_{uuid.uuid4().hex[:12]}"
    cls = PostgresTarget if name == "postgres" else MySQLTarget
    target = cls(SERVER_URLS[name], database)
    target.create()
    return target
