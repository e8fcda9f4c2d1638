"""Data backups of MySQL and MariaDB databases.

Backup: part ``data`` is ``mariadb-dump`` (or ``mysqldump``) ``--no-create-info
--skip-triggers --complete-insert --skip-add-locks --skip-disable-keys --hex-blob`` of every
user table (ordinary tables whose names do not start with ``table_prefix``: mig's bookkeeping
is not data), from one consistent InnoDB snapshot: INSERT statements naming their columns,
nothing that would commit a transaction. Part ``tables`` (JSON) lists the tables and columns.

Restore keeps the schema, and its rows are one InnoDB transaction on the dialect's connection:
1. Every saved table must still exist with the same columns (compared by name), or nothing
   changes (``BackupError`` naming the table and the differences).
2. The triggers of those tables are dropped, so the re-inserted rows fire none of them (MySQL
   cannot switch triggers off in a session), and made again afterwards from their definitions,
   whatever happens. This is DDL, so it is the part that is not atomic: a crash between the
   two leaves the tables without their triggers (restore again).
3. With ``foreign_key_checks`` off (so that ``ON DELETE CASCADE`` cannot reach tables the
   backup did not save): ``DELETE`` every saved table's rows, run the dump's INSERTs, then
   check by hand the foreign keys from and to the saved tables; a broken one is a
   ``BackupError`` that rolls everything back.
4. mig's audit trail (``job.finish``) is written in the same transaction, which commits.

Tables of a non-transactional engine (MyISAM, MEMORY) cannot be rolled back: a failure or a
crash halfway leaves them partly restored.
"""

from __future__ import annotations

import os
from contextlib import suppress
from typing import Any

from mig import BackupError
from mig.backup_types import read_json_part, write_json_part
from mig.protocols import BackupHandler, BackupJob, Context, RestoreJob

from . import mysql_dialect
from .tools import (
    DATA_ARGS,
    Objects,
    Server,
    data_tables,
    describe_server,
    driver_errors,
    drop,
    foreign_key_problems,
    query,
    quote_ident,
    read_objects,
    run,
    saved_info,
    statements,
)
from .tools import (
    create as create_objects,
)

FORMAT = 1


class Handler(BackupHandler):
    """The ``data`` backup type on MySQL (see the module's docstring)."""

    def create(self, ctx: Context, job: BackupJob) -> None:
        create(ctx, job)

    def restore(self, ctx: Context, job: RestoreJob) -> None:
        restore(ctx, job)


def create(ctx: Context, job: BackupJob) -> None:
    dialect = mysql_dialect(ctx)
    out = job.workdir / "data"
    with Server(dialect) as server, driver_errors(dialect, "data backup"):
        saved = data_tables(dialect.connection, server.database, ctx.config.table_prefix)
        if saved:
            server.dump(out, DATA_ARGS, tables=list(saved))
        else:
            os.close(os.open(out, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))
        job.extra["mysql"] = {"format": FORMAT, "tables": len(saved),
                              **describe_server(dialect.connection, server.database)}
    write_json_part(job.workdir / "tables", {"format": FORMAT, "tables": saved})


def restore(ctx: Context, job: RestoreJob) -> None:
    dialect = mysql_dialect(ctx)
    backup = job.chain[-1]
    saved_info(backup, "data", FORMAT)
    doc = read_json_part(job.fetch(backup, "tables"), backup.backup_id)
    saved: dict[str, list[str]] = dict(doc.get("tables", {}))
    dump = job.fetch(backup, "data")
    conn = dialect.connection
    if conn is None:
        raise BackupError("the mysql database is not connected")
    database = str(dialect.target.database)
    with driver_errors(dialect, f"restoring {backup.backup_id}"):
        _check_tables(conn, database, saved, backup.backup_id)
        triggers = read_objects(conn, database, only_tables=saved, everything=False).triggers
        (checks,) = query(conn, "SELECT @@SESSION.foreign_key_checks")[0]
        run(conn, "SET SESSION foreign_key_checks = 0")
        try:
            drop(conn, database, Objects(triggers=triggers))
            try:
                dialect.begin()
                try:
                    for table in saved:
                        run(conn, f"DELETE FROM {quote_ident(database)}.{quote_ident(table)}")
                    for statement in statements(dump):
                        run(conn, statement)
                    problems = foreign_key_problems(conn, database, set(saved))
                    if problems:
                        raise BackupError(
                            f"restoring backup {backup.backup_id} would leave"
                            f" {'; '.join(problems)}; nothing was restored"
                        )
                    job.finish(dialect)
                    dialect.commit()
                except BaseException:
                    with suppress(Exception):
                        dialect.rollback()
                    raise
            finally:
                create_objects(conn, triggers)
        finally:
            run(conn, "SET SESSION foreign_key_checks = %s", (int(checks),))


def _check_tables(conn: Any, database: str, saved: dict[str, list[str]], backup_id: str) -> None:
    live = {name.lower(): cols for name, cols in data_tables(conn, database, "").items()}
    for table, columns in saved.items():
        current = live.get(table.lower())
        if current is None:
            raise BackupError(
                f"backup {backup_id} holds rows of table {table!r}, which the database no"
                " longer has; nothing was restored (restore a full or schema backup instead)"
            )
        have, want = {c.lower() for c in current}, {c.lower() for c in columns}
        if have != want:
            detail = "; ".join(part for part in (
                f"gone: {', '.join(sorted(want - have))}" if want - have else "",
                f"new: {', '.join(sorted(have - want))}" if have - want else "",
            ) if part)
            raise BackupError(
                f"table {table!r} no longer has the columns backup {backup_id} saved"
                f" ({detail}); nothing was restored"
            )
