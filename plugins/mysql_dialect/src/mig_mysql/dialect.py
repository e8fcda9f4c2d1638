"""The MySQL / MariaDB dialect: URL parsing, the connection, transactions and bookkeeping types.

PyMySQL is imported when a connection is first opened, never at import time, so that
``mig --help`` and commands that touch no database stay fast.
"""

from __future__ import annotations

import os
from collections.abc import Iterator, Mapping, Sequence
from contextlib import AbstractContextManager, contextmanager, suppress
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

from mig.errors import DatabaseError
from mig.protocols import Dialect
from mig.urls import mask_url

from . import locking
from .executor import MySQLExecutor
from .url import (  # noqa: F401 (the URL's names, re-exported where they always were)
    DEFAULT_CONNECT_TIMEOUT,
    DEFAULT_PORT,
    SCHEMES,
    URL_FORMS,
    URL_PARAMETERS,
    Target,
    parse_url,
    with_database,
)

if TYPE_CHECKING:
    import pymysql
    from mig.protocols import BackupHandler
    from mig.schema import Snapshot

#: MySQL's error "Unknown database".
ER_BAD_DB_ERROR = 1049


def quote_ident(name: str) -> str:
    return "`" + name.replace("`", "``") + "`"


class _Closed:
    """Stands in for the cursor while there is no connection, so hot methods need no check."""

    def _fail(self, *args: Any, **kwargs: Any) -> Any:
        raise DatabaseError("the mysql database is not connected (call connect() first)")

    execute = executemany = fetchall = _fail


_CLOSED: Any = _Closed()


