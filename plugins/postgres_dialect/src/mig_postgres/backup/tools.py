"""PostgreSQL backups with the server's own tools, and restores on a connection mig controls.

Shared by the backup types of :mod:`mig_postgres.backup`. It reaches the server through
what the postgres dialect exposes (``target``, ``connection``, ``open_connection``,
``scrub``); the driver is imported by the dialect, never here.

- ``pg_dump`` writes custom-format archives (``-Fc``). It is given the connection as a libpq
  connection string without the password; the password travels in ``PGPASSWORD``, never on a
  command line. Backups that need several dumps, or a table list that matches the dump
  exactly, run ``pg_dump --snapshot`` on a snapshot exported by a transaction of mig's.
- A restore never uses ``pg_restore -d``: ``pg_restore -f -`` turns the archive into SQL
  (one section at a time), which :func:`replay` runs on the dialect's own connection, COPY
  data streamed through ``COPY ... FROM STDIN``. So the whole restore, and mig's audit trail
  (``job.finish``), is one transaction that commits or leaves the database as it was.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import tempfile
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from mig import BackupError, MigError

if TYPE_CHECKING:
    from mig.protocols import RestoreJob

    from ..dialect import PostgresDialect

#: Objects with OIDs below this are made by initdb (pg_catalog, information_schema, ...).
FIRST_NORMAL_OID = 16384
_CHUNK = 1 << 20
#: What psycopg hands to libpq in one piece (larger writes it splits, copying them).
PIECE = 128 << 10
_COPY_LINE = re.compile(rb"^COPY (.+) FROM stdin;\n\Z")
_END_OF_COPY = b"\\.\n"
SECTIONS = ("pre-data", "data", "post-data")


def quote_ident(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def quote_literal(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def qualified(schema: str, name: str) -> str:
    return f"{quote_ident(schema)}.{quote_ident(name)}"


def pattern(schema: str, name: str | None = None) -> str:
    """A pg_dump ``-n``/``-t`` pattern naming exactly this schema (or table): inside double
    quotes every character is literal."""
    text = quote_ident(schema)
    return text if name is None else f"{text}.{quote_ident(name)}"


def _conninfo_value(value: Any) -> str:
    text = str(value)
    return "'" + text.replace("\\", "\\\\").replace("'", "\\'") + "'"


class Server:
    """How the client tools reach the dialect's database: a connection string without the
    password, and an environment that holds it."""

    def __init__(self, dialect: PostgresDialect) -> None:
        target = dialect.target
        self.dialect = dialect
        self.target = target
        kwargs = dict(target.connect_kwargs())
        password = kwargs.pop("password", None)
        self.conninfo = " ".join(f"{k}={_conninfo_value(v)}" for k, v in kwargs.items())
        self.env = dict(os.environ)
        if password is not None:
            self.env["PGPASSWORD"] = str(password)
        self.env.setdefault("PGAPPNAME", "mig backup")

    def tool(self, name: str) -> str:
        found = shutil.which(name)
        if found is None:
            raise BackupError(
                f"{name} is not on the PATH: install the PostgreSQL client tools (the same"
                " major version as the server, or newer)"
            )
        return found

    def scrub(self, text: str) -> str:
        return self.dialect.scrub(text)

    def run(self, args: Sequence[str], what: str) -> str:
        """Run a client tool to completion; its stdout, or a BackupError with its stderr."""
        proc = subprocess.run(
            list(args), env=self.env, stdin=subprocess.DEVNULL, capture_output=True,
            check=False,
        )
        if proc.returncode != 0:
            raise BackupError(f"{what} failed: {self.stderr_text(proc.stderr)}")
        return proc.stdout.decode("utf-8", "replace")

    def stderr_text(self, raw: bytes) -> str:
        lines = [" ".join(line.split()) for line in raw.decode("utf-8", "replace").splitlines()]
        text = "; ".join(line for line in lines if line) or "no message"
        return self.scrub(text)

    def dump(self, out: Path, args: Sequence[str], snapshot: str | None = None) -> None:
        """``pg_dump -Fc`` of the database into ``out`` (0600)."""
        fd = os.open(out, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        os.close(fd)
        cmd = [self.tool("pg_dump"), "--format=custom", f"--file={out}"]
        if snapshot is not None:
            cmd.append(f"--snapshot={snapshot}")
        cmd += [*args, f"--dbname={self.conninfo}"]
        self.run(cmd, "pg_dump")

    def toc(self, archive: Path) -> list[TocEntry]:
        """The archive's table of contents (``pg_restore -l``)."""
        out = self.run([self.tool("pg_restore"), "--list", str(archive)], "pg_restore --list")
        return [e for e in map(TocEntry.parse, out.splitlines()) if e is not None]

    def script(self, archive: Path, args: Sequence[str]) -> subprocess.Popen[bytes]:
        """``pg_restore -f -``: the archive as SQL on the process's stdout."""
        return subprocess.Popen(
            [self.tool("pg_restore"), "--file=-", *args, str(archive)],
            env=self.env, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
            stderr=tempfile.TemporaryFile(), bufsize=0,
        )


