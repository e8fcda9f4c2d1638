"""The SQLite dialect: URL parsing, the connection, transactions and bookkeeping types."""

from __future__ import annotations

import os
import sqlite3
import tempfile
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import AbstractContextManager, contextmanager, nullcontext
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar, NoReturn, Protocol
from urllib.parse import quote

from mig.errors import ConfigError, DatabaseError
from mig.protocols import Dialect

from . import locking
from .executor import SQLiteExecutor

if TYPE_CHECKING:
    from mig.protocols import BackupHandler, RestoreJob
    from mig.schema import Snapshot

#: Seconds a statement waits for another connection's write lock before "database is locked".
DEFAULT_BUSY_TIMEOUT = 5.0
_URL_FORMS = "sqlite:///relative/app.db, sqlite:////absolute/app.db or sqlite:///:memory:"


def parse_url(url: str, base_dir: Path) -> Path | None:
    """The database file a ``sqlite://`` URL names, or None for ``:memory:``.

    A relative path is relative to ``base_dir``. The path is taken literally: no
    percent-decoding, no ``~``, no query string. It is resolved once, here, through every
    symlink and ``..``: one file is one database, so the lock file, restores and their
    temporary files are the same whichever link or spelling reaches it (a link to a file
    not made yet resolves to where the file will be).
    """
    scheme, sep, rest = url.partition("://")
    if not sep or scheme.lower() != "sqlite":
        raise ConfigError(f"malformed sqlite URL {url!r}: expected {_URL_FORMS}")
    if not rest.startswith("/"):
        raise ConfigError(
            f"malformed sqlite URL {url!r}: sqlite URLs have no host; use {_URL_FORMS}"
        )
    path = rest[1:]
    if "?" in path:
        raise ConfigError(
            f"malformed sqlite URL {url!r}: sqlite URLs take no query string"
            " (settings go in [mig.options.sqlite])"
        )
    if not path or path.endswith("/"):
        raise ConfigError(f"malformed sqlite URL {url!r}: no database file; use {_URL_FORMS}")
    if path == ":memory:":
        return None
    return Path(os.path.realpath(Path(base_dir) / path))


#: ``[mig.options.sqlite]`` keys with their allowed values (None: a number of seconds).
JOURNAL_MODES = ("delete", "truncate", "persist", "memory", "wal", "off")
SYNCHRONOUS = ("off", "normal", "full", "extra")
_KNOWN = ("busy_timeout", "foreign_keys", "journal_mode", "synchronous")


@dataclass(frozen=True)
class SQLiteOptions:
    """A validated ``[mig.options.sqlite]`` table, applied on every connection."""

    #: Seconds a statement waits for another connection's write lock.
    busy_timeout: float = DEFAULT_BUSY_TIMEOUT
    #: ``PRAGMA foreign_keys``: on by default; off for applications whose migrations need it.
    foreign_keys: bool = True
    #: ``PRAGMA journal_mode`` to set (persistent in the file for ``wal``); None leaves it.
    journal_mode: str | None = None
    #: ``PRAGMA synchronous`` to set on each connection; None keeps SQLite's default.
    synchronous: str | None = None

    def pragmas(self, readonly: bool) -> list[str]:
        """The statements that apply these options to a new connection (a read-only one
        changes no journal mode: that is a write to the file)."""
        out = [f"PRAGMA foreign_keys = {'ON' if self.foreign_keys else 'OFF'}"]
        if self.journal_mode is not None and not readonly:
            out.append(f"PRAGMA journal_mode = {self.journal_mode.upper()}")
        if self.synchronous is not None:
            out.append(f"PRAGMA synchronous = {self.synchronous.upper()}")
        return out


