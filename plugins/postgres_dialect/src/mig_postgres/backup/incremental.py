"""Incremental backups of PostgreSQL databases: changed tables only.

Every backup of a chain is taken from one exported snapshot (``pg_dump --snapshot``) and holds:

- part ``data``: the whole schema (``pg_dump -Fc --schema-only``, of the database or of the
  schema mig is configured for), so the newest link alone says what the database looks like;
- part ``rows``: ``pg_dump -Fc --data-only`` of the tables whose contents changed since the
  parent backup (all of them in a base), with the values of every sequence and, for a
  whole-database backup, every large object (those are always saved whole);
- part ``tables`` (JSON): every table's fingerprint, and which tables this link holds rows of
  (with their entries in ``rows``).

A table's fingerprint is computed by the server in the same snapshot as the dump: its columns
and their types, its number of rows, and the sum of the MD5 of each row's text (as two 64-bit
halves: an order-independent hash of the multiset of rows). A table whose fingerprint equals
the parent's has the same rows, so its rows are not stored again; a change of contents or of
columns (a rename, a new type) changes it. This reads every table once per backup (on the
server, no rows leave it); only changed tables are written. Statistics counters
(``pg_stat_user_tables``) are not used: they are not transactional, are reset by a crash or by
``pg_stat_reset()``, and could then report "unchanged" for a changed table.

Restore replays the chain in ONE transaction on the dialect's connection, as a full restore
does: empty what the backup covers, the newest link's schema (pre-data), for each table the
rows held by the newest link that holds them, the newest link's sequence values and large
objects, the schema's post-data (indexes, constraints, triggers), mig's audit trail
(``job.finish``), COMMIT. A chain is at most ``max_chain`` increments long; the next backup
starts a new base.
"""

from __future__ import annotations

import hashlib
import os
import tempfile
from pathlib import Path
from typing import Any

from mig import BackupError
from mig.backup_types import max_chain, read_json_part, write_json_part
from mig.protocols import BackupHandler, BackupJob, Context, RestoreJob

from . import postgres_dialect
from .tools import (
    Server,
    Table,
    check_scope,
    driver_errors,
    exported_snapshot,
    pattern,
    replace_database,
    saved_scope,
    scope,
    scope_args,
    tables,
)

FORMAT = 1
#: What the newest link's ``rows`` always brings, whoever holds the tables' rows.
_ALWAYS = ("SEQUENCE SET", "BLOB", "BLOBS")


class Handler(BackupHandler):
    """The ``incremental`` backup type on PostgreSQL (see the module's docstring)."""

    def create(self, ctx: Context, job: BackupJob) -> None:
        create(ctx, job)

    def restore(self, ctx: Context, job: RestoreJob) -> None:
        restore(ctx, job)


# -- backup ---------------------------------------------------------------------------------


def fingerprint(conn: Any, table: Table) -> str:
    """The table's columns and rows as one string (see the module's docstring)."""
    (spec,) = conn.execute(
        "SELECT coalesce(string_agg(quote_ident(attname) || ' '"
        " || format_type(atttypid, atttypmod), ', ' ORDER BY attnum), '')"
        " FROM pg_attribute WHERE attrelid = %s AND attnum > 0 AND NOT attisdropped",
        (table.oid,),
    ).fetchone()
    count, high, low = conn.execute(
        "SELECT count(*), coalesce(sum(('x' || substr(h, 1, 16))::bit(64)::bigint), 0),"
        " coalesce(sum(('x' || substr(h, 17, 16))::bit(64)::bigint), 0)"
        f" FROM (SELECT md5(ROW(r.*)::text) AS h FROM ONLY {table.sql} AS r) AS rows"
    ).fetchone()
    columns = hashlib.sha256(str(spec).encode()).hexdigest()[:32]
    return f"{columns}:{count}:{high}:{low}"


def _sequences(conn: Any, schemas: list[str]) -> list[tuple[str, str]]:
    rows = conn.execute(
        "SELECT n.nspname, c.relname FROM pg_class c JOIN pg_namespace n"
        " ON n.oid = c.relnamespace WHERE c.relkind = 'S' AND n.nspname = ANY(%s)"
        " AND NOT EXISTS (SELECT 1 FROM pg_depend d WHERE d.classid = 'pg_class'::regclass"
        "                 AND d.objid = c.oid AND d.deptype = 'e')",
        (schemas,),
    ).fetchall()
    return [(str(s), str(n)) for s, n in rows]


def _new_chain(job: BackupJob, schema: str | None, limit: int) -> str | None:
    """Why this backup must be a base (None: it can build on its parent)."""
    parent = job.parent
    if parent is None:
        return "no earlier incremental backup"
    saved = (parent.extra or {}).get("postgres")
    if not isinstance(saved, dict) or saved.get("format") != FORMAT:
        return f"the previous incremental backup {parent.backup_id} is not of this database"
    if parent.database_path != job.info.database_path or saved.get("schema") != schema:
        return f"the previous incremental backup {parent.backup_id} is of another database"
    if int(saved.get("depth", 0)) + 1 > limit:
        return f"the chain holds max_chain = {limit} increments"
    return None