@dataclass
class TocEntry:
    """One line of ``pg_restore -l``: ``id; tableoid oid DESC schema name owner``."""

    line: str
    dump_id: int
    desc: str
    rest: str

    #: Descriptions of two words (the rest of the line starts after them).
    _DESCS = ("TABLE DATA", "SEQUENCE SET", "SEQUENCE OWNED BY", "FK CONSTRAINT",
              "MATERIALIZED VIEW DATA", "LARGE OBJECT", "BLOB", "BLOBS", "ACL", "COMMENT",
              "DEFAULT ACL", "EVENT TRIGGER", "TEXT SEARCH DICTIONARY",
              "TEXT SEARCH CONFIGURATION", "TEXT SEARCH PARSER", "TEXT SEARCH TEMPLATE",
              "FOREIGN TABLE", "FOREIGN DATA WRAPPER", "FOREIGN SERVER", "USER MAPPING",
              "OPERATOR CLASS", "OPERATOR FAMILY", "PUBLICATION TABLE",
              "PUBLICATION TABLES IN SCHEMA", "MATERIALIZED VIEW", "DEFAULT", "SCHEMA",
              "TABLE", "SEQUENCE")

    @classmethod
    def parse(cls, line: str) -> TocEntry | None:
        line = line.rstrip("\n")
        if not line or line.startswith(";"):
            return None
        head, sep, tail = line.partition("; ")
        if not sep or not head.isdigit():
            return None
        parts = tail.split(" ", 2)
        if len(parts) < 3:
            return None
        words = parts[2]
        for desc in sorted(cls._DESCS, key=len, reverse=True):
            if words.startswith(desc + " "):
                return cls(line, int(head), desc, words[len(desc) + 1:])
        return cls(line, int(head), words.split(" ", 1)[0], words.partition(" ")[2])


# -- the snapshot backups are taken from -----------------------------------------------------


@contextmanager
def exported_snapshot(dialect: PostgresDialect) -> Iterator[tuple[Any, str]]:
    """A read-only repeatable-read transaction on a connection of its own, and the name of its
    exported snapshot for ``pg_dump --snapshot``: what is read here and what pg_dump dumps are
    the same database state."""
    conn = dialect.open_connection(application_name="mig backup")
    try:
        conn.execute("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY")
        row = conn.execute("SELECT pg_export_snapshot()").fetchone()
        assert row is not None  # a SELECT without FROM gives one row
        (name,) = row
        yield conn, str(name)
    finally:
        conn.close()


def mig_schema(dialect: PostgresDialect) -> str:
    """The schema mig's bookkeeping lives in (the configured one, or the connection's)."""
    schema = dialect.target.schema
    if schema:
        return str(schema)
    row = dialect.query("SELECT current_schema()")
    if not row or row[0][0] is None:
        raise BackupError("the postgres connection has no current schema (check search_path)")
    return str(row[0][0])


def scope(conn: Any, dialect: PostgresDialect) -> tuple[str | None, list[str]]:
    """What a backup covers: ``(schema, [schema])`` when mig is configured for one schema,
    else ``(None, every schema of the database that is not the system's)``."""
    schema = dialect.target.schema
    if schema:
        return str(schema), [str(schema)]
    rows = conn.execute(
        "SELECT nspname FROM pg_namespace WHERE nspname !~ '^pg_'"
        " AND nspname <> 'information_schema' ORDER BY 1"
    ).fetchall()
    return None, [r[0] for r in rows]


def scope_args(schema: str | None) -> list[str]:
    return [f"--schema={pattern(schema)}"] if schema else []