def sqlite_options(options: Mapping[str, Any]) -> SQLiteOptions:
    """Validate a ``[mig.options.sqlite]`` table (``ConfigError`` naming the bad key)."""
    unknown = sorted(set(options) - set(_KNOWN))
    if unknown:
        raise ConfigError(
            f"unknown key {unknown[0]!r} in [mig.options.sqlite] (known: {', '.join(_KNOWN)})"
        )
    timeout = options.get("busy_timeout", DEFAULT_BUSY_TIMEOUT)
    if isinstance(timeout, bool) or not isinstance(timeout, int | float) or timeout < 0:
        raise ConfigError(
            f"sqlite.busy_timeout must be a non-negative number of seconds, not {timeout!r}"
        )
    fk = options.get("foreign_keys", True)
    if isinstance(fk, str) and fk.lower() in ("on", "off"):
        fk = fk.lower() == "on"
    if not isinstance(fk, bool):
        raise ConfigError(f"sqlite.foreign_keys must be true/false (or \"on\"/\"off\"), not {fk!r}")
    return SQLiteOptions(
        busy_timeout=float(timeout), foreign_keys=fk,
        journal_mode=_choice(options, "journal_mode", JOURNAL_MODES),
        synchronous=_choice(options, "synchronous", SYNCHRONOUS),
    )


def _choice(options: Mapping[str, Any], key: str, allowed: tuple[str, ...]) -> str | None:
    value = options.get(key)
    if value is None:
        return None
    if not isinstance(value, str) or value.lower() not in allowed:
        raise ConfigError(f"sqlite.{key} must be one of {', '.join(allowed)}, not {value!r}")
    return value.lower()


class _Connection(Protocol):
    """What the hot methods use of a ``sqlite3.Connection`` (or of :class:`_Closed`)."""

    def execute(self, sql: str, parameters: Sequence[Any] = ..., /) -> sqlite3.Cursor: ...

    def executemany(
        self, sql: str, parameters: Iterable[Sequence[Any]], /
    ) -> sqlite3.Cursor: ...

    def rollback(self) -> None: ...


class _Closed:
    """Stands in for the connection while there is none, so the hot methods need no check."""

    def _fail(self, *args: object) -> NoReturn:
        raise DatabaseError("the sqlite database is not connected (call connect() first)")

    execute = executemany = _fail

    def rollback(self) -> None:
        pass


_CLOSED: _Connection = _Closed()


def _lock_file(path: Path) -> Path:
    return path.with_name(path.name + ".miglock")


