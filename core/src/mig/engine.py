"""The engine: plans, applies and rolls back migrations, keeping the audit trail whole.

Every migration runs in its own transaction together with its bookkeeping rows, so a crash
leaves it either applied and recorded or neither. Nothing here knows a dialect, a file format,
a backup type or a rollback method by name: those come from plugins through
:class:`mig.plugins.Plugins`.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from . import graph
from .checksum import checksum
from .config import AUTO_ROLLBACK, NO_BACKUP, Config, from_table, load_config
from .errors import (
    ConfigError,
    DependencyError,
    DriftError,
    MigError,
    RollbackRefused,
    UnknownTargetError,
)
from .history import History, now
from .models import (
    BackupInfo,
    BackupType,
    IntegrityResult,
    Migration,
    MigrationExecution,
    MigrationStatus,
    Operation,
    Problem,
    Statement,
)
from .plugins import Plugins
from .protocols import Context, Dialect, Executor

if TYPE_CHECKING:
    from .backups import Backups

#: Called as ``progress(done, total, migration, execution)``; execution is None at the start.
Progress = Callable[[int, int, Migration, "MigrationExecution | None"], None]


#: Names of SPEC §5 that need no registry look-up to be accepted (a registry is consulted,
#: and may report a conflict, only where it is used).
BUILTIN_NAMES = frozenset({"full", "schema", "data", "incremental", "down", "restore", NO_BACKUP,
                           AUTO_ROLLBACK})


def new_id() -> str:
    return os.urandom(6).hex()


@dataclass
class RollbackStep:
    """One step of a rollback: ``root`` undone by ``method``, which also undoes ``undoes``
    (``root`` included, newest first)."""

    root: MigrationExecution
    migration: Migration
    method: str
    undoes: list[MigrationExecution]


@dataclass
class Status:
    """What ``mig status`` reports."""

    current_version: str | None
    applied: list[MigrationExecution]
    pending: list[Migration]
    failed: list[MigrationExecution]
    drift: list[Migration]
    missing: list[MigrationExecution]
    out_of_order: list[Migration]
    attention: list[MigrationExecution] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {
            "current_version": self.current_version,
            "applied": [e.migration_id for e in self.applied],
            "pending": [m.id for m in self.pending],
            "failed": [e.migration_id for e in self.failed],
            "drift": [m.id for m in self.drift],
            "missing": [e.migration_id for e in self.missing],
            "out_of_order": [m.id for m in self.out_of_order],
            "needs_attention": [e.to_dict() for e in self.attention],
        }


class MigrationEngine:
    """The Python API of SPEC §7.

    ``MigrationEngine(database_path="app.db")`` uses SQLite; ``database=`` takes any URL a
    dialect plugin handles; :meth:`from_config` reads ``mig.toml``.
    """

    def __init__(
        self,
        database_path: str | os.PathLike[str] | None = None,
        migrations_dir: str | os.PathLike[str] = "migrations",
        backups_dir: str | os.PathLike[str] = "backups",
        *,
        database: str | None = None,
        config: Config | None = None,
        plugins: Plugins | None = None,
        **settings: Any,
    ) -> None:
        if config is None:
            table: dict[str, Any] = {
                "migrations_dir": str(migrations_dir),
                "backups_dir": str(backups_dir),
                **settings,
            }
            if database is None and database_path is not None:
                database = "sqlite:///" + str(Path(database_path).resolve())
            if database is not None:
                table["database"] = database
            config = from_table(table, base_dir=Path.cwd(), source="MigrationEngine()")
        self.config = config
        self.plugins = plugins or Plugins(disable=config.disable)
        self._dialect: Dialect | None = None
        self._mode: str | None = None  # "ro" or "rw" once connected
        self._history: History | None = None
        self._migrations: list[Migration] | None = None
        self._executor: Executor | None = None
        self._backups: Backups | None = None
        self._by_id: dict[str, Migration] | None = None

    @classmethod
    def from_config(
        cls, path: str | os.PathLike[str] | None = None, *, database: str | None = None
    ) -> MigrationEngine:
        return cls(config=load_config(path, database=database))

    # -- plumbing -----------------------------------------------------------------------------

    def close(self) -> None:
        if self._dialect is not None and self._mode is not None:
            self._dialect.close()
        self._mode = None
        self._history = None

    def __enter__(self) -> MigrationEngine:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @property
    def dialect(self) -> Dialect:
        if self._dialect is None:
            if not self.config.database:
                raise ConfigError(
                    "no database configured: set `database` in mig.toml, MIG_DATABASE or --database"
                )
            self.plugins.load()
            cls = self.plugins.dialect_for(self.config.database)
            options = self.config.options.get(cls.name, {})
            self._dialect = cls(
                self.config.database, base_dir=self.config.database_base_dir, options=options
            )
            self.check_names(self.config.backup, self.config.rollback, source="config")
            self.plugins.config_loaded(self.config)
        return self._dialect

    def _open(self, write: bool) -> History | None:
        """Connect (read-only unless ``write``); None when there is nothing to read yet."""
        dialect = self.dialect
        if self._mode == "rw" or (self._mode == "ro" and not write):
            return self._history
        if self._mode == "ro":
            dialect.close()
            self._mode = None
        if not write and not dialect.exists():
            return None
        dialect.connect(readonly=not write)
        self._mode = "rw" if write else "ro"
        self._history = History(dialect, self.config.table_prefix)
        if write:
            self._history.ensure()
        return self._history

    def check_names(
        self, backup: str | None = None, rollback: str | None = None, source: str = "option"
    ) -> None:
        """Refuse a backup type or rollback method that no installed plugin provides (exit 2,
        naming the allowed values)."""
        where = f"{self.config.path or 'config'}: " if source == "config" else ""
        config = source == "config"
        checks = [
            ("backup" if config else "--backup", backup,
             lambda: [*sorted(self.plugins.load().backup_types()), NO_BACKUP]),
            ("rollback" if config else "--method", rollback,
             lambda: [*sorted(self.plugins.load().rollback_methods()), AUTO_ROLLBACK]),
        ]
        for key, value, allowed in checks:
            if value is not None and value not in BUILTIN_NAMES and value not in allowed():
                raise ConfigError(
                    f"{where}{key} = {value!r} is not one of {', '.join(allowed())}"
                    + self.plugins.problems_note()
                )

    def _reconnect(self) -> None:
        """Reopen the connection read-write (a restore may have replaced the database); the
        History object stays the same so callers holding it keep working."""
        dialect = self.dialect
        if self._mode is not None:
            dialect.close()
        dialect.connect()
        self._mode = "rw"
        if self._history is None:
            self._history = History(dialect, self.config.table_prefix)
        self._history.forget()

    def _reader(self) -> History | None:
        history = self._open(write=False)
        if history is not None and self._mode == "ro" and not history.exists():
            return None
        return history

    @property
    def executor(self) -> Executor:
        if self._executor is None:
            executor = self.dialect.executor()
            if self.config.executor:
                factory = self.plugins.pick(
                    self.plugins.executors(), self.config.executor, "executor", "executor"
                )
                executor = factory(
                    executor,
                    options=self.config.options.get(self.config.executor, {}),
                    config=self.config,
                )
            self._executor = executor
        return self._executor

    def context(self) -> Context:
        history = self._history
        assert history is not None
        return Context(
            dialect=self.dialect,
            history=history,
            plugins=self.plugins,
            config=self.config,
            split=self.split,
            executor=self.executor,
            backups=self.backups(),
        )

    @contextmanager
    def _lock(self) -> Iterator[None]:
        with self.dialect.lock(self.config.lock_timeout):
            # Another process may have written while this engine waited or sat idle: nothing
            # cached about the tables' contents (the next execution seq) may be reused.
            if self._history is not None:
                self._history.forget()
            yield

    # -- reading ------------------------------------------------------------------------------

    def migrations(self) -> list[Migration]:
        """Every migration file, parsed and in dependency order (cached per engine)."""
        if self._migrations is None:
            from .loader import load_migrations

            self._migrations = load_migrations(self.config.migrations_dir, self.plugins.load())
        return self._migrations

    def reload(self) -> None:
        self._migrations = self._by_id = None

    def split(self, migration: Migration, direction: str = "up") -> list[Statement]:
        """The statements of one section of ``migration`` for this database's dialect."""
        sql, line = (
            (migration.up_sql, migration.up_line)
            if direction == "up"
            else (migration.down_sql, migration.down_line)
        )
        name = self.dialect.name if self.config.database else "generic"
        return self.plugins.split(sql, name, line, migration.path)

    def validate(self) -> list[Migration]:
        """Parse, order and split every migration; raise on the first bad file."""
        migrations = self.migrations()
        for m in migrations:
            self.split(m, "up")
            self.split(m, "down")
        return migrations

    def applied_executions(self) -> list[MigrationExecution]:
        history = self._reader()
        return history.applied() if history else []

    def status(self) -> Status:
        migrations = self.migrations()
        history = self._reader()
        applied = history.applied() if history else []
        failed_raw = history.failed_attention() if history else []
        by_id = {m.id: m for m in migrations}
        applied_ids = {e.migration_id for e in applied}
        drift = [
            by_id[e.migration_id]
            for e in applied
            if e.migration_id in by_id and _drifted(by_id[e.migration_id], e)
        ]
        missing = [e for e in applied if e.migration_id not in by_id]
        pending = [m for m in migrations if m.id not in applied_ids]
        top = max((int(e.version) for e in applied), default=None)
        out_of_order = [m for m in pending if top is not None and m.number < top]
        failed = [e for e in failed_raw if e.migration_id not in applied_ids]
        attention = [
            e for e in failed
            if e.status is MigrationStatus.RUNNING or (e.statements_committed or 0) > 0
        ]
        return Status(
            current_version=_current_version(applied),
            applied=applied,
            pending=pending,
            failed=failed,
            drift=drift,
            missing=missing,
            out_of_order=out_of_order,
            attention=attention,
        )

    def get_current_version(self) -> str | None:
        history = self._reader()
        return history.current_version() if history else None

    def get_pending_migrations(self) -> list[Migration]:
        return self.status().pending

    def history(self, limit: int | None = None) -> list[MigrationExecution]:
        history = self._reader()
        return history.executions(limit) if history else []

    def resolve_target(self, target: str) -> Migration:
        """A migration by id or version (``003`` and ``3`` both name version 3)."""
        migrations = self.migrations()
        for m in migrations:
            if m.id == target:
                return m
        if target.isdigit():
            for m in migrations:
                if m.number == int(target):
                    return m
        raise UnknownTargetError(f"no migration {target!r} in {self.config.migrations_dir}")

    def plan(
        self, target: str | None = None, *, checked: bool = False, allow_drift: bool = False
    ) -> list[Migration]:
        """The migrations ``up`` would apply, in order. ``checked`` also raises what ``up``
        would refuse with (drift, out-of-order), for ``up --dry-run``."""
        migrations = self.migrations()
        executions = self.applied_executions()
        applied = {e.migration_id for e in executions}
        todo = _plan(migrations, applied, self.resolve_target(target) if target else None)
        if checked:
            self._check_drift(executions, allow_drift)
            self._check_order(todo, executions)
        return todo

    # -- applying -----------------------------------------------------------------------------

    def migrate_latest(self, **options: Any) -> list[MigrationExecution]:
        return self.up(**options)

    def execute_migration(self, migration_id: str, **options: Any) -> MigrationExecution:
        """Apply one migration (and the dependencies it still needs)."""
        executions = self.up(target=migration_id, **options)
        target = self.resolve_target(migration_id)
        for ex in executions:
            if ex.migration_id == target.id:
                return ex
        if executions and executions[-1].status is MigrationStatus.FAILED:
            return executions[-1]
        applied = [e for e in self.applied_executions() if e.migration_id == target.id]
        if applied:
            return applied[-1]
        raise UnknownTargetError(f"{migration_id} was not applied")

    def up(
        self,
        target: str | None = None,
        *,
        atomic: bool = False,
        backup: str | None = None,
        allow_drift: bool = False,
        progress: Progress | None = None,
    ) -> list[MigrationExecution]:
        """Apply pending migrations (all, or up to ``target``). Returns the executions recorded;
        a failed one is last and its status says FAILED."""
        migrations = self.migrations()
        chosen = self.resolve_target(target) if target else None
        self.check_names(backup=backup)
        backup_type = backup or self.config.backup
        with self._lock():
            history = self._open(write=True)
            assert history is not None
            applied = history.applied()
            self._check_drift(applied, allow_drift)
            todo = _plan(migrations, {e.migration_id for e in applied}, chosen)
            self._check_order(todo, applied)
            statements = {m.id: self.split(m, "up") for m in todo}
            if atomic:
                blocking = [m.id for m in todo if not self._transactional(m)]
                if blocking and not self.dialect.transactional_ddl:
                    raise ConfigError(
                        f"--atomic needs transactional DDL, which {self.dialect.name} does not"
                        " have (each DDL statement commits); run without --atomic"
                    )
                if blocking:
                    raise ConfigError(
                        f"--atomic cannot include {blocking[0]}: it runs outside a transaction"
                    )
            ctx = self.context()
            current = _current_version(applied)
            runner = self._apply_atomic if atomic else self._apply_each
            executions = runner(todo, statements, ctx, current, backup_type, progress)
        self.plugins.run_finished(ctx, executions)
        return executions

    def _transactional(self, m: Migration) -> bool:
        return m.transactional and self.dialect.transactional_ddl

    def _check_drift(self, applied: list[MigrationExecution], allow: bool) -> None:
        if allow:
            return
        by_id = {m.id: m for m in self.migrations()}
        drifted = [e.migration_id for e in applied
                   if e.migration_id in by_id and _drifted(by_id[e.migration_id], e)]
        if drifted:
            raise DriftError(
                f"applied migration {drifted[0]} was edited since it was applied"
                f"{f' (and {len(drifted) - 1} more)' if len(drifted) > 1 else ''};"
                " restore the file or run with --allow-drift"
            )

    def _check_order(self, todo: list[Migration], applied: list[MigrationExecution]) -> None:
        if self.config.out_of_order != "error" or not applied:
            return
        top = max(applied, key=lambda e: int(e.version))
        for m in todo:
            if m.number < int(top.version):
                raise DependencyError(
                    f"{m.id} is older than the applied {top.migration_id} and"
                    " out_of_order = \"error\"", m.path
                )

    def _execution(self, m: Migration, run_id: str, **kw: Any) -> MigrationExecution:
        return MigrationExecution(
            execution_id=new_id(),
            migration_id=m.id,
            version=m.version,
            status=MigrationStatus.RUNNING,
            started_at=now(),
            checksum=m.checksum,
            checksum_version=m.checksum_version,
            rollback_available=m.reversible,
            run_id=run_id,
            **kw,
        )

    def _apply_each(
        self,
        todo: list[Migration],
        statements: dict[str, list[Statement]],
        ctx: Context,
        current: str | None,
        backup_type: str,
        progress: Progress | None,
    ) -> list[MigrationExecution]:
        dialect, history, run_id = ctx.dialect, ctx.history, new_id()
        done: list[MigrationExecution] = []
        for index, m in enumerate(todo):
            if progress:
                progress(index, len(todo), m, None)
            backup = self._backup_before(m, backup_type)
            ex = self._execution(m, run_id)
            if backup is not None:
                ex.backup_id, ex.backup_path = backup.backup_id, backup.backup_path
            started = time.perf_counter()
            version = _max_version(current, m.version)
            if self._transactional(m):
                try:
                    dialect.begin()
                    self.plugins.migration_before(ctx, m, "up")
                    self.executor.execute(dialect, statements[m.id], m, "up")
                    _complete(ex, started)
                    history.record(ex)
                    history.save_metadata(m)
                    history.set_version(version, m.id)
                    dialect.commit()
                except Exception as exc:
                    dialect.rollback()
                    self._record_failure(ex, started, exc)
            else:
                self._apply_outside_transaction(m, ex, statements[m.id], ctx, version, started)
            done.append(ex)
            self.plugins.migration_after(ctx, m, ex, "up")
            if progress:
                progress(index + 1, len(todo), m, ex)
            if ex.status is not MigrationStatus.COMPLETED:
                break
            current = version
        return done

    def _apply_outside_transaction(
        self,
        m: Migration,
        ex: MigrationExecution,
        statements: list[Statement],
        ctx: Context,
        version: str,
        started: float,
    ) -> None:
        """A ``transactional: false`` migration: its RUNNING row is committed first so that a
        crash leaves evidence; a failure is undone from the pre-migration backup."""
        dialect, history = ctx.dialect, ctx.history
        self._in_transaction(lambda: history.record(ex))
        try:
            self.plugins.migration_before(ctx, m, "up")
            self.executor.execute(dialect, statements, m, "up")
        except Exception as exc:
            ex.statements_committed = getattr(exc, "executed", 0)
            ex.status = MigrationStatus.FAILED
            ex.error_message = _message(exc)
            ex.completed_at = now()
            ex.execution_time = time.perf_counter() - started
            self._restore_after_failure(ctx, m, ex)
            self._in_transaction(lambda: history.update_execution(ex))
            return
        _complete(ex, started)
        ex.statements_committed = len(statements)

        def finish() -> None:
            history.update_execution(ex)
            history.save_metadata(m)
            history.set_version(version, m.id)

        self._in_transaction(finish)

    def _restore_after_failure(self, ctx: Context, m: Migration, ex: MigrationExecution) -> None:
        """Undo a failed non-transactional migration from its pre-migration backup."""
        if ex.backup_id is None or not ex.statements_committed:
            return
        try:
            record = self.backups().restore(ex.backup_id, reason=f"failed {m.id}")
        except MigError as exc:
            ex.error_message = f"{ex.error_message}; restoring backup {ex.backup_id} failed: {exc}"
            return
        if getattr(self.backups().strategy(record.method or ""), "keeps_schema", False):
            # A data-only backup put the rows back; what the statements did to the schema stays.
            ex.error_message = (f"{ex.error_message} (rows restored from backup {ex.backup_id};"
                                " schema changes were not undone)")
            return
        ex.error_message = f"{ex.error_message} (restored from backup {ex.backup_id})"
        ex.statements_committed = 0

    def _in_transaction(self, work: Callable[[], None]) -> None:
        dialect = self.dialect
        dialect.begin()
        try:
            work()
            dialect.commit()
        except BaseException:
            dialect.rollback()
            raise

    def _record_failure(self, ex: MigrationExecution, started: float, exc: Exception) -> None:
        ex.status = MigrationStatus.FAILED
        ex.error_message = _message(exc)
        ex.completed_at = now()
        ex.execution_time = time.perf_counter() - started
        ex.statements_committed = 0
        assert self._history is not None
        history = self._history
        self._in_transaction(lambda: history.record(ex))

    def _apply_atomic(
        self,
        todo: list[Migration],
        statements: dict[str, list[Statement]],
        ctx: Context,
        current: str | None,
        backup_type: str,
        progress: Progress | None,
    ) -> list[MigrationExecution]:
        """One transaction for the whole run: all applied, or none."""
        dialect, history, run_id = ctx.dialect, ctx.history, new_id()
        if todo:
            self._backup_before(todo[0], backup_type, force=any(m.backup_required for m in todo))
        done: list[MigrationExecution] = []
        dialect.begin()
        started = time.perf_counter()
        try:
            for index, m in enumerate(todo):
                if progress:
                    progress(index, len(todo), m, None)
                ex = self._execution(m, run_id)
                done.append(ex)
                started = time.perf_counter()
                self.plugins.migration_before(ctx, m, "up")
                self.executor.execute(dialect, statements[m.id], m, "up")
                _complete(ex, started)
                history.record(ex)
                history.save_metadata(m)
                current = _max_version(current, m.version)
                history.set_version(current, m.id)
                if progress:
                    progress(index + 1, len(todo), m, ex)
            dialect.commit()
        except Exception as exc:
            dialect.rollback()
            failed = done[-1]
            failed.status = MigrationStatus.FAILED
            failed.error_message = _message(exc) + " (the --atomic run was rolled back)"
            failed.completed_at = now()
            failed.execution_time = time.perf_counter() - started
            for ex in done[:-1]:
                ex.status = MigrationStatus.ROLLED_BACK
                ex.error_message = f"undone: the --atomic run failed at {failed.migration_id}"

            def record_all() -> None:
                for ex in done:
                    history.record(ex)

            self._in_transaction(record_all)
        by_id = {m.id: m for m in todo}
        for ex in done:
            self.plugins.migration_after(ctx, by_id[ex.migration_id], ex, "up")
        return done

    # -- backups (the strategies and storage come from plugins) -------------------------------

    def backups(self) -> Backups:
        """The backup service (strategies and storage targets come from plugins)."""
        if self._backups is None:
            from .backups import Backups

            self._backups = Backups(self)
        return self._backups

    def _backup_before(
        self, m: Migration, backup_type: str, force: bool | None = None
    ) -> BackupInfo | None:
        needed = m.backup_required if force is None else force
        if backup_type == "none" or not needed:
            return None
        return self.backups().create(backup_type, migration_id=m.id)

    def create_backup(self, backup_type: BackupType | str = BackupType.FULL_DATABASE) -> BackupInfo:
        """Take a backup of the given type now."""
        with self._lock():
            return self.backups().create(str(backup_type))

    def restore_backup(self, backup_id: str) -> MigrationExecution:
        """Verify and restore a backup; the audit trail stays whole and records the restore."""
        with self._lock():
            return self.backups().restore(backup_id)

    def verify_backup(self, backup_id: str) -> list[BackupInfo]:
        """Verify a backup and its chain; returns the chain, base first."""
        return [m.info for m in self.backups().verify(backup_id)]

    def get_backup_history(self) -> list[dict[str, Any]]:
        """Every backup, oldest first, from the manifests (works without the database)."""
        return [m.info.to_dict() for m in self.backups().manifests()]

    def cleanup_old_backups(
        self, keep_days: int | None = None, keep_count: int | None = None
    ) -> int:
        """Apply the retention rules; returns how many backups were removed."""
        with self._lock():
            removed = self.backups().prune(
                self.config.keep_days if keep_days is None else keep_days,
                self.config.keep_count if keep_count is None else keep_count,
            )
        return len(removed)

    # -- rolling back -------------------------------------------------------------------------

    def rollback_plan(
        self,
        *,
        target: str | None = None,
        steps: int | None = None,
        everything: bool = False,
        execution_id: str | None = None,
        method: str | None = None,
        cascade: bool = False,
    ) -> list[RollbackStep]:
        """The steps a rollback would take, newest first. Raises :class:`RollbackRefused` when
        the request cannot be honoured; nothing is changed then."""
        history = self._reader()
        applied = history.applied() if history else []
        if execution_id is not None:
            if history is None:
                raise UnknownTargetError(f"no execution has the id {execution_id!r}")
            execution = history.get_execution(execution_id)
            if execution.operation is not Operation.APPLY:
                raise UnknownTargetError(
                    f"execution {execution.execution_id} is a {execution.operation.value};"
                    " only applied migrations can be rolled back"
                )
            if execution.status is not MigrationStatus.COMPLETED:
                return []  # failed or already rolled back: nothing is left to undo
            selected = [execution]
        elif everything:
            selected = list(applied)
        elif target is not None:
            keep = self.resolve_target(target)
            if keep.id not in {e.migration_id for e in applied}:
                raise RollbackRefused(
                    f"{keep.id} is not applied, so there is nothing to go down to"
                )
            position = {m.id: i for i, m in enumerate(self.migrations())}
            selected = [
                e for e in applied
                if position.get(e.migration_id, len(position)) > position[keep.id]
            ]
        else:
            n = 1 if steps is None else steps
            if n < 0:
                raise ConfigError("--steps must not be negative")
            selected = applied[len(applied) - n:] if n else []
        if not selected:
            return []
        self.check_names(rollback=method)
        return self._steps(selected, applied, method or self.config.rollback, cascade)

    def _steps(
        self,
        selected: list[MigrationExecution],
        applied: list[MigrationExecution],
        wanted: str,
        cascade: bool,
    ) -> list[RollbackStep]:
        """Group the selection into steps: each undoes one root execution and whatever its
        method undoes with it (a restore undoes every later migration too)."""
        methods = self.plugins.load().rollback_methods()
        ctx = self._read_context()
        order = {e.execution_id: i for i, e in enumerate(applied)}
        dependents = graph.Dependents(list(self._known_migrations().values()))
        applied_by_id: dict[str, list[MigrationExecution]] = {}
        for e in applied:
            applied_by_id.setdefault(e.migration_id, []).append(e)
        chosen = {e.execution_id: e for e in selected}
        while True:
            steps: list[RollbackStep] = []
            covered: set[str] = set()
            for ex in sorted(chosen.values(), key=lambda e: order[e.execution_id]):
                if ex.execution_id in covered:
                    continue
                m = self.migration_for(ex)
                name = ("down" if m.reversible else "restore") if wanted == "auto" else wanted
                if name not in methods:
                    installed = ", ".join(sorted(methods)) or "none installed"
                    raise RollbackRefused(
                        f"rollback method {name!r} is not installed (installed: {installed})"
                        + self.plugins.problems_note()
                    )
                impl = methods[name]()
                reason = impl.refuse_reason(ctx, m, ex)
                if reason:
                    raise RollbackRefused(f"cannot roll back {ex.migration_id} by {name}: {reason}")
                undoes = impl.affected(ctx, ex, applied)
                covered.update(e.execution_id for e in undoes)
                steps.append(RollbackStep(ex, m, name, undoes))
            missing = {}
            for step in steps:
                for dep in dependents(step.root.migration_id):
                    for e in applied_by_id.get(dep, ()):
                        if e.execution_id not in covered:
                            missing[e.execution_id] = e
            if not missing:
                break
            if not cascade:
                names = ", ".join(sorted(e.migration_id for e in missing.values()))
                raise RollbackRefused(
                    f"{names} depend{'s' if len(missing) == 1 else ''} on what you roll back;"
                    " use --cascade to roll back dependents first"
                )
            chosen.update(missing)
        return sorted(steps, key=lambda s: -order[s.root.execution_id])

    def _read_context(self) -> Context:
        """A context for planning: connected read-only unless already connected."""
        self._reader()
        return self.context()

    def _known_migrations(self) -> dict[str, Migration]:
        known = {m.id: m for m in self.migrations()}
        for ex in self.applied_executions():
            if ex.migration_id not in known:
                known[ex.migration_id] = self.migration_for(ex)
        return known

    def migration_for(self, ex: MigrationExecution) -> Migration:
        """The migration an execution applied: its file while unchanged, else what the
        bookkeeping tables stored when it was applied."""
        if self._by_id is None:
            self._by_id = {m.id: m for m in self.migrations()}
        m = self._by_id.get(ex.migration_id)
        if m is not None and not _drifted(m, ex):
            return m
        history = self._history or self._open(write=False)
        stored = history.stored_migration(ex.migration_id, self.config.migrations_dir) if (
            history
        ) else None
        if stored is None:
            raise UnknownTargetError(f"{ex.migration_id} is neither in the folder nor recorded")
        return stored

    def down(
        self,
        target: str | None = None,
        *,
        steps: int | None = None,
        everything: bool = False,
        method: str | None = None,
        cascade: bool = False,
        confirm: Callable[[list[RollbackStep]], bool] | None = None,
        progress: Progress | None = None,
    ) -> list[MigrationExecution]:
        """Roll back the newest migration, ``steps`` of them, all, or down to ``target``."""
        with self._lock():
            plan = self.rollback_plan(
                target=target, steps=steps, everything=everything, method=method, cascade=cascade
            )
            done = self._roll_back(plan, confirm, progress)
        return self._run_finished(plan, done)

    def rollback(
        self,
        execution_id: str,
        *,
        method: str | None = None,
        cascade: bool = False,
        confirm: Callable[[list[RollbackStep]], bool] | None = None,
    ) -> list[MigrationExecution]:
        """Roll back one execution (and, with ``cascade``, its applied dependents first)."""
        with self._lock():
            plan = self.rollback_plan(execution_id=execution_id, method=method, cascade=cascade)
            done = self._roll_back(plan, confirm, None)
        return self._run_finished(plan, done)

    def _run_finished(
        self, plan: list[RollbackStep], done: list[MigrationExecution]
    ) -> list[MigrationExecution]:
        # The hook's contract: called after the lock is released.
        if plan:
            self.plugins.run_finished(self.context(), done)
        return done

    def rollback_migration(self, execution_id: str, method: str | None = None) -> bool:
        """Undo one execution; True when the database is as before it afterwards."""
        executions = self.rollback(execution_id, method=method)
        return all(e.status is MigrationStatus.COMPLETED for e in executions)

    def _roll_back(
        self,
        plan: list[RollbackStep],
        confirm: Callable[[list[RollbackStep]], bool] | None,
        progress: Progress | None,
    ) -> list[MigrationExecution]:
        if not plan:
            return []
        if confirm is not None and not confirm(plan):
            raise RollbackRefused("rollback cancelled; nothing was changed")
        history = self._open(write=True)
        assert history is not None
        ctx = self.context()
        methods = self.plugins.rollback_methods()
        run_id = new_id()
        done: list[MigrationExecution] = []
        # What stays applied, kept up to date in memory: re-reading it for every step made
        # `down --all` quadratic in the length of the history.
        remaining = _Applied(history.applied())
        for index, step in enumerate(plan):
            if progress:
                progress(index, len(plan), step.migration, None)
            impl = methods[step.method]()
            records = self._undo(ctx, impl, step, run_id, remaining)
            if not impl.transactional:  # a restore rewrote the bookkeeping: read it again
                remaining = _Applied(history.applied())
            elif all(r.status is MigrationStatus.COMPLETED for r in records):
                remaining.remove({e.execution_id for e in step.undoes})
            done.extend(records)
            for record in records:
                self.plugins.migration_after(ctx, step.migration, record, "down")
            if progress:
                progress(index + 1, len(plan), step.migration, records[-1])
            if any(r.status is not MigrationStatus.COMPLETED for r in records):
                break
        return done

    def _undo(
        self,
        ctx: Context,
        impl: Any,
        step: RollbackStep,
        run_id: str,
        applied: _Applied,
    ) -> list[MigrationExecution]:
        """Run one step and record a rollback row for every execution it undid, in the same
        transaction as the undo itself when the method is transactional."""
        history, dialect, m = ctx.history, ctx.dialect, step.migration
        started = time.perf_counter()
        records = [
            MigrationExecution(
                execution_id=new_id(),
                migration_id=e.migration_id,
                version=e.version,
                status=MigrationStatus.RUNNING,
                started_at=now(),
                operation=Operation.ROLLBACK,
                method=step.method,
                checksum=e.checksum,
                checksum_version=e.checksum_version,
                rollback_available=False,
                run_id=run_id,
            )
            for e in step.undoes
        ]
        transactional = impl.transactional and self._transactional(m)
        try:
            if transactional:
                dialect.begin()
            self.plugins.migration_before(ctx, m, "down")
            impl.undo(ctx, m, step.root)
            if not transactional:
                dialect.begin()
            undone = {e.execution_id for e in step.undoes}
            for e, record in zip(step.undoes, records, strict=True):
                _complete(record, started)
                history.update_status(e.execution_id, MigrationStatus.ROLLED_BACK,
                                      by=record.execution_id)
                history.record(record)
            history.set_version(*applied.top(excluding=undone))
            dialect.commit()
        except Exception as exc:
            dialect.rollback()
            failed = records[[e.execution_id for e in step.undoes].index(step.root.execution_id)]
            failed.status = MigrationStatus.FAILED
            failed.error_message = _message(exc)
            failed.completed_at = now()
            failed.execution_time = time.perf_counter() - started
            self._in_transaction(lambda: history.record(failed))
            return [failed]
        return records

    # -- integrity ----------------------------------------------------------------------------

    def validate_database_integrity(self) -> IntegrityResult:
        """Database checks from plugins, drift, and (with a backup plugin) backup checksums."""
        problems: list[Problem] = []
        history = self._reader()
        if history is not None:
            problems += self.plugins.integrity_check(self.context())
        status = self.status()
        problems += [
            Problem("drift", f"{m.id} was edited after it was applied", m.id) for m in status.drift
        ]
        problems += [
            Problem("missing", f"applied migration {e.migration_id} has no file", e.migration_id)
            for e in status.missing
        ]
        problems += [
            Problem("attention", f"{e.migration_id} failed outside a transaction after "
                    f"{e.statements_committed or 0} statement(s): {e.error_message}",
                    e.migration_id)
            for e in status.attention
        ]
        if self.config.storage in self.plugins.storage_targets():
            problems += self.backups().problems()
        return IntegrityResult(tuple(problems))