def create(ctx: Context, job: BackupJob) -> None:
    dialect = postgres_dialect(ctx)
    server = Server(dialect)
    with driver_errors(server, "incremental backup"), exported_snapshot(dialect) as (conn, snap):
        schema, schemas = scope(conn, dialect)
        reason = _new_chain(job, schema, max_chain(ctx, "incremental"))
        parent_prints: dict[str, str] = {}
        depth = 0
        if reason is None:
            assert job.parent is not None
            parent_doc = read_json_part(job.fetch(job.parent, "tables"), job.parent.backup_id)
            parent_prints = dict(parent_doc.get("fingerprints", {}))
            depth = int(job.parent.extra["postgres"].get("depth", 0)) + 1
        else:
            job.info.parent_id = None
        everything = tables(conn, schemas)
        prints = {t.key: fingerprint(conn, t) for t in everything}
        changed = [t for t in everything if parent_prints.get(t.key) != prints[t.key]]
        server.dump(job.workdir / "data", ["--schema-only", *scope_args(schema)], snap)
        rows = job.workdir / "rows"
        targets = [f"--table={pattern(t.schema, t.name)}" for t in changed]
        targets += [f"--table={pattern(s, n)}" for s, n in _sequences(conn, schemas)]
        blobs = [] if schema else ["--blobs"]
        if targets or blobs:
            server.dump(rows, ["--data-only", *blobs, *targets], snap)
            entries = {e.line.split()[2]: e.dump_id for e in server.toc(rows)
                       if e.desc == "TABLE DATA"}
        else:
            os.close(os.open(rows, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))
            entries = {}
    stored = {}
    for t in changed:
        if str(t.oid) not in entries:
            raise BackupError(f"pg_dump saved no rows of table {t.key} (incremental backup)")
        stored[t.key] = entries[str(t.oid)]
    write_json_part(job.workdir / "tables", {
        "format": FORMAT, "fingerprints": prints, "stored": stored,
    })
    job.extra["postgres"] = {
        "format": FORMAT, "schema": schema, "kind": "base" if reason else "increment",
        "depth": depth, "tables": len(everything), "stored": len(stored),
        **({"new_chain": reason} if reason else {}),
    }


# -- restore --------------------------------------------------------------------------------


def restore(ctx: Context, job: RestoreJob) -> None:
    dialect = postgres_dialect(ctx)
    last = job.chain[-1]
    schema = saved_scope(last, "incremental", FORMAT).get("schema")
    check_scope(dialect, last, schema)
    for link in job.chain:
        if saved_scope(link, "incremental", FORMAT).get("schema") != schema:
            raise BackupError(f"backup {link.backup_id} of the chain of {last.backup_id} is"
                              " of another schema; nothing was restored")
    docs = [read_json_part(job.fetch(link, "tables"), link.backup_id) for link in job.chain]
    wanted = set(docs[-1].get("fingerprints", {}))
    # Each table's rows come from the newest link that holds them.
    plan: list[tuple[Any, list[int]]] = []
    for link, doc in reversed(list(zip(job.chain, docs, strict=True))):
        held = {k: int(v) for k, v in doc.get("stored", {}).items() if k in wanted}
        if held:
            plan.append((link, sorted(held.values())))
            wanted -= set(held)
    if wanted:
        raise BackupError(f"the chain of {last.backup_id} holds no rows of"
                          f" {', '.join(sorted(wanted))}; nothing was restored")
    server = Server(dialect)
    archive = job.fetch(last, "data")
    with tempfile.TemporaryDirectory(prefix="mig-incremental-") as tmp, \
            driver_errors(server, f"restoring {last.backup_id}"):
        sources = []
        for i, (link, ids) in enumerate(reversed(plan)):
            rows = job.fetch(link, "rows")
            keep = set(ids)
            always = link.backup_id == last.backup_id
            sources.append((rows, _use_list(server, rows, Path(tmp) / f"{i}.list", keep, always)))
        if not any(link.backup_id == last.backup_id for link, _ in plan):
            rows = job.fetch(last, "rows")
            sources.append((rows, _use_list(server, rows, Path(tmp) / "last.list", set(), True)))
        replace_database(dialect, job, server, schema, archive,
                         [(rows, args) for rows, args in sources if args],
                         ctx.config.lock_timeout)


def _use_list(server: Server, rows: Path, path: Path, ids: set[int], always: bool) -> list[str]:
    """pg_restore arguments for the entries of ``rows`` to replay: the tables' rows with these
    dump ids (and, from the newest link, sequence values and large objects)."""
    if rows.stat().st_size == 0:
        return []
    lines = [e.line for e in server.toc(rows)
             if e.dump_id in ids or (always and e.desc in _ALWAYS)]
    if not lines:
        return []
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return [f"--use-list={path}"]

