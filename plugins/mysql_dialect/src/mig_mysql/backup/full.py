"""Full backups of MySQL and MariaDB databases.

Backup: ``mariadb-dump`` (or ``mysqldump``) ``--single-transaction --routines --triggers
--events --hex-blob`` of the database: tables, rows, views, triggers, stored routines and
events, and mig's bookkeeping tables with their rows, from one consistent InnoDB snapshot
without locking the tables.

Restore (see :mod:`.tools` for the steps): the dump is loaded into a new staging database by
the client, mig's current audit trail is written into it (``job.finish``), and one atomic
``RENAME TABLE`` swaps its tables for the live ones; views, triggers, routines and events are
made again in the live database right after, and the old tables dropped. MySQL cannot do
better: its DDL is not transactional. A failure before the swap leaves the database as it was;
a crash in the short step after it leaves the restored tables and audit trail with some views,
triggers, routines or events missing (restore again).
"""

from __future__ import annotations

from mig.protocols import BackupHandler, BackupJob, Context, RestoreJob

from . import mysql_dialect
from .tools import (
    Server,
    describe_server,
    driver_errors,
    restore_by_swap,
    saved_charset,
    saved_info,
)

FORMAT = 1
FULL_ARGS = ("--single-transaction", "--hex-blob", "--no-tablespaces", "--routines",
             "--triggers", "--events")


class Handler(BackupHandler):
    """The ``full`` backup type on MySQL (see the module's docstring)."""

    def create(self, ctx: Context, job: BackupJob) -> None:
        create(ctx, job)

    def restore(self, ctx: Context, job: RestoreJob) -> None:
        restore(ctx, job)


def create(ctx: Context, job: BackupJob) -> None:
    dialect = mysql_dialect(ctx)
    with Server(dialect) as server, driver_errors(dialect, "full backup"):
        server.dump(job.workdir / "data", FULL_ARGS)
        job.extra["mysql"] = {"format": FORMAT,
                              **describe_server(dialect.connection, server.database)}


def restore(ctx: Context, job: RestoreJob) -> None:
    dialect = mysql_dialect(ctx)
    backup = job.chain[-1]
    info = saved_info(backup, "full", FORMAT)
    dump = job.fetch(backup, "data")
    with Server(dialect) as server, driver_errors(dialect, f"restoring {backup.backup_id}"):
        restore_by_swap(ctx, job, server, saved_charset(info), [(dump, 0, None)])