def _plan(migrations: Sequence[Migration], applied: set[str], target: Migration | None) -> list[
    Migration
]:
    pending = [m for m in migrations if m.id not in applied]
    if target is None:
        return pending
    wanted = graph.closure({m.id: m for m in migrations}, target.id)
    return [m for m in pending if m.id in wanted]


def _drifted(m: Migration, ex: MigrationExecution) -> bool:
    if ex.checksum is None:
        return False
    if ex.checksum_version in (None, m.checksum_version):
        return m.checksum != ex.checksum
    return checksum(m.up_sql, m.down_sql, ex.checksum_version) != ex.checksum


class _Applied:
    """The executions still applied during a rollback run, highest version at hand."""

    def __init__(self, executions: Iterable[MigrationExecution]) -> None:
        self._by_version = sorted(executions, key=lambda e: int(e.version))
        self._gone: set[str] = set()

    def remove(self, execution_ids: set[str]) -> None:
        self._gone |= execution_ids

    def top(self, excluding: set[str]) -> tuple[str | None, str | None]:
        """The highest version applied (and its migration) once ``excluding`` is undone too."""
        while self._by_version and self._by_version[-1].execution_id in self._gone:
            self._by_version.pop()
        for ex in reversed(self._by_version):
            if ex.execution_id not in excluding and ex.execution_id not in self._gone:
                return ex.version, ex.migration_id
        return None, None


def _current_version(applied: Sequence[MigrationExecution]) -> str | None:
    if not applied:
        return None
    return max(applied, key=lambda e: int(e.version)).version


def _max_version(current: str | None, version: str) -> str:
    if current is None or int(version) > int(current):
        return version
    return current


def _complete(ex: MigrationExecution, started: float) -> None:
    ex.status = MigrationStatus.COMPLETED
    ex.completed_at = now()
    ex.execution_time = time.perf_counter() - started


def _message(exc: BaseException) -> str:
    text = str(exc).strip() or type(exc).__name__
    return text.splitlines()[0] if isinstance(exc, MigError) else text