class SQLiteDialect(Dialect):
    """One SQLite database, through the standard library's ``sqlite3`` in autocommit mode.

    ``path`` is the database file, resolved through symlinks (None in memory), and
    ``connection`` the open ``sqlite3.Connection`` (None when closed), for code that needs
    SQLite itself (backups).
    """

    name: ClassVar[str] = "sqlite"
    schemes: ClassVar[tuple[str, ...]] = ("sqlite",)
    paramstyle: ClassVar[str] = "qmark"
    transactional_ddl: ClassVar[bool] = True
    column_types: ClassVar[Mapping[str, str]] = {
        "key": "TEXT",
        "text": "TEXT",
        "timestamp": "TIMESTAMP",
        "bool": "BOOLEAN",
        "int": "INTEGER",
        "real": "REAL",
    }

    def __init__(self, url: str, *, base_dir: Path, options: Mapping[str, Any]) -> None:
        self.url = url
        self.path = parse_url(url, base_dir)
        self.options = sqlite_options(options or {})
        self.busy_timeout = self.options.busy_timeout
        self.connection: sqlite3.Connection | None = None
        self._conn: _Connection = _CLOSED

    def __repr__(self) -> str:
        return f"SQLiteDialect({self.url!r})"

    @property
    def lock_path(self) -> Path | None:
        """The sidecar file the migration lock is taken on (None in memory)."""
        return None if self.path is None else _lock_file(self.path)

    @property
    def in_transaction(self) -> bool:
        return self.connection is not None and self.connection.in_transaction

    def display_url(self) -> str:
        return self.url

    def exists(self) -> bool:
        return self.path is None or self.path.is_file()

    # -- connection -------------------------------------------------------------------------

    def connect(self, *, readonly: bool = False) -> None:
        self.close()
        where = self.path if self.path is not None else ":memory:"
        try:
            conn = self._open(readonly)
        except sqlite3.Error as exc:
            raise DatabaseError(f"cannot open sqlite database {where}: {exc}") from exc
        try:
            # Opening is lazy: a file that is not a database only fails on first read.
            conn.execute("PRAGMA schema_version").fetchone()
            for pragma in self.options.pragmas(readonly):
                conn.execute(pragma).fetchall()
        except sqlite3.Error as exc:
            conn.close()
            raise DatabaseError(f"cannot open sqlite database {where}: {exc}") from exc
        self.connection = self._conn = conn

    def _open(self, readonly: bool) -> sqlite3.Connection:
        if self.path is None:
            return self._connect(":memory:")
        folder = self.path.parent
        if not folder.is_dir():
            raise DatabaseError(
                f"cannot open sqlite database {self.path}: folder {folder} does not exist"
            )
        if readonly and not self._hot_journal():
            if not self.path.exists():
                raise DatabaseError(f"cannot open sqlite database {self.path}: no such file")
            # mode=ro never creates the file, unlike a plain open. (With a hot journal left by
            # a killed writer, a plain open is needed: SQLite's first read rolls it back,
            # which brings the file back to its last committed state and changes nothing else.)
            uri = f"file:{quote(str(self.path))}?mode=ro"
            return self._connect(uri, uri=True)
        return self._connect(self.path)

    def _connect(self, database: str | Path, *, uri: bool = False) -> sqlite3.Connection:
        return sqlite3.connect(
            database, isolation_level=None, timeout=self.busy_timeout, uri=uri
        )

    def _hot_journal(self) -> bool:
        assert self.path is not None
        journal = self.path.with_name(self.path.name + "-journal")
        try:
            return journal.stat().st_size > 0 and self.path.exists()
        except OSError:
            return False

    def close(self) -> None:
        conn, self.connection, self._conn = self.connection, None, _CLOSED
        if conn is not None:
            conn.close()

    # -- statements: thin on purpose, the engine's throughput depends on it --------------------

    def execute(self, sql: str, params: Sequence[Any] = ()) -> None:
        self._conn.execute(sql, params)

    def query(self, sql: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        return self._conn.execute(sql, params).fetchall()

    def executemany(self, sql: str, rows: Sequence[Sequence[Any]]) -> None:
        self._conn.executemany(sql, rows)

    def begin(self) -> None:
        # IMMEDIATE takes the write lock now, so a busy database fails here and not halfway.
        self._conn.execute("BEGIN IMMEDIATE")

    def commit(self) -> None:
        self._conn.execute("COMMIT")

    def rollback(self) -> None:
        # sqlite3's rollback() does nothing when no transaction is open.
        self._conn.rollback()

    # -- scripts (``mig up --sql``) ------------------------------------------------------------

    def sql_literal(self, value: Any) -> str:
        """SQLite's literals: NULL, numbers (a bool as 0 or 1, as sqlite3 binds it) and
        ``'text'`` with each quote doubled (SQLite knows no backslash escapes)."""
        if value is None:
            return "NULL"
        if isinstance(value, bool | int):
            return str(int(value))
        if isinstance(value, float):
            return repr(value)
        if isinstance(value, str):
            return "'" + value.replace("'", "''") + "'"
        raise TypeError(f"no SQLite literal for {type(value).__name__}")

    def script_command(self, script: str) -> str | None:
        import shlex

        return f"sqlite3 -bail {shlex.quote(str(self.path or ':memory:'))} < {script}"

    def script_setup(self) -> list[str]:
        """The pragmas mig sets on its own connections (``[mig.options.sqlite]``)."""
        return self.options.pragmas(readonly=False)

    # -- the rest of the protocol -------------------------------------------------------------

    def lock(self, timeout: float) -> AbstractContextManager[None]:
        if self.path is None:
            return nullcontext()
        if not self.path.parent.is_dir():  # say so before the lock file fails to appear
            raise DatabaseError(
                f"cannot open sqlite database {self.path}: folder {self.path.parent} does not exist"
            )
        return locking.hold(_lock_file(self.path), timeout, database=self.path)

    def table_names(self) -> list[str]:
        rows = self.query(
            "SELECT name FROM sqlite_master WHERE type = 'table'"
            " AND name NOT LIKE 'sqlite\\_%' ESCAPE '\\' ORDER BY name"
        )
        return [name for (name,) in rows]

    def executor(self) -> SQLiteExecutor:
        return SQLiteExecutor()

    def schema_snapshot(self, exclude_prefix: str = "mig_") -> Snapshot:
        """The normalised snapshot of the user schema (format: :mod:`mig.schema`); tables
        whose name starts with ``exclude_prefix`` (any case), with their indexes and
        triggers, are left out. Read only; five queries whatever the size of the schema."""
        from .schema import snapshot

        if self.connection is None:
            raise DatabaseError("the sqlite database is not connected (call connect() first)")
        try:
            return snapshot(self.connection, exclude_prefix)
        except sqlite3.Error as exc:
            raise DatabaseError(f"cannot read the schema of {self.url}: {exc}") from exc

    def table_stats(
        self, exclude_prefix: str = "mig_", reuse: Mapping[str, list[Any]] | None = None
    ) -> dict[str, list[Any]] | None:
        """Row count and highest rowid of each user table (``WITHOUT ROWID`` tables: the row
        count alone); a page walk of the smallest b-tree and one b-tree descent per table, not
        repeated for the tables in ``reuse``."""
        stats: dict[str, list[Any]] = {}
        prefix = exclude_prefix.lower()
        for (name,) in self.query(
            "SELECT name FROM sqlite_master WHERE type = 'table'"
            " AND name NOT LIKE 'sqlite\\_%' ESCAPE '\\' ORDER BY name"
        ):
            if prefix and name.lower().startswith(prefix):
                continue
            if reuse is not None and name in reuse:
                stats[name] = list(reuse[name])
                continue
            quoted = '"' + name.replace('"', '""') + '"'
            # Two queries: count(*) alone walks only the pages of the table's smallest
            # b-tree, max(rowid) alone reads one path of it; asked together they make SQLite
            # visit every row (0.47 s against 0.02 s for 10 million rows).
            count = self.query(f"SELECT count(*) FROM {quoted}")[0][0]
            try:
                stats[name] = [count, self.query(f"SELECT max(rowid) FROM {quoted}")[0][0]]
            except sqlite3.OperationalError:  # WITHOUT ROWID
                stats[name] = [count]
        return stats

    def backup_handler(self, backup_type: str) -> BackupHandler | None:
        """SQLite's own ``full``, ``schema``, ``data`` and ``incremental`` backups (see
        :mod:`mig_sqlite.backup`); None for any other type."""
        from .backup import handler

        return handler(backup_type)

    def rebuild(
        self,
        job: RestoreJob,
        fill: Callable[[Path], None] | None = None,
        setup: Callable[[SQLiteDialect], None] | None = None,
        build: Callable[[SQLiteDialect], None] | None = None,
    ) -> None:
        """For backups: the atomic way to replace this database. A new file is built
        beside it (``fill(tmp)`` writes it, else it starts empty; ``setup`` runs on it outside a
        transaction, ``build`` and mig's bookkeeping (``job.finish``) in one), then renamed over
        this one. A crash leaves the old database or the new one, never a mix."""
        from .files import rebuild

        rebuild(self, job, fill, setup, build)

    @contextmanager
    def scratch(self, name: str | None = None) -> Iterator[str]:
        """A new database file in a temporary folder, removed with the folder on exit."""
        with tempfile.TemporaryDirectory(prefix="mig-scratch-") as folder:
            yield f"sqlite:///{Path(folder) / (name or 'scratch.db')}"

    def leftovers(self) -> list[Path]:
        """Temporary files of killed restores beside the database file (see :mod:`.files`)."""
        from .files import leftovers

        return [] if self.path is None else leftovers(self.path)

    def remove_leftovers(self) -> None:
        """Remove them; the caller holds the migration lock (taken on the real file, so no
        restore of this database through any other path is running)."""
        from .files import remove_stale_temps

        if self.path is not None:
            remove_stale_temps(self.path)

    @staticmethod
    def journal_mode(conn: sqlite3.Connection) -> str:
        """The connection's journal mode, lower case (``delete``, ``wal``, ...)."""
        from .files import journal_mode

        return journal_mode(conn)