@dataclass
class Table:
    schema: str
    name: str
    #: Columns whose values are stored (not generated), in order.
    columns: list[str]
    #: The table's OID in the database it was read from (not saved).
    oid: int = 0

    @property
    def key(self) -> str:
        return f"{self.schema}.{self.name}"

    @property
    def sql(self) -> str:
        return qualified(self.schema, self.name)

    def to_json(self) -> dict[str, Any]:
        return {"schema": self.schema, "name": self.name, "columns": self.columns}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Table:
        return cls(str(data["schema"]), str(data["name"]), [str(c) for c in data["columns"]])


def tables(conn: Any, schemas: Sequence[str]) -> list[Table]:
    """The ordinary tables (partitions included) of ``schemas`` whose rows pg_dump saves:
    not temporary, not an extension's."""
    rows = conn.execute(
        "SELECT n.nspname, c.relname, c.oid,"
        " array(SELECT a.attname::text FROM pg_attribute a WHERE a.attrelid = c.oid"
        "       AND a.attnum > 0 AND NOT a.attisdropped AND a.attgenerated = ''"
        "       ORDER BY a.attnum)"
        " FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace"
        " WHERE c.relkind = 'r' AND c.relpersistence <> 't' AND n.nspname = ANY(%s)"
        " AND NOT EXISTS (SELECT 1 FROM pg_depend d WHERE d.classid = 'pg_class'::regclass"
        "                 AND d.objid = c.oid AND d.deptype = 'e')"
        " ORDER BY 1, 2",
        (list(schemas),),
    ).fetchall()
    return [Table(schema, name, list(cols), int(oid)) for schema, name, oid, cols in rows]


def is_bookkeeping(table: Table, schema: str, prefix: str) -> bool:
    """mig's own tables: in mig's schema, named with the table prefix."""
    return bool(prefix) and table.schema == schema and table.name.lower().startswith(
        prefix.lower()
    )


# -- replaying an archive on mig's connection -------------------------------------------------


class Pipe:
    """A buffered reader of pg_restore's output: lines of SQL, and the rows of COPY blocks
    passed on as they come, in pieces of at most 128 KiB (what psycopg sends without
    splitting and copying them again)."""

    def __init__(self, raw: Any) -> None:
        self.raw = raw
        self.fd = raw.fileno()
        self.buf = bytearray()
        self.pos = 0
        _widen(raw)

    def _fill(self) -> bool:
        chunk = os.read(self.fd, _CHUNK)
        if not chunk:
            return False
        if self.pos and self.pos * 2 >= len(self.buf):
            del self.buf[:self.pos]
            self.pos = 0
        self.buf += chunk
        return True

    def readline(self) -> bytes:
        scanned = self.pos
        while True:
            end = self.buf.find(b"\n", scanned)
            if end >= 0:
                line = bytes(self.buf[self.pos:end + 1])
                self.pos = end + 1
                return line
            scanned = len(self.buf)
            before = self.pos
            if not self._fill():
                line = bytes(self.buf[self.pos:])
                self.pos = len(self.buf)
                return line
            scanned -= before - self.pos  # the buffer may have moved

    def copy_data(self, write: Callable[[bytes], Any]) -> None:
        """Pass on the rows of a COPY block, up to its ``\\.`` line (not included), which must
        be at the start of a line (a row never is ``\\.``: COPY escapes backslashes). Rows
        may be cut anywhere between two writes, but the start of a possible end marker is held
        back until the next read shows whether it is one."""
        pending = bytes(self.buf[self.pos:])
        self.buf.clear()
        self.pos = 0
        line_start = True
        while True:
            if line_start and pending.startswith(_END_OF_COPY):
                end = 0
            else:
                end = pending.find(b"\n" + _END_OF_COPY)
                end = end + 1 if end >= 0 else -1
            if end >= 0:
                _write_pieces(write, pending[:end])
                self.buf += pending[end + len(_END_OF_COPY):]
                return
            keep = 0
            for tail in (b"\\.", b"\\"):
                if pending.endswith(b"\n" + tail) or (line_start and pending == tail):
                    keep = len(tail)
                    break
            out = pending[:len(pending) - keep] if keep else pending
            _write_pieces(write, out)
            line_start = bool(keep) or (out.endswith(b"\n") if out else line_start)
            chunk = os.read(self.fd, PIECE)
            if not chunk:
                raise BackupError("the archive ended inside the rows of a table")
            pending = pending[len(pending) - keep:] + chunk if keep else chunk


