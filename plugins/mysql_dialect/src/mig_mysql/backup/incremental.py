"""Incremental backups of MySQL and MariaDB databases: changed tables only.

Every backup of a chain holds:

- part ``data``: the whole schema (``mariadb-dump --no-data --routines --triggers --events``),
  so the newest link alone says what the database looks like;
- part ``rows``: the INSERT statements of the tables whose rows changed since the parent
  backup (all of them in a base), between the dump's own opening and closing ``SET``
  statements;
- part ``tables`` (JSON): every table's fingerprint, and where in ``rows`` this link's tables
  are.

How a change is found: the rows of every table are dumped by ONE ``mariadb-dump
--single-transaction --order-by-primary`` run (one consistent snapshot, no locks), and each
table's fingerprint is the SHA-256 of its INSERT statements (with its columns and their
types); only the tables whose fingerprint differs from the parent's are kept. So an increment
reads and dumps all rows, as a full backup does, but stores only what changed, and what it
stores is exactly what it fingerprinted. ``CHECKSUM TABLE`` is not used: it reads outside the
dump's snapshot (a row changed between the two would go unseen by the next backup), and its
value is a 32-bit CRC per row. A table without a primary key is dumped in its physical order:
if that order changes without its rows changing, the table is merely stored again.

Restore: the newest link's schema, then for each table the rows held by the newest link that
holds them, are loaded into a staging database, mig's audit trail is written there and the
tables are swapped in with one atomic ``RENAME TABLE``, as for a full backup (with the same
caveats: views, triggers, routines and events are made again right after the swap). A chain
is at most ``max_chain`` increments long; the next backup starts a new base.
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

from . import mysql_dialect
from .tools import (
    DATA_ARGS,
    Server,
    describe_server,
    driver_errors,
    query,
    restore_by_swap,
    saved_charset,
    saved_info,
)

FORMAT = 1
SCHEMA_ARGS = ("--single-transaction", "--no-tablespaces", "--no-data", "--routines",
               "--triggers", "--events")
ROWS_ARGS = (*DATA_ARGS, "--order-by-primary")
_INSERT = b"INSERT INTO `"


class Handler(BackupHandler):
    """The ``incremental`` backup type on MySQL (see the module's docstring)."""

    def create(self, ctx: Context, job: BackupJob) -> None:
        create(ctx, job)

    def restore(self, ctx: Context, job: RestoreJob) -> None:
        restore(ctx, job)


# -- backup ---------------------------------------------------------------------------------


def _columns(conn: Any, database: str) -> dict[str, str]:
    """Every ordinary table with its columns and their types, as one string."""
    rows = query(
        conn,
        "SELECT c.TABLE_NAME, c.COLUMN_NAME, c.COLUMN_TYPE FROM information_schema.COLUMNS c"
        " JOIN information_schema.TABLES t ON t.TABLE_SCHEMA = c.TABLE_SCHEMA"
        " AND t.TABLE_NAME = c.TABLE_NAME"
        " WHERE c.TABLE_SCHEMA = %s AND t.TABLE_TYPE IN ('BASE TABLE', 'SYSTEM VERSIONED')"
        " ORDER BY c.TABLE_NAME, c.ORDINAL_POSITION",
        (database,),
    )
    out: dict[str, list[str]] = {}
    for table, column, kind in rows:
        out.setdefault(str(table), []).append(f"`{column}` {kind}")
    return {table: ", ".join(cols) for table, cols in out.items()}


def _table_name(line: bytes) -> str:
    """The table an ``INSERT INTO `name` ...`` line writes to."""
    name = bytearray()
    i = len(_INSERT)
    while i < len(line):
        ch = line[i]
        if ch == 0x60:  # a backtick: doubled inside the name, else its end
            if line[i + 1:i + 2] == b"`":
                name += b"`"
                i += 2
                continue
            return name.decode("utf-8")
        name.append(ch)
        i += 1
    raise BackupError("mariadb-dump wrote an INSERT statement without a table name")


def split_rows(path: Path) -> tuple[int, dict[str, tuple[int, int, str]], int]:
    """Where the dump's opening statements end, each table's INSERT statements
    ``(offset, length, sha256)``, and where its closing statements start."""
    segments: dict[str, tuple[int, int, str]] = {}
    first: int | None = None
    last_end = 0
    name: str | None = None
    start = end = 0
    digest = hashlib.sha256()
    in_statement = False
    offset = 0

    def close() -> None:
        if name is not None:
            if name in segments:
                raise BackupError(f"mariadb-dump wrote the rows of {name!r} in two places")
            segments[name] = (start, end - start, digest.hexdigest())

    with path.open("rb") as fh:
        for line in fh:
            if line.startswith(_INSERT) and not in_statement:
                table = _table_name(line)
                if table != name:
                    close()
                    name, start, digest = table, offset, hashlib.sha256()
                    if first is None:
                        first = offset
                in_statement = True
            if in_statement:
                digest.update(line)
                if line.rstrip().endswith(b";"):
                    in_statement = False
                    end = last_end = offset + len(line)
            elif (first is not None and line.strip()
                  and not line.startswith((b"--", b"/*!"))):
                # After the first INSERT only comments, then the closing SET statements.
                raise BackupError(
                    f"unexpected statement in mariadb-dump's output: {line[:80]!r}"
                )
            offset += len(line)
    if in_statement:
        raise BackupError("mariadb-dump's output ends inside an INSERT statement")
    close()
    if first is None:
        return offset, {}, offset
    return first, segments, last_end


def _new_chain(job: BackupJob, limit: int) -> str | None:
    parent = job.parent
    if parent is None:
        return "no earlier incremental backup"
    saved = (parent.extra or {}).get("mysql")
    if not isinstance(saved, dict) or saved.get("format") != FORMAT:
        return f"the previous incremental backup {parent.backup_id} is not of this database"
    if parent.database_path != job.info.database_path:
        return f"the previous incremental backup {parent.backup_id} is of another database"
    if int(saved.get("depth", 0)) + 1 > limit:
        return f"the chain holds max_chain = {limit} increments"
    return None


def create(ctx: Context, job: BackupJob) -> None:
    dialect = mysql_dialect(ctx)
    reason = _new_chain(job, max_chain(ctx, "incremental"))
    parent_prints: dict[str, str] = {}
    depth = 0
    if reason is None:
        assert job.parent is not None
        doc = read_json_part(job.fetch(job.parent, "tables"), job.parent.backup_id)
        parent_prints = dict(doc.get("fingerprints", {}))
        depth = int(job.parent.extra["mysql"].get("depth", 0)) + 1
    else:
        job.info.parent_id = None
    rows = job.workdir / "rows"
    with Server(dialect) as server, driver_errors(dialect, "incremental backup"), \
            tempfile.TemporaryDirectory(prefix="mig-incremental-") as tmp:
        columns = _columns(dialect.connection, server.database)
        server.dump(job.workdir / "data", SCHEMA_ARGS)
        everything = Path(tmp) / "rows.sql"
        if columns:
            server.dump(everything, ROWS_ARGS, tables=sorted(columns))
        else:
            everything.write_bytes(b"")
        head, segments, tail = split_rows(everything)
        prints, changed, stored = {}, [], {}
        with everything.open("rb") as src, _new_part(rows) as out:
            _copy(src, out, 0, head)
            for table, spec in sorted(columns.items()):
                offset, length, digest = segments.get(table, (0, 0, hashlib.sha256().hexdigest()))
                prints[table] = hashlib.sha256(f"{spec}\n{digest}".encode()).hexdigest()
                if parent_prints.get(table) == prints[table]:
                    continue
                changed.append(table)
                if length:  # a table without rows has nothing to store
                    stored[table] = [out.tell(), length]
                    _copy(src, out, offset, length)
            trailer = out.tell()
            _copy(src, out, tail, everything.stat().st_size - tail)
        job.extra["mysql"] = {
            "format": FORMAT, "kind": "base" if reason else "increment", "depth": depth,
            "tables": len(columns), "stored": len(stored),
            **({"new_chain": reason} if reason else {}),
            **describe_server(dialect.connection, server.database),
        }
    write_json_part(job.workdir / "tables", {
        "format": FORMAT, "fingerprints": prints, "changed": changed, "stored": stored,
        "head": [0, head], "tail": [trailer, rows.stat().st_size - trailer],
    })


def _new_part(path: Path) -> Any:
    return os.fdopen(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600), "wb")


