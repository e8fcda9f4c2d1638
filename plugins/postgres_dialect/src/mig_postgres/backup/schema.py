"""Schema backups of PostgreSQL databases.

Backup, from one exported snapshot (``pg_dump --snapshot``):
- part ``data``: ``pg_dump -Fc --schema-only`` of the database, or of the one schema mig is
  configured for: every table, view, sequence (not its value), function, type, trigger, index,
  constraint, extension (whole-database only), privilege and comment; no rows;
- part ``bookkeeping``: ``pg_dump -Fc --data-only`` of mig's bookkeeping tables. They say
  which migrations built the schema, so a schema backup restored where the database was lost
  still knows its version; on a normal restore the core puts the current audit trail in their
  place (``job.finish``).

Restore: exactly as a full backup's (one transaction: empty what the backup covers, the
schema's pre-data, the bookkeeping rows, its post-data, mig's audit trail, COMMIT). Tables come
back empty and sequences start again, as in a database made from the schema alone.
"""

from __future__ import annotations

from pathlib import Path

from mig.protocols import BackupHandler, BackupJob, Context, RestoreJob

from . import postgres_dialect
from .tools import (
    Server,
    check_scope,
    driver_errors,
    exported_snapshot,
    is_bookkeeping,
    mig_schema,
    pattern,
    replace_database,
    saved_scope,
    scope,
    scope_args,
    tables,
)

FORMAT = 1


class Handler(BackupHandler):
    """The ``schema`` backup type on PostgreSQL (see the module's docstring)."""

    def create(self, ctx: Context, job: BackupJob) -> None:
        create(ctx, job)

    def restore(self, ctx: Context, job: RestoreJob) -> None:
        restore(ctx, job)


def create(ctx: Context, job: BackupJob) -> None:
    dialect = postgres_dialect(ctx)
    server = Server(dialect)
    prefix = ctx.config.table_prefix
    with driver_errors(server, "schema backup"), exported_snapshot(dialect) as (conn, snap):
        schema, _ = scope(conn, dialect)
        home = mig_schema(dialect)
        ours = [t for t in tables(conn, [home]) if is_bookkeeping(t, home, prefix)]
        server.dump(job.workdir / "data", ["--schema-only", *scope_args(schema)], snap)
        if ours:
            server.dump(job.workdir / "bookkeeping",
                        ["--data-only", *(f"--table={pattern(t.schema, t.name)}" for t in ours)],
                        snap)
    job.extra["postgres"] = {"format": FORMAT, "schema": schema,
                             "bookkeeping": [t.key for t in ours]}


def restore(ctx: Context, job: RestoreJob) -> None:
    dialect = postgres_dialect(ctx)
    backup = job.chain[-1]
    saved = saved_scope(backup, "schema", FORMAT)
    schema = saved.get("schema")
    check_scope(dialect, backup, schema)
    archive = job.fetch(backup, "data")
    rows: list[tuple[Path, list[str]]] = (
        [(job.fetch(backup, "bookkeeping"), [])] if saved.get("bookkeeping") else []
    )
    server = Server(dialect)
    with driver_errors(server, f"restoring {backup.backup_id}"):
        replace_database(dialect, job, server, schema, archive, rows,
                         ctx.config.lock_timeout)