def _write_pieces(write: Callable[[bytes], Any], data: bytes) -> None:
    if len(data) <= PIECE:
        if data:
            write(data)
        return
    view = memoryview(data)
    for i in range(0, len(data), PIECE):
        write(bytes(view[i:i + PIECE]))


def _widen(pipe: Any) -> None:
    """Ask for a 1 MiB pipe buffer (Linux), so that pg_restore blocks less often."""
    import fcntl

    set_size = getattr(fcntl, "F_SETPIPE_SZ", 1031)
    with suppress(OSError, ValueError, AttributeError):
        fcntl.fcntl(pipe.fileno(), set_size, _CHUNK)


def replay(
    server: Server,
    conn: Any,
    archive: Path,
    args: Sequence[str],
    on_copy: Callable[[str], None] | None = None,
    rows_only: bool = False,
) -> int:
    """Run what ``pg_restore -f - ARGS ARCHIVE`` writes on ``conn`` (inside the caller's
    transaction): statements as they come, the rows of each ``COPY ... FROM stdin`` through
    psycopg's COPY. ``on_copy`` sees each COPY's target first (and may refuse it). Returns the
    number of COPY blocks.

    ``rows_only``: the script is a data section (rows, sequence values, large objects), made
    by pg_restore alone. It wraps each large object's writes in ``BEGIN;`` ... ``COMMIT;``
    lines, which would end the caller's transaction: those lines are dropped (only there: in
    the other sections they could be lines of a procedure's body).

    pg_restore's script starts with ``\\restrict KEY`` and ends with ``\\unrestrict KEY``,
    psql meta-commands that guard psql against a malicious dump; they are not SQL and are
    dropped (only those lines, recognised by their key)."""
    proc = server.script(archive, args)
    pipe = Pipe(proc.stdout)
    copies = 0
    key: bytes | None = None
    sql: list[bytes] = []

    def flush() -> None:
        if sql:
            text = b"".join(sql).decode("utf-8")
            sql.clear()
            if text.strip():
                conn.execute(text)

    try:
        while True:
            line = pipe.readline()
            if not line:
                break
            if key is None and line.startswith(b"\\restrict ") and _only_comments(sql):
                key = line.split(b" ", 1)[1].strip()
                continue
            if key is not None and line.strip() == b"\\unrestrict " + key:
                continue
            if rows_only and line in (b"BEGIN;\n", b"COMMIT;\n"):
                continue
            match = _COPY_LINE.match(line) if line.startswith(b"COPY ") else None
            if match is None:
                sql.append(line)
                continue
            flush()
            statement = line.decode("utf-8").rstrip().removesuffix(";")
            if on_copy is not None:
                on_copy(match.group(1).decode("utf-8").rsplit(" (", 1)[0])
            with conn.cursor() as cur, cur.copy(statement) as copy:
                pipe.copy_data(copy.write)
            copies += 1
        flush()
    except BaseException:
        proc.kill()
        proc.wait()
        raise
    finally:
        if proc.stdout is not None:
            proc.stdout.close()
    if proc.wait() != 0:
        err = proc.stderr
        assert err is not None
        err.seek(0)
        raise BackupError(f"pg_restore failed: {server.stderr_text(err.read())}")
    return copies


def _only_comments(lines: Sequence[bytes]) -> bool:
    return all(not line.strip() or line.startswith(b"--") for line in lines)


def owner_args(conn: Any) -> list[str]:
    """A superuser restores owners as they were; another role cannot give objects away, so
    they become its own (``--no-owner``), as when that role created them."""
    (superuser,) = conn.execute(
        "SELECT rolsuper FROM pg_roles WHERE rolname = current_user"
    ).fetchone()
    return [] if superuser else ["--no-owner"]


def set_lock_timeout(conn: Any, seconds: float | None) -> None:
    """How long this transaction's statements wait for another session's lock (an open
    transaction that read a table holds one) before failing; pg_restore's script sets it
    back to 0 (no limit) once the tables are mig's."""
    if seconds is not None:
        millis = max(1, int(float(seconds) * 1000))
        conn.execute(f"SET LOCAL lock_timeout = {millis}")


def search_path(conn: Any) -> str:
    return str(conn.execute("SELECT current_setting('search_path')").fetchone()[0])


def reset_search_path(conn: Any, value: str) -> None:
    """pg_restore's script empties ``search_path`` for the session; mig's bookkeeping (and
    the rest of the session) needs the one it had."""
    conn.execute("SELECT pg_catalog.set_config('search_path', %s, false)", (value,))


