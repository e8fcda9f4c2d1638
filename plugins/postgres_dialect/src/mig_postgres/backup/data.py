"""Data backups of PostgreSQL databases.

Backup, from one exported snapshot (``pg_dump --snapshot``): part ``data`` is ``pg_dump -Fc
--data-only`` of every user table (ordinary tables and partitions of the database, or of the
schema mig is configured for; not mig's bookkeeping tables, whose names start with
``table_prefix``, not extensions' tables), with the values of the sequences they own; part
``tables`` (JSON) lists those tables and their columns as they were in the same snapshot.

Restore, in ONE transaction on the dialect's connection, keeping the schema as it is:
1. Every saved table must still exist with the same columns (compared by name), or nothing
   changes (``BackupError`` naming the table and the differences).
2. A table the backup did not save that has a foreign key to a saved one must be empty (its
   rows could not survive the saved table being emptied); it is then emptied along with them.
3. The enabled user triggers of those tables are disabled (``ALTER TABLE ... DISABLE
   TRIGGER``), so the re-inserted rows fire none of them.
4. ``TRUNCATE ONLY`` of the tables, then the rows through COPY. Foreign keys stay enforced:
   rows that break one fail the restore, which rolls back.
5. A sequence the backup would set below its current value keeps its current value, so
   numbers handed out since the backup are never handed out again.
6. The triggers are enabled again as they were, mig's audit trail is written (``job.finish``)
   and the transaction commits.
"""

from __future__ import annotations

import os
from contextlib import suppress
from typing import Any

from mig import BackupError
from mig.backup_types import read_json_part, write_json_part
from mig.protocols import BackupHandler, BackupJob, Context, RestoreJob

from . import postgres_dialect
from .tools import (
    Server,
    Table,
    check_scope,
    driver_errors,
    exported_snapshot,
    is_bookkeeping,
    mig_schema,
    pattern,
    quote_ident,
    replay,
    reset_search_path,
    saved_scope,
    scope,
    search_path,
    set_lock_timeout,
    tables,
)

FORMAT = 1


class Handler(BackupHandler):
    """The ``data`` backup type on PostgreSQL (see the module's docstring)."""

    def create(self, ctx: Context, job: BackupJob) -> None:
        create(ctx, job)

    def restore(self, ctx: Context, job: RestoreJob) -> None:
        restore(ctx, job)


# -- backup ---------------------------------------------------------------------------------


def create(ctx: Context, job: BackupJob) -> None:
    dialect = postgres_dialect(ctx)
    server = Server(dialect)
    prefix = ctx.config.table_prefix
    out = job.workdir / "data"
    with driver_errors(server, "data backup"), exported_snapshot(dialect) as (conn, snap):
        schema, schemas = scope(conn, dialect)
        home = mig_schema(dialect)
        saved = [t for t in tables(conn, schemas) if not is_bookkeeping(t, home, prefix)]
        if saved:
            server.dump(out, ["--data-only",
                              *(f"--table={pattern(t.schema, t.name)}" for t in saved)], snap)
        else:
            os.close(os.open(out, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))
    write_json_part(job.workdir / "tables",
                    {"format": FORMAT, "tables": [t.to_json() for t in saved]})
    job.extra["postgres"] = {"format": FORMAT, "schema": schema, "tables": len(saved)}


# -- restore --------------------------------------------------------------------------------


def restore(ctx: Context, job: RestoreJob) -> None:
    dialect = postgres_dialect(ctx)
    backup = job.chain[-1]
    schema = saved_scope(backup, "data", FORMAT).get("schema")
    check_scope(dialect, backup, schema)
    doc = read_json_part(job.fetch(backup, "tables"), backup.backup_id)
    saved = [Table.from_json(t) for t in doc.get("tables", [])]
    archive = job.fetch(backup, "data")
    conn = dialect.connection
    if conn is None:
        raise BackupError("the postgres database is not connected")
    server = Server(dialect)
    with driver_errors(server, f"restoring {backup.backup_id}"):
        dialect.begin()
        try:
            set_lock_timeout(conn, ctx.config.lock_timeout)
            _replace_rows(server, conn, saved, archive, backup.backup_id)
            job.finish(dialect)
            dialect.commit()
        except BaseException:
            with suppress(Exception):
                dialect.rollback()
            raise


