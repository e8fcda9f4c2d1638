"""The bookkeeping tables (SPEC §8) and every read and write of them.

The tables are described once here with abstract column types; each dialect maps those to its
own (``Dialect.column_types``). All SQL is written with ``?`` placeholders and rewritten once
for dialects whose paramstyle is ``format``.
"""

from __future__ import annotations

import datetime as _dt
import json
from collections.abc import Iterable, Sequence
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
}

_EXEC_COLS = [c for c, _, _ in TABLES["migration_executions"]]
_BACKUP_COLS = [c for c, _, _ in TABLES["backup_info"]]


def now() -> str:
    """The current UTC time as ISO-8601 text, the form every timestamp is stored in."""
    return _dt.datetime.now(_dt.UTC).isoformat(timespec="microseconds")


def _text(value: Any) -> Any:
    return value.isoformat() if isinstance(value, _dt.datetime) else value


class History:
    """Reads and writes mig's bookkeeping tables through a connected dialect."""

    def __init__(self, dialect: Dialect, prefix: str = "mig_") -> None:
        self.dialect = dialect
        self.prefix = prefix
        self.format = dialect.paramstyle == "format"
        self._sql: dict[str, str] = {}
        self._seq: int | None = None
        self._stored: set[str] | None = None

    def forget(self) -> None:
        """Drop what is cached about the tables' contents (another process may have written,
        or a restore replaced them)."""
        self._seq = None
        self._stored = None

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

    # -- schema -------------------------------------------------------------------------------

    def ddl(self) -> list[str]:
        types = self.dialect.column_types
        statements = []
        for name, columns in TABLES.items():
            cols = ", ".join(f"{c} {types[t]} {extra}".rstrip() for c, t, extra in columns)
            statements.append(f"CREATE TABLE IF NOT EXISTS {self.table(name)} ({cols})")
        return statements

    def exists(self) -> bool:
        names = {n.lower() for n in self.dialect.table_names()}
        return all(self.table(t).lower() in names for t in TABLES)

    def ensure(self) -> None:
        """Create the bookkeeping tables that are missing, in one transaction."""
        if self.exists():
            return
        self.dialect.begin()
        try:
            self.create_tables()
            self.dialect.commit()
        except BaseException:
            self.dialect.rollback()
            raise

    def create_tables(self) -> None:
        """Create missing bookkeeping tables inside the caller's transaction."""
        ex = self.table("migration_executions")
        existing = {n.lower() for n in self.dialect.table_names()}
        new_executions = ex.lower() not in existing
        for name, statement in zip(TABLES, self.ddl(), strict=True):
            # Only the missing ones: on MySQL any CREATE TABLE, even IF NOT EXISTS of a table
            # that is there, commits the caller's transaction (a restore's rows with it).
            if self.table(name).lower() not in existing:
                self.dialect.execute(statement)
        if new_executions:
            # Only beside a table just made: MySQL 8 has no CREATE INDEX IF NOT EXISTS.
            self.dialect.execute(f"CREATE INDEX {ex}_migration ON {ex} (migration_id)")
        if not self._query("SELECT 1 FROM {schema_version} WHERE id = 1"):
            self._execute(
                "INSERT INTO {schema_version} (id, current_version, last_migration_id,"
                " updated_at) VALUES (1, '', NULL, ?)",
                (now(),),
            )

    # -- executions ---------------------------------------------------------------------------

    def _execution(self, row: Sequence[Any]) -> MigrationExecution:
        d = dict(zip(_EXEC_COLS, row, strict=True))
        d.pop("seq")
        d["status"] = MigrationStatus(d["status"])
        d["operation"] = Operation(d["operation"])
        d["rollback_available"] = bool(d["rollback_available"])
        d["started_at"] = _text(d["started_at"])
        d["completed_at"] = _text(d["completed_at"])
        return MigrationExecution(**d)

    def executions(self, limit: int | None = None) -> list[MigrationExecution]:
        """The audit trail, newest first."""
        cols = ", ".join(_EXEC_COLS)
        text = f"SELECT {cols} FROM {{migration_executions}} ORDER BY seq DESC"
        rows = self._query(text + (f" LIMIT {int(limit)}" if limit is not None else ""))
        return [self._execution(r) for r in rows]

    def applied(self) -> list[MigrationExecution]:
        """Apply executions still in effect, in the order they were applied."""
        cols = ", ".join(_EXEC_COLS)
        rows = self._query(
            f"SELECT {cols} FROM {{migration_executions}} WHERE operation = ? AND status = ?"
            " ORDER BY seq",
            (Operation.APPLY.value, MigrationStatus.COMPLETED.value),
        )
        return [self._execution(r) for r in rows]

    def failed_attention(self) -> list[MigrationExecution]:
        """The newest apply execution of each migration when it failed or never finished."""
        latest: dict[str, MigrationExecution] = {}
        for ex in reversed(self.executions()):
            if ex.operation is Operation.APPLY:
                latest[ex.migration_id] = ex
        return [
            ex for ex in latest.values()
            if ex.status in (MigrationStatus.FAILED, MigrationStatus.RUNNING)
        ]

    def get_execution(self, execution_id: str) -> MigrationExecution:
        """The execution with this id, or the only one whose id starts with it."""
        cols = ", ".join(_EXEC_COLS)
        rows = self._query(
            f"SELECT {cols} FROM {{migration_executions}} WHERE execution_id = ?", (execution_id,)
        )
        if not rows and execution_id:
            rows = [
                r
                for r in self._query(f"SELECT {cols} FROM {{migration_executions}}")
                if str(r[0]).startswith(execution_id)
            ]
        if len(rows) != 1:
            what = "no execution" if not rows else "more than one execution"
            raise UnknownTargetError(f"{what} has the id {execution_id!r} (see `mig history`)")
        return self._execution(rows[0])

    def next_seq(self) -> int:
        if self._seq is None:
            rows = self._query("SELECT COALESCE(MAX(seq), 0) FROM {migration_executions}")
            self._seq = int(rows[0][0])
        self._seq += 1
        return self._seq

    def record(self, ex: MigrationExecution) -> None:
        """Insert one execution row (inside the caller's transaction)."""
        values = {**ex.__dict__, "seq": self.next_seq()}
        values["status"] = ex.status.value
        values["operation"] = ex.operation.value
        values["rollback_available"] = int(ex.rollback_available)
        marks = ", ".join("?" * len(_EXEC_COLS))
        self._execute(
            f"INSERT INTO {{migration_executions}} ({', '.join(_EXEC_COLS)}) VALUES ({marks})",
            [values[c] for c in _EXEC_COLS],
        )

    def update_execution(self, ex: MigrationExecution) -> None:
        """Write back the outcome of an execution recorded while it was RUNNING."""
        self._execute(
            "UPDATE {migration_executions} SET status = ?, completed_at = ?, error_message = ?,"
            " execution_time = ?, statements_committed = ? WHERE execution_id = ?",
            (ex.status.value, ex.completed_at, ex.error_message, ex.execution_time,
             ex.statements_committed, ex.execution_id),
        )

    def update_status(
        self, execution_id: str, status: MigrationStatus, *, by: str | None = None,
        error: str | None = None,
    ) -> None:
        self._execute(
            "UPDATE {migration_executions} SET status = ?,"
            " rolled_back_by = COALESCE(?, rolled_back_by),"
            " error_message = COALESCE(?, error_message) WHERE execution_id = ?",
            (status.value, by, error, execution_id),
        )

    # -- metadata and version -----------------------------------------------------------------

    def save_metadata(self, m: Migration) -> None:
        if self._stored is None:  # read once per lock: a row is replaced only if it is there
            rows = self._query("SELECT migration_id FROM {migration_metadata}")
            self._stored = {migration_id for (migration_id,) in rows}
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

    def set_version(self, version: str | None, migration_id: str | None) -> None:
        self._execute(
            "UPDATE {schema_version} SET current_version = ?, last_migration_id = ?,"
            " updated_at = ? WHERE id = 1",
            (version or "", migration_id, now()),
        )

    def current_version(self) -> str | None:
        rows = self._query("SELECT current_version FROM {schema_version} WHERE id = 1")
        return (rows[0][0] or None) if rows else None

    # -- backups catalogue --------------------------------------------------------------------

    def record_backup(self, info: BackupInfo, manifest: str = "") -> None:
        values = {**info.__dict__, "backup_type": str(info.backup_type), "manifest": manifest}
        values["is_valid"] = int(info.is_valid)
        marks = ", ".join("?" * len(_BACKUP_COLS))
        self._execute("DELETE FROM {backup_info} WHERE backup_id = ?", (info.backup_id,))
        self._execute(
            f"INSERT INTO {{backup_info}} ({', '.join(_BACKUP_COLS)}) VALUES ({marks})",
            [values[c] for c in _BACKUP_COLS],
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

    def delete_backup(self, backup_id: str) -> None:
        self._execute("DELETE FROM {backup_info} WHERE backup_id = ?", (backup_id,))

    # -- whole-table copies (restores never take the audit trail back) ------------------------

    def snapshot(self) -> dict[str, list[tuple[Any, ...]]]:
        """Every bookkeeping row, to be put back with :meth:`replace_all` after a restore."""
        return {
            name: self._query(f"SELECT {', '.join(c for c, _, _ in cols)} FROM {{{name}}}")
            for name, cols in TABLES.items()
        }

    def replace_all(self, snapshot: dict[str, list[tuple[Any, ...]]]) -> None:
        """Replace the bookkeeping rows with ``snapshot`` (inside the caller's transaction)."""
        for name, cols in TABLES.items():
            names = [c for c, _, _ in cols]
            self._execute(f"DELETE FROM {{{name}}}")
            rows: Iterable[tuple[Any, ...]] = snapshot.get(name, ())
            marks = ", ".join("?" * len(names))
            rows = [tuple(_text(v) for v in r) for r in rows]
            if rows:
                self.dialect.executemany(
                    self.sql(f"INSERT INTO {{{name}}} ({', '.join(names)}) VALUES ({marks})"), rows
                )
        self.forget()
