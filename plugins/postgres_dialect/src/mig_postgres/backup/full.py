"""Full backups of PostgreSQL databases.

Backup: ``pg_dump -Fc`` of the database, or of the one schema mig is configured for
(``--schema``): tables, rows, sequences with their values, functions, views, triggers,
extensions, large objects, privileges, and mig's bookkeeping tables with their rows.

Restore, in ONE transaction on the dialect's connection (see :mod:`.tools`): what the
backup covers is emptied (the schema dropped, refused when that would take objects of other
schemas with it; or, for a whole-database backup, every schema, large object, publication and
event trigger), pg_restore's script of the archive is run section by section, the rows
streamed by COPY, mig's current audit trail written (``job.finish``), then COMMIT. A failure
or a crash at any point leaves the database as it was.
"""

from __future__ import annotations

from mig.protocols import BackupHandler, BackupJob, Context, RestoreJob

from . import postgres_dialect
from .tools import (
    Server,
    check_scope,
    driver_errors,
    replace_database,
    saved_scope,
    scope_args,
)

FORMAT = 1


class Handler(BackupHandler):
    """The ``full`` backup type on PostgreSQL (see the module's docstring)."""

    def create(self, ctx: Context, job: BackupJob) -> None:
        create(ctx, job)

    def restore(self, ctx: Context, job: RestoreJob) -> None:
        restore(ctx, job)


def create(ctx: Context, job: BackupJob) -> None:
    dialect = postgres_dialect(ctx)
    server = Server(dialect)
    schema = dialect.target.schema
    server.dump(job.workdir / "data", scope_args(schema))
    job.extra["postgres"] = {"format": FORMAT, "schema": schema, "dump": "pg_dump -Fc"}


def restore(ctx: Context, job: RestoreJob) -> None:
    dialect = postgres_dialect(ctx)
    backup = job.chain[-1]
    schema = saved_scope(backup, "full", FORMAT).get("schema")
    check_scope(dialect, backup, schema)
    archive = job.fetch(backup, "data")
    server = Server(dialect)
    with driver_errors(server, f"restoring {backup.backup_id}"):
        replace_database(dialect, job, server, schema, archive,
                         [(archive, ["--section=data"])], ctx.config.lock_timeout)
