"""The ledger: mig's bookkeeping tables (SPEC §8), their only reader and their only writer.

Every write is one state transition of ``docs/ledger.md`` (applied, failed, rolled back,
restored, ...), made inside the caller's transaction. The tables are described once here with
abstract column types; each dialect maps those to its own (``Dialect.column_types``). All SQL
is written with ``?`` placeholders and rewritten once for dialects whose paramstyle is
``format``.
"""

from __future__ import annotations

import bisect
import datetime as _dt
import json
import os
from collections.abc import Container, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .errors import UnknownTargetError
from .models import (
    BackupInfo,
    BackupType,
    Migration,
    MigrationExecution,
    MigrationStatus,
    Operation,
)

if TYPE_CHECKING:
    from .protocols import Dialect

# table -> [(column, abstract type, constraint)]; the seed's columns first, ours after.
TABLES: dict[str, list[tuple[str, str, str]]] = {
    "migration_metadata": [
        ("migration_id", "key", "PRIMARY KEY"),
        ("version", "key", "NOT NULL"),
        ("name", "text", "NOT NULL"),
        ("description", "text", ""),
        ("migration_type", "text", "NOT NULL"),
        ("up_sql", "text", "NOT NULL"),
        ("down_sql", "text", "NOT NULL"),
        ("dependencies", "text", ""),
        ("checksum", "key", "NOT NULL"),
        ("created_at", "timestamp", "NOT NULL"),
        ("author", "text", ""),
        ("is_reversible", "bool", "DEFAULT 1"),
        ("backup_required", "bool", "DEFAULT 1"),
        ("transactional", "bool", "DEFAULT 1"),
        ("checksum_version", "int", "DEFAULT 1"),
    ],
    "migration_executions": [
        ("execution_id", "key", "PRIMARY KEY"),
        ("migration_id", "key", "NOT NULL"),
        ("version", "key", "NOT NULL"),
        ("status", "key", "NOT NULL"),
        ("started_at", "timestamp", "NOT NULL"),
        ("completed_at", "timestamp", ""),
        ("error_message", "text", ""),
        ("backup_path", "text", ""),
        ("rollback_available", "bool", "DEFAULT 1"),
        ("execution_time", "real", "DEFAULT 0.0"),
        ("seq", "int", "NOT NULL"),
        ("operation", "key", "NOT NULL"),
        ("checksum", "key", ""),
        ("checksum_version", "int", ""),
        ("method", "key", ""),
        ("backup_id", "key", ""),
        ("statements_committed", "int", ""),
        ("rolled_back_by", "key", ""),
        ("run_id", "key", ""),
        ("schema_hash", "key", ""),
        ("actor", "text", ""),
    ],
    "backup_info": [
        ("backup_id", "key", "PRIMARY KEY"),
        ("backup_path", "text", "NOT NULL"),
        ("backup_type", "key", "NOT NULL"),
        ("database_path", "text", "NOT NULL"),
        ("created_at", "timestamp", "NOT NULL"),
        ("size_bytes", "int", "NOT NULL"),
        ("checksum", "key", "NOT NULL"),
        ("migration_id", "key", ""),
        ("is_valid", "bool", "DEFAULT 1"),
        ("parent_id", "key", ""),
        ("storage", "key", ""),
        ("manifest", "text", ""),
    ],
    "schema_version": [
        ("id", "int", "PRIMARY KEY CHECK (id = 1)"),
        ("current_version", "key", "NOT NULL"),
        ("last_migration_id", "key", ""),
        ("updated_at", "timestamp", ""),
    ],
    "schema_snapshots": [
        ("schema_hash", "key", "PRIMARY KEY"),
        ("snapshot", "text", "NOT NULL"),
        ("recorded_at", "timestamp", "NOT NULL"),
    ],
}

#: Columns added after a table was first released: ``ensure`` adds them to older databases.
ADDED_COLUMNS: dict[str, list[str]] = {"migration_executions": ["schema_hash", "actor"]}

_EXEC_COLS = [c for c, _, _ in TABLES["migration_executions"]]
_BACKUP_COLS = [c for c, _, _ in TABLES["backup_info"]]