# -- emptying what a restore replaces -------------------------------------------------------

#: Objects outside a schema that DROP SCHEMA ... CASCADE could take with it (toast tables,
#: which go with their tables, are not counted).
_OUTSIDE = """
SELECT 'pg_class'::regclass, c.oid, 0 FROM pg_class c
  WHERE c.oid >= {first} AND c.relnamespace NOT IN ({ns}, 'pg_toast'::regnamespace)
UNION ALL SELECT 'pg_proc'::regclass, p.oid, 0 FROM pg_proc p
  WHERE p.oid >= {first} AND p.pronamespace <> {ns}
UNION ALL SELECT 'pg_type'::regclass, t.oid, 0 FROM pg_type t
  WHERE t.oid >= {first} AND t.typnamespace <> {ns}
UNION ALL SELECT 'pg_constraint'::regclass, o.oid, 0 FROM pg_constraint o
  WHERE o.oid >= {first} AND o.connamespace <> {ns}
UNION ALL SELECT 'pg_trigger'::regclass, g.oid, 0 FROM pg_trigger g
  JOIN pg_class c ON c.oid = g.tgrelid WHERE g.oid >= {first} AND c.relnamespace <> {ns}
UNION ALL SELECT 'pg_rewrite'::regclass, r.oid, 0 FROM pg_rewrite r
  JOIN pg_class c ON c.oid = r.ev_class WHERE r.oid >= {first} AND c.relnamespace <> {ns}
UNION ALL SELECT 'pg_policy'::regclass, y.oid, 0 FROM pg_policy y
  JOIN pg_class c ON c.oid = y.polrelid WHERE c.relnamespace <> {ns}
UNION ALL SELECT 'pg_attrdef'::regclass, d.oid, 0 FROM pg_attrdef d
  JOIN pg_class c ON c.oid = d.adrelid WHERE c.relnamespace <> {ns}
UNION ALL SELECT 'pg_class'::regclass, a.attrelid, a.attnum FROM pg_attribute a
  JOIN pg_class c ON c.oid = a.attrelid
  WHERE a.attrelid >= {first} AND a.attnum > 0 AND NOT a.attisdropped
  AND c.relnamespace NOT IN ({ns}, 'pg_toast'::regnamespace)
UNION ALL SELECT 'pg_extension'::regclass, e.oid, 0 FROM pg_extension e
"""


def _outside(conn: Any, namespace: int) -> set[tuple[Any, ...]]:
    rows = conn.execute(_OUTSIDE.format(first=FIRST_NORMAL_OID, ns=int(namespace))).fetchall()
    return {(str(c), int(o), int(s)) for c, o, s in rows}


def drop_schema(conn: Any, schema: str) -> None:
    """``DROP SCHEMA ... CASCADE`` of mig's schema, refused (and undone) when it would also
    drop something outside it: a view of another schema over one of its tables, a column of
    one of its types, an extension living in it (not in a one-schema dump), and so on."""
    row = conn.execute("SELECT oid FROM pg_namespace WHERE nspname = %s", (schema,)).fetchone()
    if row is None:
        return
    before = _outside(conn, row[0])
    conn.execute("SAVEPOINT mig_drop_schema")
    conn.execute(f"DROP SCHEMA {quote_ident(schema)} CASCADE")
    gone = sorted(before - _outside(conn, row[0]))
    if not gone:
        conn.execute("RELEASE SAVEPOINT mig_drop_schema")
        return
    conn.execute("ROLLBACK TO SAVEPOINT mig_drop_schema")
    names = [
        str(conn.execute(
            "SELECT pg_describe_object(%s::regclass, %s, %s)", (c, o, s)
        ).fetchone()[0])
        for c, o, s in gone[:10]
    ]
    more = f" and {len(gone) - 10} more" if len(gone) > 10 else ""
    raise BackupError(
        f"restoring schema {schema!r} would also drop what depends on it outside it:"
        f" {', '.join(names)}{more}; nothing was restored (drop or move those first)"
    )


