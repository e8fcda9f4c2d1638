"""Data backups of SQLite databases.

The backup (part ``data``) is itself a small SQLite database holding one table per user table
of the live database, same name, same columns, every row, and the row's ``rowid`` as the
copy's own ``rowid`` (for tables that have one). Why a SQLite file rather than, say, JSON
lines: it keeps every value exactly as stored (integer, real, text, blob and NULL, including
text that looks like a number and reals that JSON would round-trip through text), it is
written and read by SQLite itself in C (``INSERT ... SELECT`` across an attached database) so
the copy costs little more than the rows' size, and anyone can open it with the sqlite3 shell.
The copy's columns are declared without a type, so SQLite stores each value as given.

User tables are the ordinary tables (not views, virtual tables or their shadow tables, nor
``sqlite_*``) whose names do not start with ``table_prefix``: mig's bookkeeping is not data.
Generated columns are computed, not saved.

Restore replaces the rows of every saved table in one transaction on the live connection,
keeping the schema: the saved tables must all exist with the same columns, or nothing changes.
Within the transaction: the triggers of those tables are dropped (so re-inserted rows do not
fire them) and recreated from their saved SQL; the rows are deleted and inserted back with
foreign-key enforcement off, so that ``ON DELETE CASCADE``/``SET NULL`` cannot reach tables the
backup did not save, and the foreign keys touching the saved tables are checked explicitly
before mig's bookkeeping is written (``job.finish``) and the transaction commits.
"""

from __future__ import annotations

import os
import re
import sqlite3
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import quote

from mig import BackupError
from mig.protocols import BackupHandler, BackupJob, Context, RestoreJob

from ..dialect import SQLiteDialect
from . import sqlite_dialect

_COPY = "mig_backup_data"
_SAVED = "mig_restore_data"
_ROWID_NAMES = ("rowid", "_rowid_", "oid")
_WITHOUT_ROWID = re.compile(r"\)\s*(?:STRICT\s*,\s*)?WITHOUT\s+ROWID\b", re.IGNORECASE)


@dataclass
class Table:
    name: str
    columns: list[str]
    #: The name that reaches the table's rowid (None: WITHOUT ROWID, or all three are columns).
    rowid: str | None


class Handler(BackupHandler):
    """The ``data`` backup type on SQLite (see the module's docstring)."""

    finishes_atomically = True

    def create(self, ctx: Context, job: BackupJob) -> None:
        create(ctx, job)

    def restore(self, ctx: Context, job: RestoreJob) -> None:
        restore(ctx, job)


# -- backup ---------------------------------------------------------------------------------


def create(ctx: Context, job: BackupJob) -> None:
    conn = _connection(sqlite_dialect(ctx))
    out = job.workdir / "data"
    os.close(os.open(out, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))  # owner-only first
    try:
        conn.execute(f"ATTACH DATABASE ? AS {_COPY}", (str(out),))
        try:
            # The copy is checksummed and synced by the core once it is complete.
            conn.execute(f"PRAGMA {_COPY}.journal_mode = OFF")
            conn.execute(f"PRAGMA {_COPY}.synchronous = OFF")
            conn.execute("BEGIN")  # one read snapshot for every table
            try:
                saved, rows = _copy_tables(conn, ctx.config.table_prefix)
                conn.execute("COMMIT")
            finally:
                if conn.in_transaction:
                    conn.execute("ROLLBACK")
        finally:
            conn.execute(f"DETACH DATABASE {_COPY}")
    except sqlite3.Error as exc:
        raise BackupError(f"data backup failed: {exc}") from exc
    job.extra["sqlite"] = {"tables": saved, "rows": rows}


def _copy_tables(conn: sqlite3.Connection, prefix: str) -> tuple[list[str], int]:
    tables = user_tables(conn, "main", prefix)
    rows = 0
    for t in tables:
        cols = ", ".join(map(_quote, t.columns))
        conn.execute(f"CREATE TABLE {_COPY}.{_quote(t.name)} ({cols})")
        keys = f"{t.rowid}, {cols}" if t.rowid else cols
        name = _quote(t.name)
        cur = conn.execute(f"INSERT INTO {_COPY}.{name} ({keys}) SELECT {keys} FROM main.{name}")
        rows += max(cur.rowcount, 0)
    return [t.name for t in tables], rows


# -- restore --------------------------------------------------------------------------------


def restore(ctx: Context, job: RestoreJob) -> None:
    conn = _connection(sqlite_dialect(ctx))
    backup = job.chain[-1]
    source = job.fetch(backup, "data")
    try:
        conn.execute(f"ATTACH DATABASE ? AS {_SAVED}", (_read_only(conn, source),))
        try:
            _replace_rows(ctx, job, conn, backup.backup_id)
        finally:
            conn.execute(f"DETACH DATABASE {_SAVED}")
    except sqlite3.Error as exc:
        raise BackupError(f"restoring {backup.backup_id} failed: {exc}") from exc


