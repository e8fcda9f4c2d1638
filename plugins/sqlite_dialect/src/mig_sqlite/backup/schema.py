"""Schema backups of SQLite databases.

The backup (part ``data``) is a JSON document: the database-wide settings a schema depends on
(page size, auto-vacuum, text encoding, journal mode, ``user_version``, ``application_id``),
the ``sql`` of every table, index, view and trigger in ``sqlite_master`` in an order that
replays into an empty database (tables, then indexes, views, triggers; each kind in creation
order), and the rows of mig's own bookkeeping tables.

mig's bookkeeping tables (names starting with ``table_prefix``) are part of the schema, and
their rows are kept too: they say which migrations built it, so a schema backup restored where
the database was lost still knows its version. On restore the core then puts the current
audit trail in their place (``job.finish``). They are recreated in the shape the installed
mig-core defines, so an older backup restores under a newer core.

Restore: the schema is built in a temporary file beside the database, in one transaction
together with the bookkeeping, and the file is renamed over the database: a crash leaves the
old database or the restored one.
"""

from __future__ import annotations

import base64
import json
import os
import sqlite3
from pathlib import Path
from typing import Any

from mig import BackupError
from mig.ledger import Ledger
from mig.protocols import BackupHandler, BackupJob, Context, RestoreJob

from ..dialect import SQLiteDialect
from . import sqlite_dialect

FORMAT = 1
KIND_ORDER = ("table", "index", "view", "trigger")
#: Settings that must be made before the first table exists, then the ones that need not.
_LAYOUT = ("page_size", "auto_vacuum", "encoding")
_HEADER = ("user_version", "application_id")


class Handler(BackupHandler):
    """The ``schema`` backup type on SQLite (see the module's docstring)."""

    finishes_atomically = True

    def create(self, ctx: Context, job: BackupJob) -> None:
        create(ctx, job)

    def restore(self, ctx: Context, job: RestoreJob) -> None:
        restore(ctx, job)


# -- backup ---------------------------------------------------------------------------------