class MySQLDialect(Dialect):
    """One MySQL or MariaDB database through PyMySQL, in autocommit mode.

    MySQL commits implicitly before and after every DDL statement, so DDL cannot be rolled
    back: ``transactional_ddl`` is False and the engine runs each migration as a
    non-transactional one (see the README). ``connection`` is the open
    ``pymysql.Connection`` (None when closed) and ``target`` what the URL names, for plugins
    that need the server itself (backups with ``mysqldump``).
    """

    name: ClassVar[str] = "mysql"
    schemes: ClassVar[tuple[str, ...]] = SCHEMES
    paramstyle: ClassVar[str] = "format"
    transactional_ddl: ClassVar[bool] = False
    column_types: ClassVar[Mapping[str, str]] = {
        # 191 characters of utf8mb4 fit the 767-byte index limit of older row formats; keys
        # compare exactly (binary collation), as they do on the other dialects.
        "key": "VARCHAR(191) CHARACTER SET utf8mb4 COLLATE utf8mb4_bin",
        "text": "LONGTEXT CHARACTER SET utf8mb4",
        # ISO-8601 text with its UTC offset, exactly as the core writes it (DATETIME would
        # drop the offset, and TIMESTAMP ends in 2038).
        "timestamp": "VARCHAR(40)",
        "bool": "BOOLEAN",
        "int": "BIGINT",
        "real": "DOUBLE",
    }

    def __init__(self, url: str, *, base_dir: Path, options: Mapping[str, Any]) -> None:
        self.url = url
        self.target = parse_url(url, options)
        self.connection: pymysql.connections.Connection[Any] | None = None
        self._cur: Any = _CLOSED

    def __repr__(self) -> str:
        return f"MySQLDialect({self.display_url()!r})"

    def display_url(self) -> str:
        return mask_url(self.url)

    @property
    def in_transaction(self) -> bool:
        if self.connection is None:
            return False
        from pymysql.constants import SERVER_STATUS

        # types-PyMySQL leaves out Connection.server_status, which PyMySQL sets from every OK
        # packet (the flags the server sent last).
        status: int = self.connection.server_status  # type: ignore[attr-defined]
        return bool(status & SERVER_STATUS.SERVER_STATUS_IN_TRANS)

    # -- connection -------------------------------------------------------------------------

    def open_connection(
        self, database: str | None = None, *, program_name: str | None = None
    ) -> pymysql.connections.Connection[Any]:
        """A new autocommit connection (to the URL's database unless ``database`` is given;
        ``""`` for none); a failure is a :class:`DatabaseError` without the password."""
        import pymysql

        kwargs = self.target.connect_kwargs(database)
        if program_name is not None:
            kwargs["program_name"] = program_name
        try:
            return pymysql.connect(**kwargs)
        except pymysql.MySQLError as exc:
            raise self._connect_error(exc) from None

    def _connect_error(self, exc: Exception) -> DatabaseError:
        code = exc.args[0] if exc.args else None
        if code == ER_BAD_DB_ERROR:
            return DatabaseError(
                f"cannot connect to {self.display_url()}: database {self.target.database!r}"
                f" does not exist (mig does not create databases;"
                f" CREATE DATABASE {quote_ident(self.target.database)} first)"
            )
        error = DatabaseError(f"cannot connect to {self.display_url()}: {self.describe(exc)}")
        # DatabaseError declares no such attribute: the server's error number rides along.
        error.mysql_code = code  # type: ignore[attr-defined]
        return error

    def describe(self, exc: Exception) -> str:
        """A driver error as one line without the password."""
        args = exc.args
        if len(args) == 2 and isinstance(args[0], int):
            text = f"{args[1]} (error {args[0]})"
        else:
            text = str(exc) or type(exc).__name__
        text = " ".join(text.split())
        secret = self.target.password
        if secret and len(secret) >= 4:
            text = text.replace(secret, "***")
        return text

    def exists(self) -> bool:
        """Whether the database exists on the server; creates nothing."""
        import pymysql

        try:
            conn = pymysql.connect(**self.target.connect_kwargs())
        except pymysql.MySQLError as exc:
            if exc.args and exc.args[0] == ER_BAD_DB_ERROR:
                return False
            raise self._connect_error(exc) from None
        conn.close()
        return True

    @contextmanager
    def scratch(self, name: str | None = None) -> Iterator[str]:
        """A new database on the same server (``CREATE DATABASE``), dropped on exit."""
        name = name or f"{self.target.database[:40]}_mig_scratch_{os.urandom(4).hex()}"
        admin = self.open_connection("")
        try:
            with admin.cursor() as cur:
                cur.execute(f"CREATE DATABASE {quote_ident(name)}")
        except Exception as exc:
            admin.close()
            raise DatabaseError(
                f"cannot create scratch database {name!r} on {self.display_url()}:"
                f" {self.describe(exc)}"
            ) from None
        try:
            yield with_database(self.url, name)
        finally:
            with suppress(Exception), admin.cursor() as cur:
                cur.execute(f"DROP DATABASE IF EXISTS {quote_ident(name)}")
            admin.close()

    def connect(self, *, readonly: bool = False) -> None:
        import pymysql

        self.close()
        conn = self.open_connection()
        try:
            cur = conn.cursor()
            if readonly:
                cur.execute("SET SESSION TRANSACTION READ ONLY")
        except pymysql.MySQLError as exc:
            conn.close()
            raise self._connect_error(exc) from None
        self.connection, self._cur = conn, cur

    def close(self) -> None:
        conn, self.connection, self._cur = self.connection, None, _CLOSED
        if conn is not None:
            with suppress(Exception):  # already gone: nothing left to release
                conn.close()

    # -- statements: thin on purpose -----------------------------------------------------------
    # Without parameters the SQL runs as written (a "%" needs no doubling), as DB-API
    # drivers of the "format" style do; with parameters "%s" marks them and "%%" is a "%".

    def execute(self, sql: str, params: Sequence[Any] = ()) -> None:
        self._cur.execute(sql, params or None)

    def query(self, sql: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        cur = self._cur
        cur.execute(sql, params or None)
        return list(cur.fetchall())

    def executemany(self, sql: str, rows: Sequence[Sequence[Any]]) -> None:
        self._cur.executemany(sql, rows)

    def begin(self) -> None:
        self._cur.execute("START TRANSACTION")

    def commit(self) -> None:
        # Not an error without an open transaction: a DDL statement may have committed it
        # implicitly (History.ensure creates tables inside begin/commit).
        self._cur.execute("COMMIT")

    def rollback(self) -> None:
        if self.in_transaction:
            self._cur.execute("ROLLBACK")

    # -- scripts (``mig up --sql``) ------------------------------------------------------------

    begin_statement: ClassVar[str] = "START TRANSACTION"

    def sql_literal(self, value: Any) -> str:
        """PyMySQL's own escaping for this connection (backslashes escaped unless the
        server's ``NO_BACKSLASH_ESCAPES`` mode is on)."""
        if self.connection is None:
            raise DatabaseError("the mysql database is not connected (call connect() first)")
        return str(self.connection.escape(value))

    def script_setup(self) -> list[str]:
        """The character set of mig's own connections."""
        return [f"SET NAMES {self.target.connect_kwargs()['charset']}"]

    def script_command(self, script: str) -> str | None:
        """The ``mariadb`` client (``mysql`` on MySQL), which stops at the first error, with
        the URL's server, user and database (the password as the client finds it)."""
        import shlex

        t = self.target
        args = ["mariadb", "--comments"]
        for flag, value in (("--host", t.host), ("--port", t.port), ("--user", t.user)):
            if value is not None:
                args.append(f"{flag}={value}")
        args.append(f"--database={t.database}")
        return f"{shlex.join(args)} < {script}"

    def script_statement(self, sql: str) -> str:
        """One statement; one holding ``;`` (a trigger's or a routine's body) between
        ``DELIMITER`` commands, so that the ``mariadb``/``mysql`` client sends it whole."""
        sql = sql.rstrip()
        last = sql.rpartition("\n")[2]
        end = "\n" if "--" in last or "#" in last else ""  # a trailing comment
        if ";" not in sql:
            return f"{sql}{end};\n"
        delimiter = next(d for d in ("//", "$$", ";;", "@@@@") if d not in sql)
        return f"DELIMITER {delimiter}\n{sql}{end}{delimiter}\nDELIMITER ;\n"

    # -- the rest of the protocol -------------------------------------------------------------

    def lock(self, timeout: float) -> AbstractContextManager[None]:
        return locking.hold(self, timeout)

    def table_names(self) -> list[str]:
        rows = self.query(
            "SELECT TABLE_NAME FROM information_schema.TABLES"
            " WHERE TABLE_SCHEMA = DATABASE() AND TABLE_TYPE = 'BASE TABLE' ORDER BY 1"
        )
        return [str(name) for (name,) in rows]

    def executor(self) -> MySQLExecutor:
        return MySQLExecutor()

    def schema_snapshot(self, exclude_prefix: str = "mig_") -> Snapshot:
        """The normalised snapshot of the connected database (format: :mod:`mig.schema`);
        tables whose name starts with ``exclude_prefix`` (any case), with their indexes and
        triggers, are left out. Read only; one ``information_schema`` query per kind."""
        import pymysql

        from .schema import snapshot

        try:
            return snapshot(self._cur, exclude_prefix)
        except pymysql.MySQLError as exc:
            raise DatabaseError(
                f"cannot read the schema of {self.display_url()}: {self.describe(exc)}"
            ) from exc

    def table_stats(
        self, exclude_prefix: str = "mig_", reuse: Mapping[str, list[Any]] | None = None
    ) -> dict[str, list[Any]] | None:
        """Each user table's ``UPDATE_TIME`` from ``information_schema.TABLES`` (InnoDB keeps
        it in memory: NULL after a server restart, when a change cannot be told)."""
        rows = self.query(
            "SELECT TABLE_NAME, UPDATE_TIME FROM information_schema.TABLES"
            " WHERE TABLE_SCHEMA = DATABASE() AND TABLE_TYPE = 'BASE TABLE'"
        )
        prefix = exclude_prefix.lower()
        return {str(name): [str(updated) if updated is not None else None]
                for name, updated in rows if not (prefix and str(name).lower().startswith(prefix))}

    def backup_handler(self, backup_type: str) -> BackupHandler | None:
        """How this server makes and restores backups of ``backup_type`` (``full``,
        ``schema``, ``data``, ``incremental``: see :mod:`mig_mysql.backup`), with its own
        dump tools; None for any other type."""
        from .backup import handler

        return handler(backup_type)