def now() -> str:
    """The current UTC time as ISO-8601 text, the form every timestamp is stored in."""
    return _dt.datetime.now(_dt.UTC).isoformat(timespec="microseconds")


def _seconds_since(started_at: str) -> float:
    started = _dt.datetime.fromisoformat(started_at)
    return max(0.0, (_dt.datetime.now(_dt.UTC) - started).total_seconds())


def _text(value: Any) -> Any:
    return value.isoformat() if isinstance(value, _dt.datetime) else value



Rows = dict[str, list[tuple[Any, ...]]]


@dataclass
class RestoreCause:
    """Why a backup is being restored, for the ledger's ``restored`` transition."""

    #: A note kept on the restore row (``rollback of 002_b``, ``failed 003_c``), or "".
    reason: str = ""
    #: Set for a rollback by restore: every execution the restore undoes gets a ``rollback``
    #: row of this run, and those rows are what the rollback returns.
    rollback_run: str | None = None


class _InEffect:
    """The executions in effect, by id, with the highest version at hand (kept in step with
    every transition while the lock is held, so no transition re-reads the table)."""

    def __init__(self, executions: Iterable[MigrationExecution]) -> None:
        self.by_id = {e.execution_id: e for e in executions}
        self._order = sorted((int(e.version), e.seq or 0, e.execution_id)
                             for e in self.by_id.values())

    def add(self, ex: MigrationExecution) -> None:
        self.by_id[ex.execution_id] = ex
        bisect.insort(self._order, (int(ex.version), ex.seq or 0, ex.execution_id))

    def remove(self, ex: MigrationExecution) -> None:
        old = self.by_id.pop(ex.execution_id, None)
        if old is not None:
            key = (int(old.version), old.seq or 0, old.execution_id)
            i = bisect.bisect_left(self._order, key)
            if i < len(self._order) and self._order[i] == key:
                del self._order[i]

    def top(self) -> MigrationExecution | None:
        return self.by_id[self._order[-1][2]] if self._order else None