def _replace_rows(ctx: Context, job: RestoreJob, conn: sqlite3.Connection, backup_id: str) -> None:
    saved = user_tables(conn, _SAVED, "")
    live = {t.name.lower(): t for t in user_tables(conn, "main", ctx.config.table_prefix)}
    plan = []
    for t in saved:
        current = live.get(t.name.lower())
        if current is None:
            raise BackupError(
                f"backup {backup_id} holds rows of table {t.name!r}, which the database no"
                " longer has; nothing was restored (restore a full or schema backup instead)"
            )
        _same_columns(t, current, backup_id)
        plan.append((t, current))
    names = [current.name.lower() for _, current in plan]
    marks = ", ".join("?" * len(names))
    triggers = conn.execute(
        f"SELECT name, sql FROM main.sqlite_master WHERE type = 'trigger'"
        f" AND lower(tbl_name) IN ({marks}) ORDER BY rowid",
        names,
    ).fetchall() if names else []
    enforced = conn.execute("PRAGMA foreign_keys").fetchone()[0]
    conn.execute("PRAGMA foreign_keys = OFF")  # a no-op inside a transaction: so before it
    try:
        ctx.dialect.begin()
        try:
            for name, _ in triggers:
                conn.execute(f"DROP TRIGGER main.{_quote(name)}")
            for _, current in plan:
                conn.execute(f"DELETE FROM main.{_quote(current.name)}")
            for t, current in plan:
                cols = ", ".join(map(_quote, current.columns))
                keep_rowid = current.rowid and t.rowid
                ins = f"{current.rowid}, {cols}" if keep_rowid else cols
                sel = f"{t.rowid}, {cols}" if keep_rowid else cols
                conn.execute(
                    f"INSERT INTO main.{_quote(current.name)} ({ins})"
                    f" SELECT {sel} FROM {_SAVED}.{_quote(t.name)}"
                )
            for _, sql in triggers:
                conn.execute(sql)
            _check_foreign_keys(conn, set(names), backup_id)
            job.finish(ctx.dialect)
            ctx.dialect.commit()
        except BaseException:
            ctx.dialect.rollback()
            raise
    finally:
        if enforced:
            conn.execute("PRAGMA foreign_keys = ON")


def _same_columns(saved: Table, current: Table, backup_id: str) -> None:
    have = {c.lower() for c in current.columns}
    want = {c.lower() for c in saved.columns}
    if have != want:
        gone = sorted(c for c in saved.columns if c.lower() not in have)
        new = sorted(c for c in current.columns if c.lower() not in want)
        detail = "; ".join(
            part for part in (
                f"gone: {', '.join(gone)}" if gone else "",
                f"new: {', '.join(new)}" if new else "",
            ) if part
        )
        raise BackupError(
            f"table {current.name!r} no longer has the columns backup {backup_id} saved"
            f" ({detail}); nothing was restored"
        )


def _check_foreign_keys(conn: sqlite3.Connection, tables: set[str], backup_id: str) -> None:
    """Refuse a restore whose rows break a foreign key from or to a restored table."""
    for table, _rowid, parent, _fk in conn.execute("PRAGMA main.foreign_key_check"):
        if table.lower() in tables or parent.lower() in tables:
            raise BackupError(
                f"restoring backup {backup_id} would leave rows of {table!r} referring to"
                f" missing rows of {parent!r}; nothing was restored"
            )


def _read_only(conn: sqlite3.Connection, path: Path) -> str:
    """The backup as a read-only URI where this SQLite reads URIs in ATTACH, else its path
    (only read either way)."""
    options = {row[0] for row in conn.execute("PRAGMA compile_options")}
    if "USE_URI" in options:
        return f"file:{quote(str(path))}?mode=ro"
    return str(path)


# -- shared ---------------------------------------------------------------------------------


def _connection(dialect: SQLiteDialect) -> sqlite3.Connection:
    conn = dialect.connection
    if conn is None:
        raise BackupError("the sqlite database is not connected")
    if conn.in_transaction:
        raise BackupError("a data backup or restore cannot run inside an open transaction")
    return conn


def user_tables(conn: sqlite3.Connection, schema: str, prefix: str) -> list[Table]:
    """The ordinary tables of ``schema`` whose names do not start with ``prefix``, by name."""
    found: list[tuple[str, bool]] = []
    try:
        for row in conn.execute(f"PRAGMA {schema}.table_list"):
            if row[0] == schema and row[2] == "table":
                found.append((row[1], bool(row[4])))
    except sqlite3.OperationalError:  # SQLite before 3.37
        for name, sql in conn.execute(
            f"SELECT name, sql FROM {schema}.sqlite_master WHERE type = 'table'"
            " AND sql NOT LIKE 'CREATE VIRTUAL%'"
        ):
            found.append((name, bool(_WITHOUT_ROWID.search(sql or ""))))
    tables = []
    for name, without_rowid in sorted(found, key=lambda f: f[0].lower()):
        lowered = name.lower()
        if lowered.startswith("sqlite_") or (prefix and lowered.startswith(prefix.lower())):
            continue
        info = conn.execute(f"PRAGMA {schema}.table_xinfo({_quote(name)})").fetchall()
        every = {r[1].lower() for r in info}
        rowid = None
        if not without_rowid:
            rowid = next((n for n in _ROWID_NAMES if n not in every), None)
        tables.append(Table(name, [r[1] for r in info if r[6] == 0], rowid))
    return tables


def _quote(name: Any) -> str:
    return '"' + str(name).replace('"', '""') + '"'