def create(ctx: Context, job: BackupJob) -> None:
    conn = sqlite_dialect(ctx).connection
    if conn is None:
        raise BackupError("the sqlite database is not connected")
    prefix = ctx.config.table_prefix
    try:
        conn.execute("BEGIN")  # one read snapshot for the schema and the bookkeeping rows
        try:
            doc = _describe(conn, prefix)
        finally:
            if conn.in_transaction:
                conn.execute("ROLLBACK")
    except sqlite3.Error as exc:
        raise BackupError(f"schema backup failed: {exc}") from exc
    out = job.workdir / "data"
    fd = os.open(out, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as fh:
        json.dump(doc, fh, indent=1)
        fh.write("\n")
    job.extra["sqlite"] = {
        "objects": len(doc["objects"]),
        "tables": sum(o["type"] == "table" and not o["bookkeeping"] for o in doc["objects"]),
    }


def _describe(conn: sqlite3.Connection, prefix: str) -> dict[str, Any]:
    settings = {name: conn.execute(f"PRAGMA {name}").fetchone()[0]
                for name in (*_LAYOUT, *_HEADER, "journal_mode")}
    shadow = _shadow_tables(conn)
    rows = conn.execute(
        "SELECT type, name, tbl_name, sql FROM sqlite_master"
        " WHERE sql IS NOT NULL AND name NOT LIKE 'sqlite\\_%' ESCAPE '\\' ORDER BY rowid"
    ).fetchall()
    objects = [
        {"type": kind, "name": name, "table": table, "sql": sql,
         "bookkeeping": _is_bookkeeping(table, prefix)}
        for kind, name, table, sql in rows
        if kind in KIND_ORDER and name not in shadow
    ]
    objects.sort(key=lambda o: KIND_ORDER.index(o["type"]))  # stable: creation order kept
    bookkeeping = {}
    for o in objects:
        if o["type"] == "table" and o["bookkeeping"]:
            table = o["name"]
            columns = [r[1] for r in conn.execute(f"PRAGMA table_info({_quote(table)})")]
            cols = ", ".join(map(_quote, columns))
            data = conn.execute(f"SELECT {cols} FROM {_quote(table)}").fetchall()
            bookkeeping[table] = {"columns": columns,
                                  "rows": [[_encode(v) for v in row] for row in data]}
    return {
        "format": FORMAT,
        "dialect": "sqlite",
        "table_prefix": prefix,
        "settings": settings,
        "objects": objects,
        "bookkeeping": bookkeeping,
    }


def _shadow_tables(conn: sqlite3.Connection) -> set[str]:
    """Tables a virtual table keeps its contents in: its own CREATE makes them again."""
    try:
        return {r[1] for r in conn.execute("PRAGMA main.table_list") if r[2] == "shadow"}
    except sqlite3.Error:  # SQLite before 3.37 has no table_list
        return set()


def _is_bookkeeping(table: str, prefix: str) -> bool:
    return bool(prefix) and table.lower().startswith(prefix.lower())


# -- restore --------------------------------------------------------------------------------


def restore(ctx: Context, job: RestoreJob) -> None:
    dialect = sqlite_dialect(ctx)
    backup = job.chain[-1]
    doc = _load(job.fetch(backup, "data"), backup.backup_id)
    prefix = ctx.config.table_prefix
    try:
        dialect.rebuild(
            job,
            setup=lambda restored: _settings(restored, doc["settings"]),
            build=lambda restored: _build(restored, doc, prefix),
        )
    except sqlite3.Error as exc:
        where = f"{backup.backup_id} into {dialect.path}"
        raise BackupError(f"restoring {where} failed: {exc}") from exc


def _load(path: Path, backup_id: str) -> dict[str, Any]:
    try:
        doc = json.loads(path.read_text(encoding="utf-8"))
    except (ValueError, UnicodeDecodeError) as exc:
        raise BackupError(f"backup {backup_id} is not a schema backup: {exc}") from None
    if not isinstance(doc, dict) or doc.get("dialect") != "sqlite":
        raise BackupError(f"backup {backup_id} is not a schema backup of a SQLite database")
    if doc.get("format") != FORMAT:
        raise BackupError(
            f"backup {backup_id} has schema backup format {doc.get('format')!r}; this"
            f" mig-sqlite reads format {FORMAT}"
        )
    return doc


def _settings(restored: SQLiteDialect, settings: dict[str, Any]) -> None:
    """The layout settings, on the still empty file (they cannot change once it has tables)."""
    conn = restored.connection
    assert conn is not None  # rebuild() connected it
    conn.execute(f"PRAGMA page_size = {int(settings['page_size'])}")
    conn.execute(f"PRAGMA auto_vacuum = {int(settings['auto_vacuum'])}")
    conn.execute(f"PRAGMA encoding = {_literal(str(settings['encoding']))}")
    if str(settings.get("journal_mode", "")).lower() == "wal":
        conn.execute("PRAGMA journal_mode = WAL")


def _build(restored: SQLiteDialect, doc: dict[str, Any], prefix: str) -> None:
    """Inside the copy's transaction: the user schema, then mig's bookkeeping as saved."""
    conn = restored.connection
    assert conn is not None  # rebuild() connected it
    for name in _HEADER:
        conn.execute(f"PRAGMA {name} = {int(doc['settings'][name])}")
    for o in doc["objects"]:
        if not o["bookkeeping"]:
            conn.execute(o["sql"])
    # The bookkeeping tables in the installed core's shape, then any other object of the
    # backup's that the core does not make (and the saved rows, column by column).
    Ledger(restored, prefix).create_tables()
    existing = {n.lower() for (n,) in conn.execute("SELECT name FROM sqlite_master")}
    for o in doc["objects"]:
        if o["bookkeeping"] and o["name"].lower() not in existing:
            conn.execute(o["sql"])
    for table, saved in doc["bookkeeping"].items():
        current = {r[1].lower() for r in conn.execute(f"PRAGMA table_info({_quote(table)})")}
        keep = [i for i, c in enumerate(saved["columns"]) if c.lower() in current]
        if not keep or not saved["rows"]:
            continue
        cols = ", ".join(_quote(saved["columns"][i]) for i in keep)
        marks = ", ".join("?" * len(keep))
        conn.executemany(
            f"INSERT OR REPLACE INTO {_quote(table)} ({cols}) VALUES ({marks})",
            [[_decode(row[i]) for i in keep] for row in saved["rows"]],
        )


# -- helpers --------------------------------------------------------------------------------


def _quote(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _literal(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def _encode(value: Any) -> Any:
    """JSON keeps text, integers, reals and NULL as they are; blobs are tagged."""
    if isinstance(value, bytes):
        return {"blob": base64.b64encode(value).decode("ascii")}
    return value


def _decode(value: Any) -> Any:
    if isinstance(value, dict):
        return base64.b64decode(value["blob"])
    return value