def _copy(src: Any, out: Any, offset: int, length: int) -> None:
    src.seek(offset)
    left = length
    while left > 0:
        chunk = src.read(min(left, 1 << 20))
        if not chunk:
            raise BackupError("mariadb-dump's output changed while it was read")
        out.write(chunk)
        left -= len(chunk)


# -- restore --------------------------------------------------------------------------------


def restore(ctx: Context, job: RestoreJob) -> None:
    dialect = mysql_dialect(ctx)
    last = job.chain[-1]
    info = saved_info(last, "incremental", FORMAT)
    for link in job.chain:
        saved_info(link, "incremental", FORMAT)
    docs = [read_json_part(job.fetch(link, "tables"), link.backup_id) for link in job.chain]
    wanted = set(docs[-1].get("fingerprints", {}))
    pieces: list[tuple[Path, int, int | None]] = [(job.fetch(last, "data"), 0, None)]
    # A table's rows are those of the newest link where its fingerprint changed (none when
    # it had no rows there).
    for link, doc in reversed(list(zip(job.chain, docs, strict=True))):
        changed = wanted & set(doc.get("changed", []))
        held = [(int(o), int(n)) for t, (o, n) in doc.get("stored", {}).items() if t in changed]
        wanted -= changed
        if not held:
            continue
        rows = job.fetch(link, "rows")
        head, tail = doc["head"], doc["tail"]
        pieces.append((rows, int(head[0]), int(head[1])))
        pieces += [(rows, o, n) for o, n in held]
        pieces.append((rows, int(tail[0]), int(tail[1])))
    if wanted:
        raise BackupError(f"the chain of {last.backup_id} does not say where the rows of"
                          f" {', '.join(sorted(wanted))} are; nothing was restored")
    with Server(dialect) as server, driver_errors(dialect, f"restoring {last.backup_id}"):
        restore_by_swap(ctx, job, server, saved_charset(info), pieces)

