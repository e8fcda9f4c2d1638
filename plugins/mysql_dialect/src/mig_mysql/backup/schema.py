"""Schema backups of MySQL and MariaDB databases.

Backup, with ``mariadb-dump`` (or ``mysqldump``):
- part ``data``: ``--no-data --routines --triggers --events``: every table (with its
  ``AUTO_INCREMENT`` counter, as ``SHOW CREATE TABLE`` gives it), view, trigger, stored
  routine and event; no rows;
- part ``bookkeeping``: the rows of mig's bookkeeping tables (``--no-create-info``). They say
  which migrations built the schema, so a schema backup restored where the database was lost
  still knows its version; on a normal restore the core puts the current audit trail in their
  place (``job.finish``).

Restore: as a full backup's (staging database, audit trail written there, one atomic
``RENAME TABLE``, then views, triggers, routines and events made again); the tables come back
empty.
"""

from __future__ import annotations

from mig.protocols import BackupHandler, BackupJob, Context, RestoreJob

from . import mysql_dialect
from .tools import (
    DATA_ARGS,
    Server,
    bookkeeping_tables,
    describe_server,
    driver_errors,
    restore_by_swap,
    saved_charset,
    saved_info,
)

FORMAT = 1
SCHEMA_ARGS = ("--single-transaction", "--no-tablespaces", "--no-data", "--routines",
               "--triggers", "--events")


class Handler(BackupHandler):
    """The ``schema`` backup type on MySQL (see the module's docstring)."""

    def create(self, ctx: Context, job: BackupJob) -> None:
        create(ctx, job)

    def restore(self, ctx: Context, job: RestoreJob) -> None:
        restore(ctx, job)


def create(ctx: Context, job: BackupJob) -> None:
    dialect = mysql_dialect(ctx)
    with Server(dialect) as server, driver_errors(dialect, "schema backup"):
        ours = bookkeeping_tables(dialect.connection, server.database, ctx.config.table_prefix)
        server.dump(job.workdir / "data", SCHEMA_ARGS)
        if ours:
            server.dump(job.workdir / "bookkeeping", DATA_ARGS, tables=ours)
        job.extra["mysql"] = {"format": FORMAT, "bookkeeping": ours,
                              **describe_server(dialect.connection, server.database)}


def restore(ctx: Context, job: RestoreJob) -> None:
    dialect = mysql_dialect(ctx)
    backup = job.chain[-1]
    info = saved_info(backup, "schema", FORMAT)
    pieces = [(job.fetch(backup, "data"), 0, None)]
    if info.get("bookkeeping"):
        pieces.append((job.fetch(backup, "bookkeeping"), 0, None))
    with Server(dialect) as server, driver_errors(dialect, f"restoring {backup.backup_id}"):
        restore_by_swap(ctx, job, server, saved_charset(info), pieces)
