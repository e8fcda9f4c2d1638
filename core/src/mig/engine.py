"""The Python API of SPEC §7: a thin facade over the planner, the run loop, the ledger and
the backup service. Nothing here knows a dialect, a file format, a backup type or a rollback
method by name: those come from plugins through :class:`mig.plugins.Plugins`."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

from . import repair as _repair
from . import status as _status
from .config import NO_BACKUP, Config, from_table, load_config
from .database import Database
from .errors import (
    ConfigError,
    MigError,
    MigrationFileError,
    RollbackRefused,
    UnknownTargetError,
)
from .ledger import Ledger, new_id
from .loader import MIG_FORMAT, Catalog
from .models import (
    BackupInfo,
    BackupType,
    IntegrityResult,
    Migration,
    MigrationExecution,
    MigrationStatus,
    Statement,
)
from .planner import (
    AUTO,
    PlanOrder,
    RollbackPlanner,
    RollbackStep,
    plan_up,
    select_execution,
    select_newest,
)
from .plugins import Plugins
from .protocols import Context, Dialect, Executor
from .repair import RepairPlan
from .runner import Apply, Progress, Runner, Undo, apply_steps, record_schema, undo_steps
from .status import Status

if TYPE_CHECKING:
    from .backups import Backups, RestoreNotice

__all__ = ["MigrationEngine", "Progress", "RepairPlan", "RollbackStep", "Status"]

#: ``confirm`` of a rollback: True, or a function that sees the plan and says yes or no.
Confirm = bool | Callable[[list[RollbackStep]], bool]


def _refusal(notices: list[RestoreNotice]) -> str:
    first = notices[0]
    more = f" (and {len(notices) - 1} more restore(s))" if len(notices) > 1 else ""
    changed = "" if not first.changed else f"; tables written since: {', '.join(first.changed)}"
    return (f"this would restore backup {first.backup_id}, taken {first.age()} ago{more}, and"
            f" lose everything written after it{changed}; confirm it (--yes, or confirm=True)")


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
        actor: str | None = None,
        **settings: Any,
    ) -> None:
        if config is None:
            table: dict[str, Any] = {
                "migrations_dir": str(migrations_dir), "backups_dir": str(backups_dir), **settings,
            }
            if database is None and database_path is not None:
                database = "sqlite:///" + str(Path(database_path).resolve())
            if database is not None:
                table["database"] = database
            config = from_table(table, base_dir=Path.cwd(), source="MigrationEngine()")
        self.config = config
        #: Who asks for this engine's commands, recorded on every execution row they write.
        self.actor = actor
        self.plugins = plugins or Plugins(disable=config.disable)
        self._db: Database | None = None
        self.catalog = Catalog(config.migrations_dir, self._loaded, config.migrations_format)
        self._executor: Executor | None = None
        self._backups: Backups | None = None
        self._configured = False

    @classmethod
    def from_config(
        cls, path: str | os.PathLike[str] | None = None, *, database: str | None = None,
        actor: str | None = None,
    ) -> MigrationEngine:
        return cls(config=load_config(path, database=database), actor=actor)

    def close(self) -> None:
        if self._db is not None:
            self._db.close()

    def __enter__(self) -> MigrationEngine:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- parts --------------------------------------------------------------------------------

    @property
    def db(self) -> Database:
        """The database: its connection, its ledger, transactions and the lock."""
        if self._db is None:
            if not self.config.database:
                raise ConfigError(
                    "no database configured: set `database` in mig.toml, MIG_DATABASE or --database"
                )
            self._db = Database(self._loaded().dialect(self.config), self.config.table_prefix)
        return self._db

    def checked_plugins(self) -> Plugins:
        """The plugins, loaded, once they have checked the configuration (names of the
        backup type and rollback method, each plugin's own options)."""
        return self._loaded()

    def _loaded(self) -> Plugins:
        """The plugins, loaded, once they have checked the configuration."""
        if not self._configured:
            self._configured = True
            self.plugins.load()
            self.check_names(self.config.backup, self.config.rollback, source="config")
            self.plugins.config_loaded(self.config)
        return self.plugins

    @property
    def dialect(self) -> Dialect:
        return self.db.dialect

    @property
    def executor(self) -> Executor:
        if self._executor is None:
            self._executor = self.plugins.executor(self.dialect.executor(), self.config)
        return self._executor

    def backups(self) -> Backups:
        """The backup service (strategies and storage targets come from plugins)."""
        if self._backups is None:
            from .backups import Backups

            self._backups = Backups(self.config, self.plugins, self.db, self.context)
        return self._backups

    def context(self) -> Context:
        ledger = self.db.reader() or Ledger(self.dialect, self.config.table_prefix)
        return Context(dialect=self.dialect, ledger=ledger, plugins=self.plugins,
                       config=self.config, split=self.split, executor=self.executor,
                       backups=self.backups())

    def check_names(
        self, backup: str | None = None, rollback: str | None = None, source: str = "option"
    ) -> None:
        """Refuse a backup type or rollback method that no installed plugin provides (exit 2,
        naming the allowed values)."""
        where = f"{self.config.path or 'config'}: " if source == "config" else None
        self.plugins.load().check_names(backup, rollback, where)

    @contextmanager
    def _locked(self) -> Iterator[Ledger]:
        with self.db.lock(self.config.lock_timeout), self.backups().held():
            ledger = self.db.writer()
            ledger.actor = self.actor
            yield ledger

    # -- reading ------------------------------------------------------------------------------

    def migrations(self) -> list[Migration]:
        """Every migration file, parsed and in dependency order (cached per engine)."""
        return self.catalog.all()

    def reload(self) -> None:
        self.catalog = Catalog(
            self.config.migrations_dir, self._loaded, self.config.migrations_format
        )

    def split(self, migration: Migration, direction: str = "up",
              dialect: str | None = None) -> list[Statement]:
        """The statements of one section of ``migration`` for this database's dialect, or for
        the dialect named ``dialect`` (``mig lint --dialect``).

        When its parser split the section already (goose's rules), each of those pieces is
        split again: a ``StatementBegin`` block may hold several statements, which goose
        sends in one call, and SQLite's and MySQL's drivers run one statement per call."""
        ready = migration.up_statements if direction == "up" else migration.down_statements
        if ready is not None:
            try:
                return [s for piece in ready
                        for s in self._split(piece.sql, piece.line, migration, dialect)]
            except MigrationFileError as exc:  # a piece its format's rules cut short, say
                hint = migration.metadata.get("split_hint")
                if not hint:
                    raise
                raise MigrationFileError(f"{exc.reason} ({hint})", exc.path, exc.line) from None
        sql, line = ((migration.up_sql, migration.up_line) if direction == "up"
                     else (migration.down_sql, migration.down_line))
        return list(self._split(sql, line, migration, dialect))

    def _split(self, sql: str, line: int, migration: Migration,
               dialect: str | None) -> tuple[Statement, ...]:
        name = dialect or (self.dialect.name if self.config.database else "generic")
        key = (sql, name, line, migration.path)
        done = self.catalog.splits.get(key)
        if done is None:
            done = self.catalog.splits[key] = tuple(
                self.plugins.split(sql, name, line, migration.path))
        return done

    def validate(self) -> list[Migration]:
        """Parse, order and split every migration; raise on the first bad file."""
        for m in self.migrations():
            self.split(m, "up")
            self.split(m, "down")
        return self.migrations()

    def applied_executions(self) -> list[MigrationExecution]:
        ledger = self.db.reader()
        return ledger.in_effect() if ledger else []

    def status(self) -> Status:
        return _status.compute(self.migrations(), self.db.reader(), self.config.table_prefix)

    def get_current_version(self) -> str | None:
        ledger = self.db.reader()
        return ledger.current_version() if ledger else None

    def shown_version(self) -> str | None:
        """The database's version as its migration files name it, for people: the ledger's
        (:meth:`get_current_version`), except for a folder read in another tool's format
        whose migrations carry a ``version_label`` (Flyway's ``1.1``, which orders as a big
        number; empty for a repeatable, which has no version): then the label of the newest
        applied migration that has one."""
        version = self.get_current_version()
        if version is None or self.config.migrations_format == MIG_FORMAT:
            return version
        try:
            labels = {m.id: m.metadata.get("version_label") for m in self.migrations()}
        except MigError:  # a bad file: the ledger's version still says where the database is
            return version
        if all(label is None for label in labels.values()):
            return version
        for ex in sorted(self.applied_executions(), key=lambda e: int(e.version), reverse=True):
            label = labels.get(ex.migration_id)
            if label is None:
                return ex.version
            if label:
                return label
        return None

    def get_pending_migrations(self) -> list[Migration]:
        return self.status().pending

    def history(self, limit: int | None = None) -> list[MigrationExecution]:
        ledger = self.db.reader()
        return ledger.executions(limit) if ledger else []

    def resolve_target(self, target: str) -> Migration:
        """A migration by id or version (``003`` and ``3`` both name version 3)."""
        return self.catalog.resolve(target)

    def plan(self, target: str | None = None, *, checked: bool = False,
             allow_drift: bool = False, only: bool = False) -> list[Migration]:
        """The migrations ``up`` would apply, in order. ``checked`` also raises what ``up``
        would refuse with (drift, out-of-order), for ``up --dry-run``."""
        applied = self.applied_executions()
        return self._plan(applied, target, only, checked and not allow_drift, checked)

    def _plan(self, applied: list[MigrationExecution], target: str | None, only: bool,
              drift: bool, order: bool) -> list[Migration]:
        if drift:
            _status.check_drift(self.migrations(), applied)
        chosen = self.resolve_target(target) if target else None
        todo = plan_up(self.migrations(), {e.migration_id for e in applied}, chosen, only)
        if order:
            _status.check_order(todo, applied, self.config.out_of_order)
        return todo

    # -- applying -----------------------------------------------------------------------------

    def migrate_latest(self, **options: Any) -> list[MigrationExecution]:
        return self.up(**options)

    def execute_migration(self, migration_id: str, **options: Any) -> MigrationExecution:
        """Apply one migration (and the dependencies it still needs)."""
        target = self.resolve_target(migration_id)
        executions = self.up(target=migration_id, only=True, **options)
        for ex in executions:
            if ex.migration_id == target.id or ex.status is MigrationStatus.FAILED:
                return ex
        applied = [e for e in self.applied_executions() if e.migration_id == target.id]
        if applied:
            return applied[-1]
        raise UnknownTargetError(f"{migration_id} was not applied")

    def up(self, target: str | None = None, *, atomic: bool = False, backup: str | None = None,
           allow_drift: bool = False, only: bool = False,
           progress: Progress | None = None) -> list[MigrationExecution]:
        """Apply pending migrations (all, or up to ``target``). Returns the executions recorded;
        a failed one is last and its status says FAILED."""
        self.check_names(backup=backup)
        backup_type = backup or self.config.backup
        with self._locked() as ledger:
            todo = self._plan(ledger.in_effect(), target, only, not allow_drift, True)
            steps = apply_steps(todo, self.split, self.dialect, backup_type, atomic)
            done = self._run(steps, atomic, progress)
            self._retain()
        self.plugins.run_finished(self.context(), done)
        return done

    def up_sql(self, target: str | None = None, *, allow_drift: bool = False,
               only: bool = False) -> str:
        """The script ``up`` would execute (``mig up --sql``), bookkeeping included, for
        the database's own client; nothing is written to the database and no backup taken.
        See docs/guide.md, "Offline scripts"."""
        from . import offline

        with offline.session(self) as run:
            todo = self._plan(run.ledger.in_effect(), target, only, not allow_drift, True)
            steps = apply_steps(todo, self.split, self.dialect, NO_BACKUP, False)
            return run.script("up", run.run(steps))

    def down_sql(self, target: str | None = None, *, steps: int | None = None,
                 everything: bool = False, method: str | None = None,
                 cascade: bool = False) -> str:
        """The script ``down`` would execute (``mig down --sql``), as :meth:`up_sql`. Only
        DOWN SQL can be scripted: a rollback that would restore a backup is refused
        (``ScriptRefused``, exit 2)."""
        from . import offline

        methods = self.plugins.load().rollback_methods()
        if method is not None and method in methods and not methods[method].scriptable:
            raise offline.ScriptRefused(
                f"a script cannot roll back by {method}: `mig down --sql` writes DOWN SQL only"
            )
        if (method or self.config.rollback) == AUTO:  # irreversible ones would be restored
            keep = self.resolve_target(target) if target is not None else None
            selected = select_newest(self.applied_executions(), PlanOrder(self.migrations()),
                                     keep, steps, everything)
            for ex in selected:
                if not self.migration_for(ex).reversible:
                    raise offline.ScriptRefused(
                        f"{ex.migration_id} is irreversible: rollback = auto would restore the"
                        " backup taken before it, which a script cannot do (`mig down --sql`"
                        " writes DOWN SQL only); run `mig down` instead")
        with offline.session(self) as run:
            plan = self.rollback_plan(target=target, steps=steps, everything=everything,
                                      method=method, cascade=cascade)
            for step in plan:
                if not methods[step.method].scriptable:
                    raise offline.ScriptRefused(
                        f"{step.root.migration_id} would be rolled back by {step.method}"
                        f" (restoring a backup), which a script cannot do: `mig down --sql`"
                        f" writes DOWN SQL only; run `mig down` instead"
                        + ("" if step.migration.reversible else
                           f" ({step.migration.id} is irreversible)"))
            undo = undo_steps(plan, methods, self.dialect)
            return run.script("down", run.run(undo))

    def _retain(self) -> None:
        """After a run that took backups, apply the retention rules (``[mig.retention]``), as
        ``mig backup prune`` does: disk use stays bounded without anyone typing it. A prune
        that fails leaves the run as it is; its error is in the tally for the summary."""
        backups = self.backups()
        if not backups.tally.count:
            return
        try:
            backups.prune(self.config.keep_days, self.config.keep_count)
            backups.tally.pruned = backups.last_prune
        except MigError as exc:
            backups.tally.prune_error = str(exc)

    def _run(self, steps: list[Apply] | list[Undo], atomic: bool,
             progress: Progress | None) -> list[MigrationExecution]:
        return Runner(self.context(), self.db, self.plugins, self.backups, progress).run(
            steps, atomic)

    # -- backups ------------------------------------------------------------------------------

    def create_backup(self, backup_type: BackupType | str = BackupType.FULL_DATABASE) -> BackupInfo:
        """Take a backup of the given type now."""
        with self._locked():
            return self.backups().create(str(backup_type))

    def restore_backup(self, backup_id: str, *, confirm: bool = False) -> MigrationExecution:
        """Verify and restore a backup; the audit trail stays whole and records the restore.
        Everything written since the backup is lost, so ``confirm=True`` is required."""
        with self._locked():
            if not confirm:
                raise RollbackRefused(_refusal([self.backups().notice(backup_id)]))
            record = self.backups().restore(backup_id).record
            record_schema(self.db, record)
        return record

    def verify_backup(self, backup_id: str) -> list[BackupInfo]:
        """Verify a backup and its chain; returns the chain, base first."""
        return [m.info for m in self.backups().verify(backup_id)]

    def get_backup_history(self) -> list[dict[str, Any]]:
        """Every backup, oldest first, from the manifests (works without the database)."""
        return [m.info.to_dict() for m in self.backups().manifests()]

    def cleanup_old_backups(self, keep_days: int | None = None,
                            keep_count: int | None = None) -> int:
        """Apply the retention rules; returns how many backups were removed."""
        with self._locked():
            return len(self.backups().prune(
                self.config.keep_days if keep_days is None else keep_days,
                self.config.keep_count if keep_count is None else keep_count,
            ))

    # -- rolling back -------------------------------------------------------------------------

    def rollback_plan(self, *, target: str | None = None, steps: int | None = None,
                      everything: bool = False, execution_id: str | None = None,
                      method: str | None = None, cascade: bool = False) -> list[RollbackStep]:
        """The steps a rollback would take, newest first. Raises :class:`RollbackRefused` when
        the request cannot be honoured; nothing is changed then."""
        self.check_names(rollback=method)
        ledger = self.db.reader()
        applied = ledger.in_effect() if ledger else []
        order = PlanOrder(self.migrations())
        keep = None
        if execution_id is not None:
            if ledger is None:
                raise UnknownTargetError(f"no execution has the id {execution_id!r}")
            selected = select_execution(ledger.get_execution(execution_id))
        else:
            keep = self.resolve_target(target) if target is not None else None
            selected = select_newest(applied, order, keep, steps, everything)
        if not selected:
            return []
        assert ledger is not None
        # What must end up not applied, even if a restore on the way puts it back: with --all
        # and TARGET every migration after the line, pending now or not.
        after = -1.0 if everything else None if keep is None or execution_id else (
            order.position[keep.id])
        goal = {m.id for m in self.migrations() if after is not None and
                order.position[m.id] > after}
        planner = RollbackPlanner(self.context(), self.plugins, order, self.catalog, ledger)
        return planner.plan(applied, selected, method or self.config.rollback, cascade, goal)

    def migration_for(self, ex: MigrationExecution, ledger: Ledger | None = None) -> Migration:
        """The migration an execution applied: its file while unchanged, else what the
        ledger stored when it was applied."""
        return self.catalog.applied_by(ex, ledger or self.db.reader())

    def down(self, target: str | None = None, *, steps: int | None = None,
             everything: bool = False, method: str | None = None, cascade: bool = False,
             confirm: Confirm = False,
             progress: Progress | None = None) -> list[MigrationExecution]:
        """Roll back the newest migration, ``steps`` of them, all, or down to ``target``. A
        rollback that restores a backup loses what was written since: it needs ``confirm``
        (True, or a function that sees the plan and says yes)."""
        with self._locked():
            plan = self.rollback_plan(target=target, steps=steps, everything=everything,
                                      method=method, cascade=cascade)
            done = self._roll_back(plan, confirm, progress)
        if plan:
            self.plugins.run_finished(self.context(), done)
        return done

    def rollback(self, execution_id: str, *, method: str | None = None, cascade: bool = False,
                 confirm: Confirm = False) -> list[MigrationExecution]:
        """Roll back one execution (and, with ``cascade``, its applied dependents first);
        ``confirm`` as for :meth:`down`."""
        with self._locked():
            plan = self.rollback_plan(execution_id=execution_id, method=method, cascade=cascade)
            done = self._roll_back(plan, confirm, None)
        if plan:
            self.plugins.run_finished(self.context(), done)
        return done

    def rollback_migration(self, execution_id: str, method: str | None = None, *,
                           confirm: bool = False) -> bool:
        """Undo one execution; True when the database is as before it afterwards."""
        executions = self.rollback(execution_id, method=method, confirm=confirm)
        return all(e.status is MigrationStatus.COMPLETED for e in executions)

    def restore_notices(self, plan: list[RollbackStep]) -> list[RestoreNotice]:
        """What each step of ``plan`` that restores a backup would discard."""
        methods = self.plugins.rollback_methods()
        return [self.backups().notice(step.root.backup_id or "", step.undoes)
                for step in plan if methods[step.method].discards_data]

    def _roll_back(self, plan: list[RollbackStep], confirm: Confirm,
                   progress: Progress | None) -> list[MigrationExecution]:
        if not plan:
            return []
        if callable(confirm):
            if not confirm(plan):
                raise RollbackRefused("rollback cancelled; nothing was changed")
        elif not confirm and (notices := self.restore_notices(plan)):
            raise RollbackRefused(_refusal(notices))
        steps = undo_steps(plan, self.plugins.rollback_methods(), self.dialect)
        return self._run(steps, False, progress)

    # -- adopting and repairing --------------------------------------------------------------

    def baseline_plan(self, version: str) -> list[Migration]:
        """The migrations :meth:`baseline` would record: every one up to ``version`` in plan
        order (with its dependencies) that is not in effect already (so a migration written
        by ``mig diff --new`` from the live database can be baselined on it). Raises
        :class:`HistoryConflict` when the database already has mig history for any of
        those."""
        ledger = self.db.reader()
        in_effect = {e.migration_id for e in ledger.in_effect()} if ledger else set()
        todo = plan_up(self.migrations(), in_effect, self.resolve_target(version))
        _repair.check_baseline(todo, ledger)
        return todo

    def baseline(self, version: str, *, note: str | None = None) -> list[MigrationExecution]:
        """Adopt an existing database: record every migration up to ``version`` (plan
        order) as applied without running it, in one transaction under the lock, each with a
        ``baseline`` apply row (and ``note``) in the audit trail. The live schema is recorded
        as the one ``mig check`` compares with. Refused (exit 2) when the database already
        has mig history for any of them."""
        with self.db.lock(self.config.lock_timeout):
            todo = self.baseline_plan(version)
            if not todo:
                return []
            run_id = new_id()
            with self.db.transaction() as ledger:
                done = [ledger.adopted(m, run_id, how="baseline",
                                       note=note or _repair.baseline_note(version))
                        for m in todo]
            record_schema(self.db, done[-1])
        return done

    def repair_plan(self, resolve: str | None = None,
                    resolution: str | None = None) -> RepairPlan:
        """What :meth:`repair` would do: accept edited files of applied migrations, forget
        catalogue entries of backups gone from storage and, with ``resolve`` (an execution id
        from :attr:`Status.attention`) and ``resolution`` (``"applied"`` or
        ``"rolled-back"``), clear that migration's "needs attention"."""
        ledger = self.db.reader()
        if ledger is None:
            if resolve is not None:
                raise UnknownTargetError(f"no execution has the id {resolve!r}")
            return RepairPlan()
        plan = RepairPlan(drift=_repair.drift(self.migrations(), ledger.in_effect()))
        if self.config.storage in self.plugins.storage_targets():
            plan.gone = self.backups().gone()
        attention = ledger.attention()
        if resolve is not None:
            plan.resolve = _repair.resolution(attention, resolve, resolution or "",
                                              lambda ex: self._current_file(ex, ledger))
        plan.attention = [e for e in attention
                          if plan.resolve is None or e is not plan.resolve.execution]
        return plan

    def _current_file(self, ex: MigrationExecution, ledger: Ledger) -> Migration:
        found = self.catalog.by_id().get(ex.migration_id)
        return found or self.migration_for(ex, ledger)

    def repair(self, resolve: str | None = None,
               resolution: str | None = None) -> list[MigrationExecution]:
        """Do :meth:`repair_plan`, in one transaction under the lock. Returns the rows
        written (``repair`` and ``forget`` audit rows, and an apply row when a migration is
        resolved as applied)."""
        with self.db.lock(self.config.lock_timeout):
            plan = self.repair_plan(resolve, resolution)
            if plan.empty:
                return []
            with self.db.transaction() as ledger:
                rows = _repair.apply_plan(ledger, plan, self.backups().forget, new_id())
            if plan.resolve is not None:  # the operator's inspection: the schema now
                record_schema(self.db, rows[-1])
        return rows

    # -- integrity ----------------------------------------------------------------------------

    def validate_database_integrity(self) -> IntegrityResult:
        """Database checks from plugins, drift, the schema record and backup checksums."""
        problems = []
        if self.db.reader() is not None:
            problems += self.plugins.integrity_check(self.context())
        problems += _status.problems(self.status())
        if self.config.storage in self.plugins.storage_targets():
            problems += self.backups().problems()
        return IntegrityResult(tuple(problems))
