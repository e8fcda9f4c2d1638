"""The PostgreSQL dialect: URL parsing, the connection, transactions and bookkeeping types.

psycopg is imported when a connection is first opened, never at import time, so that
``mig --help`` and commands that touch no database stay fast.
"""

from __future__ import annotations

import datetime as _dt
import os
from collections.abc import Iterator, Mapping, Sequence
from contextlib import AbstractContextManager, contextmanager, suppress
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

from mig.errors import DatabaseError
from mig.protocols import Dialect
from mig.urls import mask_url

from . import locking
from .executor import PostgresExecutor
from .url import (  # noqa: F401 (the URL's names, re-exported where they always were)
    DEFAULT_CONNECT_TIMEOUT,
    SCHEMES,
    URL_FORMS,
    Target,
    parse_url,
    with_database,
)

if TYPE_CHECKING:
    import psycopg
    from mig.protocols import BackupHandler
    from mig.schema import Snapshot
    from psycopg.rows import TupleRow

#: How often (ms) the server checks that mig is still there while a statement runs
#: (PostgreSQL 14+), so that killing mig also stops and rolls back its migration.
CLIENT_CHECK_MS = 1000
#: The database asked whether the target database exists when connecting to it fails.
MAINTENANCE_DATABASE = "postgres"


def quote_ident(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


class _Closed:
    """Stands in for the connection while there is none, so the hot methods need no check."""

    def _fail(self, *args: Any, **kwargs: Any) -> Any:
        raise DatabaseError("the postgresql database is not connected (call connect() first)")

    execute = cursor = _fail


_CLOSED: Any = _Closed()


class PostgresDialect(Dialect):
    """One PostgreSQL database (and optionally one schema in it) through psycopg 3.

    The connection is in autocommit mode; the engine's ``begin``/``commit``/``rollback`` send
    ``BEGIN``/``COMMIT``/``ROLLBACK``. ``connection`` is the open ``psycopg.Connection`` (None
    when closed) and ``target`` what the URL names, for plugins that need the server itself
    (backups with ``pg_dump``).
    """

    name: ClassVar[str] = "postgres"
    schemes: ClassVar[tuple[str, ...]] = SCHEMES
    paramstyle: ClassVar[str] = "format"
    transactional_ddl: ClassVar[bool] = True
    column_types: ClassVar[Mapping[str, str]] = {
        "key": "VARCHAR(255)",
        "text": "TEXT",
        # Read back as UTC datetimes; the core turns them into ISO-8601 text again.
        "timestamp": "TIMESTAMPTZ",
        # The core writes 0/1, which PostgreSQL does not cast to BOOLEAN on insert.
        "bool": "SMALLINT",
        "int": "BIGINT",
        "real": "DOUBLE PRECISION",
    }

    def __init__(self, url: str, *, base_dir: Path, options: Mapping[str, Any]) -> None:
        self.url = url
        self.target = parse_url(url, options)
        self.connection: psycopg.Connection[TupleRow] | None = None
        self._conn: Any = _CLOSED

    def __repr__(self) -> str:
        return f"PostgresDialect({self.display_url()!r})"

    def display_url(self) -> str:
        return mask_url(self.url)

    @property
    def in_transaction(self) -> bool:
        if self.connection is None:
            return False
        from psycopg.pq import TransactionStatus

        return self.connection.info.transaction_status != TransactionStatus.IDLE

    # -- connection -------------------------------------------------------------------------

    def open_connection(
        self, database: str | None = None, *, application_name: str | None = None
    ) -> psycopg.Connection[TupleRow]:
        """A new autocommit connection to ``database`` (the URL's by default); a failure is a
        :class:`DatabaseError` of one line without the password."""
        import psycopg

        kwargs = self.target.connect_kwargs(database)
        if application_name is not None:
            kwargs["application_name"] = application_name
        try:
            conn = psycopg.connect(autocommit=True, **kwargs)
        except psycopg.Error as exc:
            raise DatabaseError(self._connect_error(exc, database)) from None
        conn.adapters.register_loader("timestamptz", _utc_loader())
        return conn

    def _connect_error(self, exc: Exception, database: str | None) -> str:
        where = self.display_url()
        if database is not None and database != self.target.database:
            where += f" (database {database})"
        return f"cannot connect to {where}: {self.scrub(_one_line(exc))}"

    def scrub(self, text: str) -> str:
        """``text`` without the password (driver messages never should hold it; be sure)."""
        secret = self.target.password
        if secret and len(secret) >= 4:
            text = text.replace(secret, "***")
        return text

    def exists(self) -> bool:
        """Whether the database (and the configured schema) exists; creates nothing."""
        try:
            conn = self.open_connection()
        except DatabaseError:
            if self._database_missing():
                return False
            raise
        try:
            if self.target.schema is None:
                return True
            row = conn.execute(
                "SELECT 1 FROM pg_namespace WHERE nspname = %s", (self.target.schema,)
            ).fetchone()
            return row is not None
        finally:
            conn.close()

    def _database_missing(self) -> bool:
        """True when a maintenance database answers that ours does not exist (the driver's
        own message is in the server's language, so it is not parsed)."""
        if self.target.database == MAINTENANCE_DATABASE:
            return False
        try:
            conn = self.open_connection(MAINTENANCE_DATABASE)
        except DatabaseError:
            return False  # the server cannot be reached either: the first error says why
        try:
            row = conn.execute(
                "SELECT 1 FROM pg_database WHERE datname = %s", (self.target.database,)
            ).fetchone()
        finally:
            conn.close()
        return row is None

    @contextmanager
    def scratch(self, name: str | None = None) -> Iterator[str]:
        """A new database on the same server (``CREATE DATABASE``), dropped on exit."""
        from psycopg import sql

        name = name or f"{self.target.database[:40]}_mig_scratch_{os.urandom(4).hex()}"
        admin = self.open_connection(MAINTENANCE_DATABASE)
        try:
            admin.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
        except Exception as exc:
            admin.close()
            raise DatabaseError(
                f"cannot create scratch database {name!r} on {self.display_url()}:"
                f" {self.scrub(_one_line(exc))}"
            ) from None
        try:
            yield with_database(self.url, name)
        finally:
            with suppress(Exception):
                admin.execute(
                    sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
                )
            admin.close()

    def connect(self, *, readonly: bool = False) -> None:
        self.close()
        try:
            conn = self.open_connection()
        except DatabaseError as exc:
            if self._database_missing():
                raise DatabaseError(
                    f"cannot connect to {self.display_url()}: database"
                    f" {self.target.database!r} does not exist (mig does not create databases;"
                    f" CREATE DATABASE {quote_ident(self.target.database)} first)"
                ) from None
            raise exc from None
        try:
            self._set_up(conn, readonly)
        except Exception as exc:
            conn.close()
            import psycopg

            if isinstance(exc, psycopg.Error):
                raise DatabaseError(self._connect_error(exc, None)) from None
            raise
        self.connection = self._conn = conn

    def _set_up(self, conn: psycopg.Connection[TupleRow], readonly: bool) -> None:
        setup = []
        schema = self.target.schema
        if schema is not None:
            if not readonly:
                # Checked first: CREATE SCHEMA IF NOT EXISTS needs the CREATE privilege on the
                # database even when the schema is there.
                found = conn.execute(
                    "SELECT 1 FROM pg_namespace WHERE nspname = %s", (schema,)
                ).fetchone()
                if found is None:
                    setup.append(f"CREATE SCHEMA IF NOT EXISTS {quote_ident(schema)}")
            # Only the schema: an unqualified name must never reach a table of another one.
            setup.append(f"SET search_path TO {quote_ident(schema)}")
        if readonly:
            setup.append("SET default_transaction_read_only = on")
        elif conn.info.server_version >= 140000:
            # A killed mig's statement would otherwise run (holding its locks) to its end.
            setup.append(f"SET client_connection_check_interval = {CLIENT_CHECK_MS}")
        if setup:
            conn.execute("; ".join(setup))

    def close(self) -> None:
        conn, self.connection, self._conn = self.connection, None, _CLOSED
        if conn is not None:
            conn.close()

    # -- statements: thin on purpose, the engine's throughput depends on it --------------------
    # Without parameters the SQL runs as written (a "%" needs no doubling), as DB-API
    # drivers of the "format" style do; with parameters "%s" marks them and "%%" is a "%".

    def execute(self, sql: str, params: Sequence[Any] = ()) -> None:
        self._conn.execute(sql, params or None)

    def query(self, sql: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        cur = self._conn.execute(sql, params or None)
        return cur.fetchall() if cur.description is not None else []

    def executemany(self, sql: str, rows: Sequence[Sequence[Any]]) -> None:
        with self._conn.cursor() as cur:
            cur.executemany(sql, rows)

    def begin(self) -> None:
        self._conn.execute("BEGIN")

    def commit(self) -> None:
        from psycopg.pq import TransactionStatus

        status = self._status()
        if status == TransactionStatus.INERROR:
            # COMMIT would answer ROLLBACK without an error: say so instead.
            self._conn.execute("ROLLBACK")
            raise DatabaseError("the transaction was aborted by an earlier error; rolled back")
        if status == TransactionStatus.IDLE:
            raise DatabaseError("cannot commit: no transaction is open")
        self._conn.execute("COMMIT")

    def rollback(self) -> None:
        if self.in_transaction:
            self._conn.execute("ROLLBACK")

    def _status(self) -> Any:
        if self.connection is None:
            return self._conn.execute()  # raises: not connected
        return self.connection.info.transaction_status

    # -- scripts (``mig up --sql``) ------------------------------------------------------------

    def sql_literal(self, value: Any) -> str:
        """psycopg's own quoting (``psycopg.sql.Literal``) for this connection."""
        from psycopg import sql

        if self.connection is None:
            self._status()  # raises: not connected
        return sql.Literal(value).as_string(self.connection).strip()

    def script_command(self, script: str) -> str | None:
        """``psql``, stopping at the first error, with the URL's server, user and database
        (the password as psql finds it: PGPASSWORD or ~/.pgpass)."""
        import shlex

        t = self.target
        args = ["psql", "-X", "-v", "ON_ERROR_STOP=1"]
        for flag, value in (("-h", t.host), ("-p", t.port), ("-U", t.user)):
            if value is not None:
                args += [flag, str(value)]
        args += ["-d", t.database, "-f", script]
        return shlex.join(args)

    def script_setup(self) -> list[str]:
        """The configured schema, made when missing and put on the ``search_path``, as on
        mig's own connections."""
        schema = self.target.schema
        if schema is None:
            return []
        made = [] if self.exists() else [f"CREATE SCHEMA IF NOT EXISTS {quote_ident(schema)}"]
        return [*made, f"SET search_path TO {quote_ident(schema)}"]

    # -- the rest of the protocol -------------------------------------------------------------

    def lock(self, timeout: float) -> AbstractContextManager[None]:
        return locking.hold(self, timeout)

    def table_names(self) -> list[str]:
        rows = self.query(
            "SELECT c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace"
            " WHERE n.nspname = current_schema() AND c.relkind IN ('r', 'p')"
            " ORDER BY 1"
        )
        return [name for (name,) in rows]

    def executor(self) -> PostgresExecutor:
        return PostgresExecutor()

    def schema_snapshot(self, exclude_prefix: str = "mig_") -> Snapshot:
        """The normalised snapshot of the configured schema (format: :mod:`mig.schema`);
        tables whose name starts with ``exclude_prefix`` (any case), with their indexes,
        triggers and owned sequences, are left out. Read only; one catalogue query per kind
        of object."""
        import psycopg

        from .schema import snapshot

        if self.connection is None:
            self._status()  # raises: not connected
        try:
            return snapshot(self._conn, exclude_prefix)
        except psycopg.Error as exc:
            raise DatabaseError(
                f"cannot read the schema of {self.display_url()}: {self.scrub(_one_line(exc))}"
            ) from exc

    def table_stats(
        self, exclude_prefix: str = "mig_", reuse: Mapping[str, list[Any]] | None = None
    ) -> dict[str, list[Any]] | None:
        """Each user table's write counters from ``pg_stat_user_tables`` (inserted, updated,
        deleted tuples): free to read. The statistics collector reports them within about a
        second of a commit; a table recreated since (by a restore) counts as written."""
        rows = self.query(
            "SELECT relname, n_tup_ins, n_tup_upd, n_tup_del FROM pg_stat_user_tables"
            " WHERE schemaname = current_schema()"
        )
        prefix = exclude_prefix.lower()
        return {str(name): [int(i), int(u), int(d)] for name, i, u, d in rows
                if not (prefix and str(name).lower().startswith(prefix))}

    def backup_handler(self, backup_type: str) -> BackupHandler | None:
        """How this server makes and restores backups of ``backup_type`` (``full``,
        ``schema``, ``data``, ``incremental``: see :mod:`mig_postgres.backup`), with its own
        dump tools; None for any other type."""
        from .backup import handler

        return handler(backup_type)


def _one_line(exc: Exception) -> str:
    """libpq's connection error as one line: what failed, without its boilerplate."""
    lines = [" ".join(line.split()) for line in str(exc).splitlines()]
    text = "; ".join(line for line in lines if line)
    text = text.removeprefix("connection failed: ")
    # "connection to server at "h", port p failed: FATAL: role "x" does not exist"
    head, sep, tail = text.partition(" failed: ")
    if sep and head.startswith("connection to server"):
        text = tail
    return text.replace("FATAL: ", "") or type(exc).__name__


_LOADER: Any = None


def _utc_loader() -> Any:
    """A ``timestamptz`` loader giving UTC datetimes whatever the session's TimeZone, so the
    bookkeeping reads back in the same form the core wrote it."""
    global _LOADER
    if _LOADER is None:
        from psycopg.types.datetime import TimestamptzLoader

        class UTCTimestamptzLoader(TimestamptzLoader):
            def load(self, data: Any) -> _dt.datetime:
                return super().load(data).astimezone(_dt.UTC)

        _LOADER = UTCTimestamptzLoader
    return _LOADER