def _replace_rows(server: Server, conn: Any, saved: list[Table], archive: Any,
                  backup_id: str) -> None:
    path = search_path(conn)
    oids = [_live_oid(conn, t, backup_id) for t in saved]
    if not oids:
        reset_search_path(conn, path)
        return
    emptied = oids + _empty_referrers(conn, oids, backup_id)
    names = dict(conn.execute(
        "SELECT c.oid, format('%%I.%%I', n.nspname, c.relname) FROM pg_class c"
        " JOIN pg_namespace n ON n.oid = c.relnamespace WHERE c.oid = ANY(%s)", (emptied,)
    ).fetchall())
    triggers = conn.execute(
        "SELECT tgrelid, tgname, tgenabled FROM pg_trigger WHERE tgrelid = ANY(%s)"
        " AND NOT tgisinternal AND tgenabled <> 'D' ORDER BY tgrelid, tgname", (emptied,)
    ).fetchall()
    for rel, name, _ in triggers:
        conn.execute(f"ALTER TABLE {names[rel]} DISABLE TRIGGER {quote_ident(name)}")
    sequences = _sequences(conn, oids)
    conn.execute("TRUNCATE ONLY " + ", ".join(names[o] for o in emptied))
    allowed = set(oids)

    def check(target: str) -> None:
        row = conn.execute("SELECT to_regclass(%s)::oid", (target,)).fetchone()
        if row is None or row[0] not in allowed:
            raise BackupError(f"backup {backup_id} holds rows of {target}, which it does not"
                              " list; nothing was restored")

    replay(server, conn, archive, [], on_copy=check, rows_only=True)
    for oid, before, increment in sequences:
        (after,) = conn.execute("SELECT pg_sequence_last_value(%s)", (oid,)).fetchone()
        if after is None or (after < before if increment > 0 else after > before):
            conn.execute("SELECT setval(%s, %s, true)", (oid, before))
    for rel, name, mode in triggers:
        how = {"A": "ALWAYS ", "R": "REPLICA "}.get(str(mode), "")
        conn.execute(f"ALTER TABLE {names[rel]} ENABLE {how}TRIGGER {quote_ident(name)}")
    reset_search_path(conn, path)


def _live_oid(conn: Any, table: Table, backup_id: str) -> int:
    row = conn.execute(
        "SELECT c.oid, array(SELECT a.attname::text FROM pg_attribute a WHERE a.attrelid = c.oid"
        "  AND a.attnum > 0 AND NOT a.attisdropped AND a.attgenerated = '' ORDER BY a.attnum)"
        " FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace"
        " WHERE n.nspname = %s AND c.relname = %s AND c.relkind = 'r'",
        (table.schema, table.name),
    ).fetchone()
    if row is None:
        raise BackupError(
            f"backup {backup_id} holds rows of table {table.key!r}, which the database no"
            " longer has; nothing was restored (restore a full or schema backup instead)"
        )
    have, want = set(row[1]), set(table.columns)
    if have != want:
        detail = "; ".join(part for part in (
            f"gone: {', '.join(sorted(want - have))}" if want - have else "",
            f"new: {', '.join(sorted(have - want))}" if have - want else "",
        ) if part)
        raise BackupError(
            f"table {table.key!r} no longer has the columns backup {backup_id} saved"
            f" ({detail}); nothing was restored"
        )
    return int(row[0])


def _empty_referrers(conn: Any, oids: list[int], backup_id: str) -> list[int]:
    """Tables the backup did not save with a foreign key to one it did: emptied with them
    when they are empty, else the restore is refused (their rows would lose their parents)."""
    rows = conn.execute(
        "SELECT DISTINCT c.conrelid, c.conrelid::regclass::text FROM pg_constraint c"
        " WHERE c.contype = 'f' AND c.confrelid = ANY(%s) AND NOT c.conrelid = ANY(%s)",
        (oids, oids),
    ).fetchall()
    out = []
    for oid, name in rows:
        (has_rows,) = conn.execute(f"SELECT EXISTS (SELECT 1 FROM ONLY {name})").fetchone()
        if has_rows:
            raise BackupError(
                f"table {name} has rows referring to tables backup {backup_id} restores, and"
                " the backup does not hold its rows; nothing was restored (empty it first, or"
                " restore a full backup)"
            )
        out.append(int(oid))
    return out


def _sequences(conn: Any, oids: list[int]) -> list[tuple[int, int, int]]:
    """The sequences owned by the saved tables that have handed out a number."""
    rows = conn.execute(
        "SELECT s.seqrelid, pg_sequence_last_value(s.seqrelid), s.seqincrement"
        " FROM pg_sequence s JOIN pg_depend d ON d.classid = 'pg_class'::regclass"
        " AND d.objid = s.seqrelid AND d.refclassid = 'pg_class'::regclass"
        " AND d.deptype IN ('a', 'i') WHERE d.refobjid = ANY(%s)",
        (oids,),
    ).fetchall()
    return [(int(o), int(v), int(i)) for o, v, i in rows if v is not None]