def drop_database_contents(conn: Any, schemas: Sequence[str]) -> None:
    """Empty the database for a whole-database restore: every schema that is not the
    system's, large objects, publications and event triggers (what a whole-database dump
    creates again). ``public`` is made again as initdb makes it, for the dump to adjust."""
    for (name,) in conn.execute("SELECT evtname FROM pg_event_trigger").fetchall():
        conn.execute(f"DROP EVENT TRIGGER {quote_ident(name)}")
    for (name,) in conn.execute("SELECT pubname FROM pg_publication").fetchall():
        conn.execute(f"DROP PUBLICATION {quote_ident(name)}")
    conn.execute("SELECT pg_catalog.lo_unlink(oid) FROM pg_catalog.pg_largeobject_metadata")
    if schemas:
        conn.execute(f"DROP SCHEMA {', '.join(map(quote_ident, schemas))} CASCADE")


def create_public(conn: Any) -> None:
    """``public`` as initdb makes it (PostgreSQL 15): a whole-database dump leaves it out
    unless it was changed, and then says only what changed."""
    (version,) = conn.execute("SHOW server_version_num").fetchone()
    owner = "pg_database_owner" if int(version) >= 140000 else "CURRENT_USER"
    conn.execute(f"CREATE SCHEMA public AUTHORIZATION {owner}")
    if int(version) >= 150000:
        conn.execute("GRANT USAGE ON SCHEMA public TO PUBLIC")
    else:
        conn.execute("GRANT ALL ON SCHEMA public TO PUBLIC")
    conn.execute("COMMENT ON SCHEMA public IS 'standard public schema'")


def creates_public(toc: Sequence[TocEntry]) -> bool:
    return any(e.desc == "SCHEMA" and e.rest.startswith("- public ") for e in toc)


def replace_database(
    dialect: PostgresDialect,
    job: RestoreJob,
    server: Server,
    schema: str | None,
    archive: Path,
    rows: Sequence[tuple[Path, Sequence[str]]],
    lock_timeout: float | None = None,
) -> None:
    """The restore of full, schema and incremental backups, in ONE transaction on the
    dialect's connection: empty what the backup covers (``schema``, or the whole database),
    run the pre-data section of ``archive``, the rows (each ``(archive, pg_restore args)``),
    its post-data section, write mig's audit trail (``job.finish``), COMMIT. Emptying waits
    at most ``lock_timeout`` seconds for other sessions' locks (then fails, nothing changed)."""
    toc = server.toc(archive)
    conn = dialect.connection
    if conn is None:
        raise BackupError("the postgres database is not connected")
    dialect.begin()
    try:
        path = search_path(conn)
        args = owner_args(conn)
        set_lock_timeout(conn, lock_timeout)
        if schema:
            drop_schema(conn, schema)
        else:
            drop_database_contents(conn, scope(conn, dialect)[1])
            if not creates_public(toc):
                create_public(conn)
        replay(server, conn, archive, ["--section=pre-data", *args])
        for source, source_args in rows:
            replay(server, conn, source, [*source_args, *args], rows_only=True)
        replay(server, conn, archive, ["--section=post-data", *args])
        reset_search_path(conn, path)
        job.finish(dialect)
        dialect.commit()
    except BaseException:
        with suppress(Exception):
            dialect.rollback()
        raise


def saved_scope(backup: Any, kind: str, fmt: int) -> dict[str, Any]:
    """What the manifest says about a backup (``extra.postgres``), checked."""
    saved = (backup.extra or {}).get("postgres")
    if not isinstance(saved, dict) or saved.get("format") != fmt:
        raise BackupError(f"backup {backup.backup_id} is not a {kind} backup of a PostgreSQL"
                          " database that this plugin reads")
    return saved


def check_scope(dialect: PostgresDialect, backup: Any, schema: str | None) -> None:
    """A backup of one schema restores into that schema only, a whole-database one only into
    a whole database."""
    current = dialect.target.schema
    if schema != current:
        def name(s: str | None) -> str:
            return f"schema {s!r}" if s else "the whole database"

        raise BackupError(
            f"backup {backup.backup_id} holds {name(schema)}, but mig is configured for"
            f" {name(current)}; nothing was restored"
        )


# -- errors ---------------------------------------------------------------------------------


@contextmanager
def driver_errors(server: Server, what: str) -> Iterator[None]:
    """The driver's errors as a BackupError of one line naming ``what`` failed."""
    try:
        yield
    except MigError:
        raise
    except Exception as exc:
        if type(exc).__module__.split(".")[0] != "psycopg":
            raise
        text = " ".join(str(exc).split()) or type(exc).__name__
        raise BackupError(f"{what} failed: {server.scrub(text)}") from exc