class Ledger:
    """Reads and writes mig's bookkeeping tables through a connected dialect.

    Write methods are the transitions of ``docs/ledger.md``; each runs inside the caller's
    transaction and keeps ``mig_schema_version`` in step with the in-effect set.
    """

    def __init__(self, dialect: Dialect, prefix: str = "mig_") -> None:
        self.dialect = dialect
        self.prefix = prefix
        self.format = dialect.paramstyle == "format"
        self._sql: dict[str, str] = {}
        self._seq: int | None = None
        self._stored: set[str] | None = None
        self._effect: _InEffect | None = None
        self._select_cols: str | None = None
        #: Who asked for the current command: written on every execution row inserted that
        #: does not name one itself (see docs/ledger.md, "Who did it").
        self.actor: str | None = None

    def forget(self) -> None:
        """Drop what is cached about the tables' contents (another process may have written,
        a transaction was rolled back, or a restore replaced them)."""
        self._seq = None
        self._stored = None
        self._effect = None

    def table(self, name: str) -> str:
        return self.prefix + name

    def sql(self, text: str) -> str:
        """``text`` with ``{t}`` table names filled in and placeholders in the dialect's style."""
        cached = self._sql.get(text)
        if cached is None:
            cached = text.format(**{k: self.table(k) for k in TABLES})
            if self.format:
                cached = cached.replace("%", "%%").replace("?", "%s")
            self._sql[text] = cached
        return cached

    def _query(self, text: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        return self.dialect.query(self.sql(text), params)

    def _execute(self, text: str, params: Sequence[Any] = ()) -> None:
        self.dialect.execute(self.sql(text), params)

    # -- the tables -----------------------------------------------------------------------------

    def ddl(self) -> list[str]:
        types = self.dialect.column_types
        statements = []
        for name, columns in TABLES.items():
            cols = ", ".join(f"{c} {types[t]} {extra}".rstrip() for c, t, extra in columns)
            statements.append(f"CREATE TABLE IF NOT EXISTS {self.table(name)} ({cols})")
        return statements

    def exists(self) -> bool:
        """Whether the ledger's tables are there (all of them: a database written by an older
        mig lacks the newer ones until it is next written to)."""
        names = {n.lower() for n in self.dialect.table_names()}
        return all(self.table(t).lower() in names for t in TABLES if t != "schema_snapshots")

    def ensure(self) -> None:
        """Create the tables and columns that are missing, each change in a transaction."""
        names = {n.lower() for n in self.dialect.table_names()}
        created: set[str] = set()
        if not all(self.table(t).lower() in names for t in TABLES):
            self.dialect.begin()
            try:
                created = self.create_tables()
                self.dialect.commit()
            except BaseException:
                self.dialect.rollback()
                raise
        self._add_columns(created)

    def _add_columns(self, created: Container[str] = frozenset()) -> None:
        """Add the columns a ledger written by an older mig lacks (a table in ``created``,
        just made, has them all)."""
        for name, columns in ADDED_COLUMNS.items():
            for column in columns:
                if name not in created and not self._has_column(name, column):
                    kind = dict((c, t) for c, t, _ in TABLES[name])[column]
                    self.dialect.execute(f"ALTER TABLE {self.table(name)} ADD COLUMN {column}"
                                         f" {self.dialect.column_types[kind]}")
        self._select_cols = ", ".join(_EXEC_COLS)

    def _columns(self) -> str:
        """The execution columns to select: a ledger written by an older mig, read before it
        is next written to (and upgraded), lacks the newer ones, which read as NULL."""
        if self._select_cols is None:
            missing = {c for c in ADDED_COLUMNS["migration_executions"]
                       if not self._has_column("migration_executions", c)}
            self._select_cols = ", ".join(f"NULL AS {c}" if c in missing else c
                                          for c in _EXEC_COLS)
        return self._select_cols

    def _has_column(self, table: str, column: str) -> bool:
        # Inside a transaction the probe gets a savepoint: a failed statement must not abort
        # the transaction (PostgreSQL) it runs in.
        savepoint = self.dialect.in_transaction
        if savepoint:
            self.dialect.execute("SAVEPOINT mig_probe")
        try:
            self.dialect.query(f"SELECT {column} FROM {self.table(table)} WHERE 1 = 0")
        except Exception:  # the driver's own "no such column"
            if savepoint:
                self.dialect.execute("ROLLBACK TO SAVEPOINT mig_probe")
            return False
        finally:
            if savepoint:
                self.dialect.execute("RELEASE SAVEPOINT mig_probe")
        return True

    def create_tables(self) -> set[str]:
        """Create missing bookkeeping tables inside the caller's transaction; returns the
        names (in :data:`TABLES`) of those it created."""
        ex = self.table("migration_executions")
        existing = {n.lower() for n in self.dialect.table_names()}
        created = set()
        for name, statement in zip(TABLES, self.ddl(), strict=True):
            # Only the missing ones: on MySQL any CREATE TABLE, even IF NOT EXISTS of a table
            # that is there, commits the caller's transaction (a restore's rows with it).
            if self.table(name).lower() not in existing:
                self.dialect.execute(statement)
                created.add(name)
        if "migration_executions" in created:
            # Only beside a table just made: MySQL 8 has no CREATE INDEX IF NOT EXISTS.
            self.dialect.execute(f"CREATE INDEX {ex}_migration ON {ex} (migration_id)")
        # A table just made is empty (and `mig up --sql` has only made it in its script).
        if "schema_version" in created or not self._query(
            "SELECT 1 FROM {schema_version} WHERE id = 1"
        ):
            self._execute(
                "INSERT INTO {schema_version} (id, current_version, last_migration_id,"
                " updated_at) VALUES (1, '', NULL, ?)",
                (now(),),
            )
        return created

    # -- reading executions ---------------------------------------------------------------------

    def _execution(self, row: Sequence[Any]) -> MigrationExecution:
        d = dict(zip(_EXEC_COLS, row, strict=True))
        d["status"] = MigrationStatus(d["status"])
        d["operation"] = Operation(d["operation"])
        d["rollback_available"] = bool(d["rollback_available"])
        d["started_at"] = _text(d["started_at"])
        d["completed_at"] = _text(d["completed_at"])
        return MigrationExecution(**d)

    def _select(self, where: str = "", params: Sequence[Any] = (), tail: str = "") -> list[
        MigrationExecution
    ]:
        text = f"SELECT {self._columns()} FROM {{migration_executions}} {where} {tail}"
        return [self._execution(r) for r in self._query(text, params)]

    def executions(self, limit: int | None = None) -> list[MigrationExecution]:
        """The audit trail, newest first."""
        tail = "ORDER BY seq DESC" + (f" LIMIT {int(limit)}" if limit is not None else "")
        return self._select(tail=tail)

    def in_effect(self) -> list[MigrationExecution]:
        """Apply executions in effect, in the order they were first written (``seq``)."""
        return sorted(self._loaded().by_id.values(), key=lambda e: e.seq or 0)

    def _loaded(self) -> _InEffect:
        if self._effect is None:
            self._effect = _InEffect(self._select(
                "WHERE operation = ? AND status = ?",
                (Operation.APPLY.value, MigrationStatus.COMPLETED.value),
            ))
        return self._effect

    def attention(self) -> list[MigrationExecution]:
        """Per migration, the execution that needs an operator's look: since its last
        successful apply, an apply left RUNNING (the process died) or a failure that left
        statements committed (apply or rollback). A later failed retry does not clear it."""
        found: dict[str, MigrationExecution] = {}
        settled: set[str] = set()
        for ex in self._select(tail="ORDER BY seq DESC"):
            m = ex.migration_id
            if m in settled or ex.operation is Operation.RESTORE:
                continue
            if ex.operation is Operation.REPAIR and (ex.method or "").startswith(RESOLVED):
                settled.add(m)  # an operator inspected it (`mig repair --resolve`)
                continue
            if ex.operation is Operation.APPLY and ex.status in (
                MigrationStatus.COMPLETED, MigrationStatus.ROLLED_BACK
            ):
                settled.add(m)
            elif ex.status is MigrationStatus.RUNNING or (
                ex.status is MigrationStatus.FAILED and (ex.statements_committed or 0) > 0
            ):
                found.setdefault(m, ex)
        return list(found.values())

    def failed(self) -> list[MigrationExecution]:
        """The newest apply execution of each migration when it failed or never finished
        (and no ``repair --resolve`` has settled it since)."""
        latest: dict[str, MigrationExecution] = {}
        for ex in self._select("WHERE operation IN (?, ?)",
                               (Operation.APPLY.value, Operation.REPAIR.value), "ORDER BY seq"):
            if ex.operation is Operation.APPLY or (ex.method or "").startswith(RESOLVED):
                latest[ex.migration_id] = ex
        return [
            ex for ex in latest.values() if ex.operation is Operation.APPLY
            and ex.status in (MigrationStatus.FAILED, MigrationStatus.RUNNING)
        ]

    def get_execution(self, execution_id: str) -> MigrationExecution:
        """The execution with this id, or the only one whose id starts with it."""
        rows = self._select("WHERE execution_id = ?", (execution_id,))
        if not rows and execution_id:
            rows = [e for e in self._select() if e.execution_id.startswith(execution_id)]
        if len(rows) != 1:
            what = "no execution" if not rows else "more than one execution"
            raise UnknownTargetError(f"{what} has the id {execution_id!r} (see `mig history`)")
        return rows[0]

    def current_version(self) -> str | None:
        rows = self._query("SELECT current_version FROM {schema_version} WHERE id = 1")
        return (rows[0][0] or None) if rows else None

    def stored_migration(self, migration_id: str, directory: Path) -> Migration | None:
        """The migration as recorded when it was applied (its file may be gone or edited)."""
        rows = self._query(
            "SELECT version, name, description, migration_type, up_sql, down_sql, dependencies,"
            " checksum, author, is_reversible, backup_required, transactional, checksum_version"
            " FROM {migration_metadata} WHERE migration_id = ?",
            (migration_id,),
        )
        if not rows:
            return None
        (version, name, description, kind, up, down, deps, digest, author, reversible,
         backup_required, transactional, checksum_version) = rows[0]
        return Migration(
            id=migration_id, version=version, name=name, path=directory / f"{migration_id}.sql",
            up_sql=up, down_sql=down, checksum=digest, checksum_version=checksum_version or 1,
            description=description or "", migration_type=kind or "", author=author or "",
            dependencies=tuple(json.loads(deps or "[]")), reversible=bool(reversible),
            backup_required=bool(backup_required), transactional=bool(transactional),
        )

    def backups(self) -> list[BackupInfo]:
        rows = self._query(
            f"SELECT {', '.join(_BACKUP_COLS)} FROM {{backup_info}} ORDER BY created_at"
        )
        out = []
        for row in rows:
            d = dict(zip(_BACKUP_COLS, row, strict=True))
            d.pop("manifest")
            d["backup_type"] = BackupType.parse(d["backup_type"])
            d["is_valid"] = bool(d["is_valid"])
            d["created_at"] = _text(d["created_at"])
            out.append(BackupInfo(**d))
        return out

    def schema_record(self) -> tuple[MigrationExecution | None, dict[str, Any] | None]:
        """The newest execution row, and the schema snapshot recorded on the newest row that
        has one when that is the newest row (else None: rows were written since without a
        record, by a command that was killed)."""
        newest = self._select(tail="ORDER BY seq DESC LIMIT 1")
        if not newest or newest[0].schema_hash is None:  # (or an older mig's ledger)
            return (newest[0] if newest else None), None
        rows = self._query("SELECT snapshot FROM {schema_snapshots} WHERE schema_hash = ?",
                           (newest[0].schema_hash,))
        return newest[0], (json.loads(rows[0][0]) if rows else None)

    # -- transitions (each inside the caller's transaction) -------------------------------------

    def prime(self) -> None:
        """Read now what the transitions read later (the highest ``seq``, the stored
        metadata's ids, the executions in effect), or note that there is nothing when the
        tables are not there yet: from then on the transitions only write, so a run whose
        writes are recorded instead of executed (``mig up --sql``) numbers, replaces and
        versions its rows exactly as the run itself would."""
        if self.exists():
            self._seq, self._stored = self._max_seq(), self._stored_ids()
            self._effect = None
            self._loaded()
        else:
            self._seq, self._stored, self._effect = 0, set(), _InEffect(())

    def _max_seq(self) -> int:
        return int(self._query("SELECT COALESCE(MAX(seq), 0) FROM {migration_executions}")[0][0])

    def _stored_ids(self) -> set[str]:
        return {mid for (mid,) in self._query("SELECT migration_id FROM {migration_metadata}")}

    def last_seq(self) -> int:
        """The highest ``seq`` written (0 when none)."""
        return self._seq if self._seq is not None else self._max_seq()

    def _next_seq(self) -> int:
        if self._seq is None:
            self._seq = self._max_seq()
        self._seq += 1
        return self._seq

    def _insert(self, ex: MigrationExecution) -> None:
        ex.seq = self._next_seq()
        if ex.actor is None:
            ex.actor = self.actor
        values = dict(ex.__dict__)
        values["status"] = ex.status.value
        values["operation"] = ex.operation.value
        values["rollback_available"] = int(ex.rollback_available)
        marks = ", ".join("?" * len(_EXEC_COLS))
        self._execute(
            f"INSERT INTO {{migration_executions}} ({', '.join(_EXEC_COLS)}) VALUES ({marks})",
            [values[c] for c in _EXEC_COLS],
        )

    def _finish(self, ex: MigrationExecution) -> None:
        """Write an execution's outcome: a new row, or the update of its RUNNING row."""
        if ex.seq is None:
            self._insert(ex)
            return
        self._execute(
            "UPDATE {migration_executions} SET status = ?, completed_at = ?, error_message = ?,"
            " execution_time = ?, statements_committed = ? WHERE execution_id = ?",
            (ex.status.value, ex.completed_at, ex.error_message, ex.execution_time,
             ex.statements_committed, ex.execution_id),
        )

    def _set_status(self, ex: MigrationExecution, status: MigrationStatus,
                    by: str | None) -> None:
        self._execute(
            "UPDATE {migration_executions} SET status = ?, rolled_back_by = ?"
            " WHERE execution_id = ?",
            (status.value, by, ex.execution_id),
        )
        ex.status, ex.rolled_back_by = status, by

    def _write_version(self) -> None:
        top = self._loaded().top()
        self._execute(
            "UPDATE {schema_version} SET current_version = ?, last_migration_id = ?,"
            " updated_at = ? WHERE id = 1",
            (top.version if top else "", top.migration_id if top else None, now()),
        )

    def started(self, ex: MigrationExecution) -> None:
        """A ``@transactional: false`` step begins: its RUNNING row, committed first."""
        self._insert(ex)

    def applied(self, ex: MigrationExecution, migration: Migration) -> None:
        """``ex`` applied ``migration``: it is in effect, with the migration's metadata."""
        effect = self._loaded()
        ex.status = MigrationStatus.COMPLETED
        self._finish(ex)
        self._save_metadata(migration)
        effect.add(ex)
        self._write_version()

    def adopted(self, migration: Migration, run_id: str, how: str,
                note: str | None = None) -> MigrationExecution:
        """``migration`` is in effect without mig having run it: the database already held
        its changes (``how`` = ``"baseline"``, or ``"import:<tool>"`` when another tool's
        history says it ran). The row is a completed apply whose ``method`` says so and whose
        ``error_message`` carries ``note`` for the audit trail; it is undone like any other."""
        ex = apply_record(migration, run_id)
        ex.method, ex.error_message = how, note
        ex.completed_at = ex.started_at
        self.applied(ex, migration)
        return ex

    def failed_execution(self, ex: MigrationExecution) -> None:
        """``ex`` (an apply or a rollback) failed; its ``error_message`` and
        ``statements_committed`` say how."""
        ex.status = MigrationStatus.FAILED
        self._finish(ex)

    def discarded(self, ex: MigrationExecution, reason: str) -> None:
        """``ex`` had run inside a transaction that was rolled back (an ``--atomic`` run that
        failed later): recorded, never in effect."""
        ex.status = MigrationStatus.ROLLED_BACK
        ex.error_message = reason
        self._finish(ex)

    def rolled_back(self, ex: MigrationExecution, record: MigrationExecution) -> None:
        """``record`` (a rollback row) undid the apply execution ``ex``."""
        effect = self._loaded()
        record.status = MigrationStatus.COMPLETED
        self._finish(record)
        self._set_status(ex, MigrationStatus.ROLLED_BACK, record.execution_id)
        effect.remove(ex)
        self._write_version()

    def restored(
        self,
        record: MigrationExecution,
        in_effect_then: set[str] | None,
        before: Rows,
        cause: RestoreCause,
        backup_catalogue: Iterable[tuple[BackupInfo, str]] = (),
    ) -> list[MigrationExecution]:
        """A backup was just restored into this ledger's database: put back the ledger as it
        was before (``before``, from :meth:`rows`) and make in effect exactly the executions
        ids ``in_effect_then`` (None: keep the in-effect set, for a restore that changes no
        schema). Returns the rollback rows written when ``cause.rollback_run`` is set.

        When ``before`` is empty (the ledger was lost), the restored copy's own ledger stays,
        and ``backup_catalogue`` (backups in storage with their manifests) fills in what its
        catalogue lacks."""
        self.create_tables()
        self._add_columns()
        if before.get("migration_executions") or before.get("backup_info"):
            self._replace_all(before)
        else:
            known = {b.backup_id for b in self.backups()}
            for info, manifest in backup_catalogue:
                if info.backup_id not in known:
                    self.backup_recorded(info, manifest)
        self.forget()
        effect = self._loaded()
        current = dict(effect.by_id)
        wanted = set(current) if in_effect_then is None else in_effect_then
        rollbacks: list[MigrationExecution] = []
        # Newest first, as a rollback undoes them (and as the restore notice lists them).
        for ex in sorted(current.values(), key=lambda e: e.seq or 0, reverse=True):
            if ex.execution_id in wanted:
                continue
            by = record.execution_id
            if cause.rollback_run is not None:
                row = undo_record(ex, "restore", cause.rollback_run)
                row.backup_id, row.started_at = record.backup_id, record.started_at
                row.status, row.completed_at = MigrationStatus.COMPLETED, now()
                row.execution_time = _seconds_since(record.started_at)
                self._insert(row)
                rollbacks.append(row)
                by = row.execution_id
            self._set_status(ex, MigrationStatus.ROLLED_BACK, by)
            effect.remove(ex)
        back = sorted(wanted - set(current))
        if back:
            marks = ", ".join("?" * len(back))
            for ex in self._select(f"WHERE execution_id IN ({marks})", back):
                if ex.operation is Operation.APPLY:
                    self._set_status(ex, MigrationStatus.COMPLETED, None)
                    effect.add(ex)
        record.status, record.completed_at = MigrationStatus.COMPLETED, now()
        record.execution_time = _seconds_since(record.started_at)
        self._insert(record)
        self._write_version()
        return rollbacks

    def rows(self) -> Rows:
        """Every bookkeeping row, to be put back by :meth:`restored` after a restore."""
        return {
            name: self._query(f"SELECT {', '.join(c for c, _, _ in cols)} FROM {{{name}}}")
            for name, cols in TABLES.items()
        }

    def _replace_all(self, rows: Rows) -> None:
        for name, cols in TABLES.items():
            names = [c for c, _, _ in cols]
            self._execute(f"DELETE FROM {{{name}}}")
            values = [tuple(_text(v) for v in r) for r in rows.get(name, ())]
            if values:
                marks = ", ".join("?" * len(names))
                self.dialect.executemany(
                    self.sql(f"INSERT INTO {{{name}}} ({', '.join(names)}) VALUES ({marks})"),
                    values,
                )

    def _save_metadata(self, m: Migration) -> None:
        if self._stored is None:  # read once per lock: a row is replaced only if it is there
            self._stored = self._stored_ids()
        if m.id in self._stored:
            self._execute("DELETE FROM {migration_metadata} WHERE migration_id = ?", (m.id,))
        self._stored.add(m.id)
        self._execute(
            "INSERT INTO {migration_metadata} (migration_id, version, name, description,"
            " migration_type, up_sql, down_sql, dependencies, checksum, created_at, author,"
            " is_reversible, backup_required, transactional, checksum_version)"
            " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (
                m.id, m.version, m.name, m.description, m.migration_type or "", m.up_sql,
                m.down_sql, json.dumps(list(m.dependencies)), m.checksum, now(), m.author,
                int(m.reversible), int(m.backup_required), int(m.transactional),
                m.checksum_version,
            ),
        )

    def backup_recorded(self, info: BackupInfo, manifest: str = "") -> None:
        """A backup was stored: its catalogue row."""
        values = {**info.__dict__, "backup_type": str(info.backup_type), "manifest": manifest}
        values["is_valid"] = int(info.is_valid)
        marks = ", ".join("?" * len(_BACKUP_COLS))
        self._execute("DELETE FROM {backup_info} WHERE backup_id = ?", (info.backup_id,))
        self._execute(
            f"INSERT INTO {{backup_info}} ({', '.join(_BACKUP_COLS)}) VALUES ({marks})",
            [values[c] for c in _BACKUP_COLS],
        )

    def backup_forgotten(self, backup_id: str, record: MigrationExecution | None = None) -> None:
        """A backup was deleted from storage: its catalogue row goes. When it was deleted
        outside mig, ``record`` (a ``forget`` row) puts that in the audit trail. The row
        changes no schema, so it carries the schema record of the row before it: ``check``
        still compares with the last recorded schema."""
        self._execute("DELETE FROM {backup_info} WHERE backup_id = ?", (backup_id,))
        if record is None:
            return
        self._carry_schema(record)
        self._insert(record)

    def _carry_schema(self, record: MigrationExecution) -> None:
        """An audit row that changes no schema carries the schema record of the row before
        it, so ``check`` still compares with the last recorded schema."""
        newest = self._select(tail="ORDER BY seq DESC LIMIT 1")
        record.schema_hash = newest[0].schema_hash if newest else None

    def checksum_accepted(self, ex: MigrationExecution, migration: Migration,
                          record: MigrationExecution) -> None:
        """The file of ``migration``, applied by the in-effect execution ``ex``, was edited
        since and the operator accepted it (``mig repair``): ``ex`` takes the file's checksum
        and the stored metadata the file's text; ``record`` (a ``repair`` row) keeps the old
        checksum for the audit trail."""
        record.checksum, record.checksum_version = ex.checksum, ex.checksum_version
        record.status, record.completed_at = MigrationStatus.COMPLETED, now()
        self._execute(
            "UPDATE {migration_executions} SET checksum = ?, checksum_version = ?"
            " WHERE execution_id = ?",
            (migration.checksum, migration.checksum_version, ex.execution_id),
        )
        ex.checksum, ex.checksum_version = migration.checksum, migration.checksum_version
        self._save_metadata(migration)
        self._carry_schema(record)
        self._insert(record)

    def attention_resolved(self, ex: MigrationExecution, migration: Migration,
                           record: MigrationExecution, applied: bool) -> (
            MigrationExecution | None):
        """The operator inspected the migration that ``ex`` (from :meth:`attention`) left
        needing attention and says all its changes are in place (``applied``) or none are.
        ``ex`` left ``RUNNING`` becomes ``FAILED`` (its process is gone: the caller holds the
        lock); applied: an apply row (method ``repair``) is put in effect unless one is;
        not applied: the execution in effect, if any, becomes ``ROLLED_BACK`` by ``record``.
        ``record`` (a ``repair`` row whose method starts with ``resolve``) clears the
        attention. Returns the new apply row, if any."""
        effect = self._loaded()
        record.status, record.completed_at = MigrationStatus.COMPLETED, now()
        if ex.status is MigrationStatus.RUNNING:
            ex.status = MigrationStatus.FAILED
            ex.error_message = ex.error_message or "its process died while it ran"
            ex.completed_at = record.started_at
            self._finish(ex)
        current = next((e for e in effect.by_id.values()
                        if e.migration_id == ex.migration_id), None)
        self._carry_schema(record)
        self._insert(record)
        adopted = None
        if applied and current is None:
            adopted = apply_record(migration, record.run_id or "")
            adopted.method = "repair"
            adopted.error_message = f"resolved as applied by repair {record.execution_id}"
            adopted.completed_at = adopted.started_at
            self.applied(adopted, migration)
        elif not applied and current is not None:
            self._set_status(current, MigrationStatus.ROLLED_BACK, record.execution_id)
            effect.remove(current)
            self._write_version()
        return adopted

    def schema_recorded(self, ex: MigrationExecution, snapshot: dict[str, Any],
                        fingerprint: str) -> None:
        """The user schema after the command whose last row is ``ex``."""
        if not self._query("SELECT 1 FROM {schema_snapshots} WHERE schema_hash = ?",
                           (fingerprint,)):
            self._execute(
                "INSERT INTO {schema_snapshots} (schema_hash, snapshot, recorded_at)"
                " VALUES (?, ?, ?)",
                (fingerprint, json.dumps(snapshot, sort_keys=True), now()),
            )
        self._execute("UPDATE {migration_executions} SET schema_hash = ? WHERE execution_id = ?",
                      (fingerprint, ex.execution_id))
        ex.schema_hash = fingerprint


