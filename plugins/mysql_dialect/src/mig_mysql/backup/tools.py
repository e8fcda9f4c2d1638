"""MySQL / MariaDB backups with the server's own tools, and restores made as safe as MySQL
allows.

Shared by the backup types of :mod:`mig_mysql.backup`. It reaches the server through what
the mysql dialect exposes (``target``, ``connection``, ``open_connection``, ``url``,
``describe``); the driver is imported by the dialect, never here.

- ``mariadb-dump`` (or ``mysqldump``) and the ``mariadb`` (or ``mysql``) client get the
  connection settings, password included, from a 0600 option file in a private temporary
  folder (``--defaults-extra-file``), never on a command line; the file is removed at once.
- MySQL commits before and after every DDL statement, so a restore that rebuilds tables cannot
  be one transaction. :func:`swap_in` makes it as safe as MySQL allows: the backup is loaded
  into a new staging database (the live one untouched, and a failure there changes nothing),
  mig's audit trail is written into the staging copy, and ONE ``RENAME TABLE`` statement moves
  the live tables aside and the restored ones in (atomic on MariaDB 10.6+ and MySQL 8.0 with
  its atomic DDL). Views, triggers, stored routines and events cannot move between databases:
  they are made again in the live database right after, from their definitions in the staging
  copy, and the old tables are dropped last.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import tempfile
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from mig import BackupError, MigError

from ..url import with_database
from . import mysql_dialect

if TYPE_CHECKING:
    from mig.protocols import Context, RestoreJob

    from ..dialect import MySQLDialect

DUMP_TOOLS = ("mariadb-dump", "mysqldump")
CLIENT_TOOLS = ("mariadb", "mysql")
#: Options of every dump: one consistent InnoDB snapshot without locking tables, binary
#: columns as hex (the file stays ASCII-safe), no tablespace statements (they need PROCESS).
DUMP_ARGS = ("--single-transaction", "--hex-blob", "--no-tablespaces")
#: A data-only dump that runs inside a transaction: no LOCK TABLES, no ALTER TABLE ... KEYS
#: (both commit), column names in every INSERT (column order may differ at restore).
DATA_ARGS = (*DUMP_ARGS, "--no-create-info", "--skip-triggers", "--complete-insert",
             "--skip-add-locks", "--skip-disable-keys")
_CHUNK = 1 << 20
#: mariadb-dump's first line: a command of the mariadb client, a comment to the server.
_SANDBOX = b"/*M!999999\\- enable the sandbox mode */"
#: ER_NO_SUCH_TABLE, ER_VIEW_INVALID, ER_SP_DOES_NOT_EXIST: a view made before what it uses.
_VIEW_NOT_YET = (1146, 1356, 1305)


def quote_ident(name: str) -> str:
    return "`" + name.replace("`", "``") + "`"


def _option_value(value: Any) -> str:
    """A value for an option file: double-quoted (so ``#`` and spaces are its own), with the
    escapes the client's option parser reads back (``\\``, ``\"``, ``\n``, ...)."""
    escapes = {"\\": "\\\\", '"': '\\"', "'": "\\'", "\n": "\\n", "\r": "\\r",
               "\t": "\\t", "\b": "\\b"}
    return '"' + "".join(escapes.get(ch, ch) for ch in str(value)) + '"'


class Server:
    """The client tools for the dialect's server; a context manager that owns the option
    file holding the connection settings."""

    def __init__(self, dialect: MySQLDialect) -> None:
        target = dialect.target
        self.dialect = dialect
        self.target = target
        self.database = str(target.database)
        self._dir = Path(tempfile.mkdtemp(prefix="mig-mysql-"))  # 0700
        self.defaults = self._dir / "client.cnf"
        self._write_defaults(target.connect_kwargs(""))

    def _write_defaults(self, kwargs: dict[str, Any]) -> None:
        lines = ["[client]"]
        simple = {"host": "host", "port": "port", "user": "user", "password": "password",
                  "unix_socket": "socket", "ssl_ca": "ssl-ca", "ssl_cert": "ssl-cert",
                  "ssl_key": "ssl-key"}
        for key, option in simple.items():
            value = kwargs.get(key)
            if value is not None and value != "":
                lines.append(f"{option}={_option_value(value)}")
        # PyMySQL talks TCP to "localhost"; the client would take the default socket.
        lines.append("protocol=SOCKET" if kwargs.get("unix_socket") else "protocol=TCP")
        lines.append("default-character-set=utf8mb4")
        if kwargs.get("ssl_verify_cert") or kwargs.get("ssl_verify_identity"):
            lines.append("ssl-verify-server-cert")
        fd = os.open(self.defaults, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write("\n".join(lines) + "\n")

    def close(self) -> None:
        shutil.rmtree(self._dir, ignore_errors=True)

    def __enter__(self) -> Server:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    def tool(self, names: Sequence[str]) -> str:
        for name in names:
            found = shutil.which(name)
            if found is not None:
                return found
        raise BackupError(
            f"neither {' nor '.join(names)} is on the PATH: install the MariaDB or MySQL"
            " client tools"
        )

    def scrub(self, text: str) -> str:
        secret = self.target.password
        if secret and len(secret) >= 4:
            text = text.replace(secret, "***")
        return text

    def _stderr(self, raw: bytes) -> str:
        lines = [" ".join(line.split()) for line in raw.decode("utf-8", "replace").splitlines()]
        text = "; ".join(line for line in lines if line) or "no message"
        return self.scrub(text)

    def dump(self, out: Path, args: Sequence[str], tables: Sequence[str] = (),
             database: str | None = None) -> None:
        """Dump ``database`` (the URL's), or only ``tables`` of it, into ``out`` (0600)."""
        os.close(os.open(out, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))
        cmd = [self.tool(DUMP_TOOLS), f"--defaults-extra-file={self.defaults}", *args,
               f"--result-file={out}", database or self.database, *tables]
        proc = subprocess.run(cmd, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                              stderr=subprocess.PIPE, check=False)
        if proc.returncode != 0:
            raise BackupError(f"{Path(cmd[0]).name} failed: {self._stderr(proc.stderr)}")

    def load(self, database: str, pieces: Iterable[tuple[Path, int, int | None]]) -> None:
        """Run SQL files (each ``(path, offset, length)``; length None: to the end) through the
        client into ``database``; the client stops at the first error."""
        cmd = [self.tool(CLIENT_TOOLS), f"--defaults-extra-file={self.defaults}", "--batch",
               "--binary-mode", f"--database={database}"]
        with tempfile.TemporaryFile() as err:
            proc = subprocess.Popen(cmd, stdin=subprocess.PIPE, stdout=subprocess.DEVNULL,
                                    stderr=err)
            assert proc.stdin is not None
            try:
                for path, offset, length in pieces:
                    _copy_range(path, offset, length, proc.stdin.write)
                proc.stdin.close()
            except BrokenPipeError:
                pass  # the client stopped at an error: its message says which
            except BaseException:
                proc.kill()
                proc.wait()
                raise
            if proc.wait() != 0:
                err.seek(0)
                raise BackupError(
                    f"loading the backup into {database} failed: {self._stderr(err.read())}"
                )


def _copy_range(path: Path, offset: int, length: int | None,
                write: Callable[[bytes], Any]) -> None:
    with path.open("rb") as fh:
        fh.seek(offset)
        left = length
        while left is None or left > 0:
            chunk = fh.read(_CHUNK if left is None else min(_CHUNK, left))
            if not chunk:
                break
            write(chunk)
            if left is not None:
                left -= len(chunk)


# -- looking at a database -------------------------------------------------------------------


def query(conn: Any, sql: str, params: Sequence[Any] | None = None) -> list[tuple[Any, ...]]:
    with conn.cursor() as cur:
        cur.execute(sql, params)
        return list(cur.fetchall())


def run(conn: Any, sql: str | bytes, params: Sequence[Any] | None = None) -> None:
    with conn.cursor() as cur:
        cur.execute(sql, params)


def base_tables(conn: Any, database: str) -> list[str]:
    """Tables (and MariaDB sequences): everything of ``database`` that is not a view."""
    rows = query(conn, "SELECT TABLE_NAME FROM information_schema.TABLES"
                       " WHERE TABLE_SCHEMA = %s AND TABLE_TYPE <> 'VIEW' ORDER BY 1",
                 (database,))
    return [str(r[0]) for r in rows]


def views(conn: Any, database: str) -> list[str]:
    rows = query(conn, "SELECT TABLE_NAME FROM information_schema.TABLES"
                       " WHERE TABLE_SCHEMA = %s AND TABLE_TYPE = 'VIEW' ORDER BY 1",
                 (database,))
    return [str(r[0]) for r in rows]


def data_tables(conn: Any, database: str, prefix: str) -> dict[str, list[str]]:
    """The user tables whose rows a data backup saves (ordinary tables whose names do not
    start with ``prefix``), each with its columns in order."""
    rows = query(
        conn,
        "SELECT c.TABLE_NAME, c.COLUMN_NAME FROM information_schema.COLUMNS c"
        " JOIN information_schema.TABLES t ON t.TABLE_SCHEMA = c.TABLE_SCHEMA"
        " AND t.TABLE_NAME = c.TABLE_NAME"
        " WHERE c.TABLE_SCHEMA = %s AND t.TABLE_TYPE IN ('BASE TABLE', 'SYSTEM VERSIONED')"
        " ORDER BY c.TABLE_NAME, c.ORDINAL_POSITION",
        (database,),
    )
    out: dict[str, list[str]] = {}
    for table, column in rows:
        name = str(table)
        if prefix and name.lower().startswith(prefix.lower()):
            continue
        out.setdefault(name, []).append(str(column))
    return out


def bookkeeping_tables(conn: Any, database: str, prefix: str) -> list[str]:
    if not prefix:
        return []
    return [t for t in base_tables(conn, database) if t.lower().startswith(prefix.lower())]


def charset(conn: Any, database: str) -> tuple[str, str]:
    row = query(conn, "SELECT DEFAULT_CHARACTER_SET_NAME, DEFAULT_COLLATION_NAME"
                      " FROM information_schema.SCHEMATA WHERE SCHEMA_NAME = %s", (database,))
    return (str(row[0][0]), str(row[0][1])) if row else ("utf8mb4", "")


# -- objects that cannot move between databases ---------------------------------------------


@dataclass
class Definition:
    kind: str  # TRIGGER, VIEW, FUNCTION, PROCEDURE, EVENT
    name: str
    sql: str
    sql_mode: str | None = None
    time_zone: str | None = None


@dataclass
class Objects:
    """Definitions read with the database as the connection's default, so names of its own
    objects in them are unqualified and they can be made again in another database."""

    triggers: list[Definition] = field(default_factory=list)
    views: list[Definition] = field(default_factory=list)
    routines: list[Definition] = field(default_factory=list)
    events: list[Definition] = field(default_factory=list)


def read_objects(conn: Any, database: str, *, only_tables: Iterable[str] | None = None,
                 everything: bool = True, names_only: bool = False) -> Objects:
    """The triggers (of ``only_tables`` when given) and, with ``everything``, the views,
    routines and events of ``database``; ``conn``'s default database must be ``database``
    (``names_only``: without their definitions, for dropping them)."""
    if names_only:
        return _names(conn, database)
    objs = Objects()
    wanted = None if only_tables is None else {t.lower() for t in only_tables}
    for name, table in query(
        conn, "SELECT TRIGGER_NAME, EVENT_OBJECT_TABLE FROM information_schema.TRIGGERS"
              " WHERE TRIGGER_SCHEMA = %s ORDER BY EVENT_OBJECT_TABLE, ACTION_TIMING,"
              " EVENT_MANIPULATION, ACTION_ORDER", (database,)):
        if wanted is not None and str(table).lower() not in wanted:
            continue
        row = query(conn, f"SHOW CREATE TRIGGER {quote_ident(database)}.{quote_ident(name)}")[0]
        objs.triggers.append(Definition("TRIGGER", str(name), str(row[2]), sql_mode=str(row[1])))
    if not everything:
        return objs
    for name in views(conn, database):
        row = query(conn, f"SHOW CREATE VIEW {quote_ident(database)}.{quote_ident(name)}")[0]
        objs.views.append(Definition("VIEW", name, str(row[1])))
    for name, kind in query(
        conn, "SELECT ROUTINE_NAME, ROUTINE_TYPE FROM information_schema.ROUTINES"
              " WHERE ROUTINE_SCHEMA = %s ORDER BY ROUTINE_TYPE, ROUTINE_NAME", (database,)):
        kind = str(kind)
        if kind not in ("FUNCTION", "PROCEDURE"):
            raise BackupError(f"{kind} {name} cannot be restored by mig (only functions and"
                              " procedures are)")
        row = query(conn, f"SHOW CREATE {kind} {quote_ident(database)}.{quote_ident(name)}")[0]
        objs.routines.append(Definition(kind, str(name), str(row[2]), sql_mode=str(row[1])))
    for (name,) in query(conn, "SELECT EVENT_NAME FROM information_schema.EVENTS"
                               " WHERE EVENT_SCHEMA = %s ORDER BY 1", (database,)):
        row = query(conn, f"SHOW CREATE EVENT {quote_ident(database)}.{quote_ident(name)}")[0]
        objs.events.append(Definition("EVENT", str(name), str(row[3]), sql_mode=str(row[1]),
                                      time_zone=str(row[2])))
    return objs


def _names(conn: Any, database: str) -> Objects:
    objs = Objects()
    for (name,) in query(conn, "SELECT TRIGGER_NAME FROM information_schema.TRIGGERS"
                               " WHERE TRIGGER_SCHEMA = %s", (database,)):
        objs.triggers.append(Definition("TRIGGER", str(name), ""))
    for name, kind in query(conn, "SELECT ROUTINE_NAME, ROUTINE_TYPE FROM"
                                  " information_schema.ROUTINES WHERE ROUTINE_SCHEMA = %s",
                            (database,)):
        objs.routines.append(Definition(str(kind), str(name), ""))
    for (name,) in query(conn, "SELECT EVENT_NAME FROM information_schema.EVENTS"
                               " WHERE EVENT_SCHEMA = %s", (database,)):
        objs.events.append(Definition("EVENT", str(name), ""))
    return objs


@contextmanager
def _session(conn: Any, definition: Definition) -> Iterator[None]:
    """The session settings a definition was made under, put back afterwards."""
    saved = query(conn, "SELECT @@SESSION.sql_mode, @@SESSION.time_zone")[0]
    if definition.sql_mode is not None:
        run(conn, "SET SESSION sql_mode = %s", (definition.sql_mode,))
    if definition.time_zone is not None:
        run(conn, "SET SESSION time_zone = %s", (definition.time_zone,))
    try:
        yield
    finally:
        run(conn, "SET SESSION sql_mode = %s, time_zone = %s", (saved[0], saved[1]))


def create(conn: Any, definitions: Iterable[Definition]) -> None:
    for d in definitions:
        with _session(conn, d):
            run(conn, d.sql)


def create_views(conn: Any, definitions: Sequence[Definition]) -> None:
    """Views in an order that works: one may use another made later in the list."""
    pending = list(definitions)
    while pending:
        failed: list[tuple[Definition, Exception]] = []
        for d in pending:
            try:
                run(conn, d.sql)
            except Exception as exc:
                if not (exc.args and exc.args[0] in _VIEW_NOT_YET):
                    raise
                failed.append((d, exc))
        if len(failed) == len(pending):
            raise failed[0][1]
        pending = [d for d, _ in failed]


def drop(conn: Any, database: str, objs: Objects) -> None:
    db = quote_ident(database)
    for d in objs.triggers:
        run(conn, f"DROP TRIGGER IF EXISTS {db}.{quote_ident(d.name)}")
    for d in objs.events:
        run(conn, f"DROP EVENT IF EXISTS {db}.{quote_ident(d.name)}")
    for d in objs.routines:
        run(conn, f"DROP {d.kind} IF EXISTS {db}.{quote_ident(d.name)}")


# -- staging database and the swap -----------------------------------------------------------


def staging_name(database: str) -> str:
    """The staging database of restores into ``database``: one per live database, so what a
    killed restore left is found (and dropped) by the next one."""
    return "mig_restore_" + hashlib.sha256(database.encode()).hexdigest()[:20]


def dialect_for(dialect: MySQLDialect, database: str, options: dict[str, Any]) -> MySQLDialect:
    """A dialect object of the same class for another database of the same server."""
    url = with_database(dialect.url, database)
    return type(dialect)(url, base_dir=Path.cwd(), options=options)


@dataclass
class Staging:
    """A new database on the live one's server that a backup is loaded into."""

    server: Server
    name: str
    conn: Any

    @classmethod
    @contextmanager
    def create(
        cls, server: Server, dialect: MySQLDialect, charset_: tuple[str, str]
    ) -> Iterator[Staging]:
        name = staging_name(server.database)
        admin = dialect.open_connection("")
        try:
            run(admin, f"DROP DATABASE IF EXISTS {quote_ident(name)}")
            collate = f" COLLATE {charset_[1]}" if charset_[1] else ""
            run(admin, f"CREATE DATABASE {quote_ident(name)} CHARACTER SET {charset_[0]}"
                       f"{collate}")
            conn = dialect.open_connection(name)
            try:
                yield cls(server, name, conn)
            finally:
                with suppress(Exception):
                    conn.close()
        finally:
            try:
                with suppress(Exception):  # a leftover is dropped by the next restore
                    run(admin, f"DROP DATABASE IF EXISTS {quote_ident(name)}")
            finally:
                with suppress(Exception):
                    admin.close()

    def finish(self, dialect: MySQLDialect, job: RestoreJob, options: dict[str, Any]) -> None:
        """mig's current audit trail, written into the staging copy (``job.finish``)."""
        staged = dialect_for(dialect, self.name, options)
        staged.connect()
        try:
            staged.begin()
            try:
                job.finish(staged)
                staged.commit()
            except BaseException:
                with suppress(Exception):
                    staged.rollback()
                raise
        finally:
            staged.close()


def swap_in(dialect: MySQLDialect, staging: Staging, lock_timeout: float) -> None:
    """Put the staging database's contents in place of the live database's.

    1. Read the staging copy's views, triggers, routines and events; drop its triggers (a
       table with triggers cannot be renamed into another database).
    2. ONE ``RENAME TABLE``: every live table and view to a temporary name in the live
       database, every staged table to its name in the live database. Until this statement
       the live database is untouched; it is atomic.
    3. Then, in the live database: its routines and events are replaced by the staged ones,
       and the staged views and triggers made; last, the old tables and views are dropped.
    """
    conn = dialect.connection
    live, stage = staging.server.database, staging.name
    objs = read_objects(staging.conn, stage)
    drop(staging.conn, stage, Objects(triggers=objs.triggers))
    old_objs = read_objects(conn, live, names_only=True)
    moving_out = base_tables(conn, live)
    old_views = views(conn, live)
    token = os.urandom(4).hex()
    aside = {name: f"mig_old_{token}_{i}" for i, name in enumerate([*moving_out, *old_views])}
    L, S = quote_ident(live), quote_ident(stage)
    pairs = [f"{L}.{quote_ident(n)} TO {L}.{quote_ident(a)}" for n, a in aside.items()]
    pairs += [f"{S}.{quote_ident(n)} TO {L}.{quote_ident(n)}"
              for n in base_tables(staging.conn, stage)]
    if pairs:
        run(conn, "SET SESSION lock_wait_timeout = %s", (max(1, int(lock_timeout)),))
        run(conn, "RENAME TABLE " + ", ".join(pairs))
    try:
        # The old triggers went aside with their tables, but their names still count.
        drop(conn, live, old_objs)
        create(conn, objs.routines)
        create_views(conn, objs.views)
        create(conn, objs.triggers)
        create(conn, objs.events)
    except MigError:
        raise
    except Exception as exc:
        raise BackupError(
            "the restored tables and mig's audit trail are in place, but making the views,"
            f" triggers, routines and events again failed: {describe(dialect, exc)};"
            " restore the backup again"
        ) from exc
    finally:
        drop_aside(conn, live, aside, set(old_views))


def drop_aside(conn: Any, live: str, aside: dict[str, str], old_views: set[str]) -> None:
    L = quote_ident(live)
    gone_views = [f"{L}.{quote_ident(a)}" for n, a in aside.items() if n in old_views]
    gone_tables = [f"{L}.{quote_ident(a)}" for n, a in aside.items() if n not in old_views]
    (checks,) = query(conn, "SELECT @@SESSION.foreign_key_checks")[0]
    run(conn, "SET SESSION foreign_key_checks = 0")
    try:
        if gone_views:
            run(conn, "DROP VIEW IF EXISTS " + ", ".join(gone_views))
        if gone_tables:
            run(conn, "DROP TABLE IF EXISTS " + ", ".join(gone_tables))
    finally:
        run(conn, "SET SESSION foreign_key_checks = %s", (int(checks),))


def restore_by_swap(ctx: Context, job: RestoreJob, server: Server, charset_: tuple[str, str],
                    pieces: Sequence[tuple[Path, int, int | None]]) -> None:
    """The restore of full, schema and incremental backups: load ``pieces`` (SQL) into a
    staging database, write mig's audit trail there, and swap it in (:func:`swap_in`)."""
    dialect = mysql_dialect(ctx)
    options = dict(ctx.config.options.get(dialect.name, {}))
    with Staging.create(server, dialect, charset_) as staging:
        server.load(staging.name, pieces)
        staging.finish(dialect, job, options)
        swap_in(dialect, staging, ctx.config.lock_timeout)


def saved_info(backup: Any, kind: str, fmt: int) -> dict[str, Any]:
    """What the manifest says about a backup (``extra.mysql``), checked."""
    data = (backup.extra or {}).get("mysql")
    if not isinstance(data, dict) or data.get("format") != fmt:
        raise BackupError(f"backup {backup.backup_id} is not a {kind} backup of a MySQL or"
                          " MariaDB database that this plugin reads")
    return data


def saved_charset(info: dict[str, Any]) -> tuple[str, str]:
    return str(info.get("charset") or "utf8mb4"), str(info.get("collation") or "")


def describe_server(conn: Any, database: str) -> dict[str, Any]:
    """Facts kept in the manifest: the database's character set and the server's version."""
    cs = charset(conn, database)
    (version,) = query(conn, "SELECT VERSION()")[0]
    return {"charset": cs[0], "collation": cs[1], "server": str(version)}


# -- running a data dump inside a transaction -----------------------------------------------


def statements(path: Path, offset: int = 0, length: int | None = None) -> Iterator[bytes]:
    """The statements of a data-only dump (or of a range of it): every statement ends a line
    with ``;`` (the dump escapes line breaks inside strings, and each row of a multi-row
    INSERT ends with ``,``); comment lines and the client's sandbox command are left out."""
    with path.open("rb") as fh:
        fh.seek(offset)
        left = length
        parts: list[bytes] = []
        for line in fh:
            if left is not None:
                if left <= 0:
                    break
                line = line[:left]
                left -= len(line)
            if not parts and (not line.strip() or line.startswith((b"--", _SANDBOX))):
                continue
            parts.append(line)
            if line.rstrip().endswith(b";"):
                yield b"".join(parts)
                parts.clear()
        if any(p.strip() for p in parts):
            raise BackupError(f"{path.name}: the dump ends inside a statement")


def foreign_key_problems(conn: Any, database: str, tables: set[str]) -> list[str]:
    """Foreign keys from or to ``tables`` that rows now break (checked by hand: the restore
    loads with ``foreign_key_checks`` off)."""
    rows = query(
        conn,
        "SELECT TABLE_NAME, CONSTRAINT_NAME, COLUMN_NAME, REFERENCED_TABLE_SCHEMA,"
        " REFERENCED_TABLE_NAME, REFERENCED_COLUMN_NAME FROM information_schema.KEY_COLUMN_USAGE"
        " WHERE TABLE_SCHEMA = %s AND REFERENCED_TABLE_NAME IS NOT NULL"
        " ORDER BY TABLE_NAME, CONSTRAINT_NAME, ORDINAL_POSITION",
        (database,),
    )
    keys: dict[tuple[str, str], list[tuple[str, str, str, str]]] = {}
    for table, name, column, ref_schema, ref_table, ref_column in rows:
        keys.setdefault((str(table), str(name)), []).append(
            (str(column), str(ref_schema), str(ref_table), str(ref_column)))
    lowered = {t.lower() for t in tables}
    problems = []
    for (table, _name), cols in keys.items():
        ref_schema, ref_table = cols[0][1], cols[0][2]
        if table.lower() not in lowered and ref_table.lower() not in lowered:
            continue
        on = " AND ".join(f"p.{quote_ident(r)} = c.{quote_ident(c)}" for c, _, _, r in cols)
        not_null = " AND ".join(f"c.{quote_ident(c)} IS NOT NULL" for c, _, _, _ in cols)
        (count,) = query(
            conn,
            f"SELECT COUNT(*) FROM {quote_ident(database)}.{quote_ident(table)} c"
            f" LEFT JOIN {quote_ident(ref_schema)}.{quote_ident(ref_table)} p ON {on}"
            f" WHERE {not_null} AND p.{quote_ident(cols[0][3])} IS NULL",
        )[0]
        if count:
            problems.append(f"{count} row(s) of {table!r} refer to missing rows of {ref_table!r}")
    return problems


# -- errors and parts -----------------------------------------------------------------------


def describe(dialect: MySQLDialect, exc: Exception) -> str:
    return dialect.describe(exc)


@contextmanager
def driver_errors(dialect: MySQLDialect, what: str) -> Iterator[None]:
    """The driver's errors as a BackupError of one line naming ``what`` failed."""
    try:
        yield
    except MigError:
        raise
    except Exception as exc:
        if type(exc).__module__.split(".")[0] != "pymysql":
            raise
        raise BackupError(f"{what} failed: {describe(dialect, exc)}") from exc