#: The method of a ``repair`` row that resolves a migration needing attention starts so.
RESOLVED = "resolve"


def repair_record(migration_id: str, version: str, method: str, note: str,
                  run_id: str) -> MigrationExecution:
    """A RUNNING ``repair`` audit row (completed by its transition)."""
    return MigrationExecution(
        execution_id=new_id(), migration_id=migration_id, version=version,
        status=MigrationStatus.RUNNING, started_at=now(), operation=Operation.REPAIR,
        method=method, error_message=note, rollback_available=False, run_id=run_id,
    )


def new_id() -> str:
    """A new execution id: 12 hex digits."""
    return os.urandom(6).hex()


def apply_record(m: Migration, run_id: str) -> MigrationExecution:
    """The RUNNING apply row for ``m`` (written by a transition once its outcome is known)."""
    return MigrationExecution(
        execution_id=new_id(), migration_id=m.id, version=m.version,
        status=MigrationStatus.RUNNING, started_at=now(), checksum=m.checksum,
        checksum_version=m.checksum_version, rollback_available=m.reversible, run_id=run_id,
    )


def undo_record(ex: MigrationExecution, method: str, run_id: str) -> MigrationExecution:
    """The RUNNING rollback row that undoes the apply execution ``ex`` by ``method``."""
    return MigrationExecution(
        execution_id=new_id(), migration_id=ex.migration_id, version=ex.version,
        status=MigrationStatus.RUNNING, started_at=now(), operation=Operation.ROLLBACK,
        method=method, checksum=ex.checksum, checksum_version=ex.checksum_version,
        rollback_available=False, run_id=run_id,
    )
