"""The run loop: every apply and every rollback goes through :meth:`Runner.run`.

In the spirit of Alembic's ``run_migrations``: a transaction policy says how steps are
bracketed (each in its own transaction, the whole run in one for ``--atomic``, none for a
``@transactional: false`` migration or a restore), the step does its work, and one ledger
transition records it. Failures are handled in one place, :meth:`Runner._failed`.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from .config import NO_BACKUP
from .database import Database
from .errors import ConfigError, MigError, StatementFailed
from .ledger import Ledger, RestoreCause, apply_record, new_id, now, undo_record
from .models import Migration, MigrationExecution, MigrationStatus, Statement
from .planner import RollbackStep
from .plugins import Plugins
from .protocols import Context, Dialect, RollbackMethod
from .schema import fingerprint
from .status import snapshot as schema_snapshot

if TYPE_CHECKING:
    from .backups import Backups

#: Called as ``progress(done, total, migration, execution)``; execution is None at the start
#: of a step, then each execution the step recorded follows (a restore records several).
Progress = Callable[[int, int, Migration, "MigrationExecution | None"], None]


class PerStep:
    """Each transactional step in its own transaction, with its bookkeeping."""

    def __init__(self, db: Database) -> None:
        self.db = db

    def start(self) -> None:
        pass

    def begin(self, transactional: bool) -> bool:
        """Open the step's transaction; whether the step runs inside one."""
        if transactional:
            self.db.dialect.begin()
        return transactional

    def end_step(self) -> None:
        self.db.dialect.commit()

    def finish(self) -> None:
        pass

    def abort(self, done: list[MigrationExecution]) -> list[MigrationExecution]:
        """Roll back what is open; return the executions of ``done`` it took with it."""
        self.db.abort()
        return []


class WholeRun(PerStep):
    """``--atomic``: one transaction for the whole run, committed at its end."""

    def start(self) -> None:
        self.db.dialect.begin()

    def begin(self, transactional: bool) -> bool:
        return True

    def end_step(self) -> None:
        pass

    def finish(self) -> None:
        self.db.dialect.commit()

    def abort(self, done: list[MigrationExecution]) -> list[MigrationExecution]:
        self.db.abort()
        for ex in done:
            ex.seq = None  # their rows went with the transaction
        return list(done)


@dataclass
class Apply:
    """Apply one migration."""

    migration: Migration
    statements: list[Statement]
    #: The backup type to take first, or None.
    backup: str | None
    transactional: bool
    direction = "up"

    def record(self, run_id: str) -> MigrationExecution:
        return apply_record(self.migration, run_id)

    def perform(self, ctx: Context, record: MigrationExecution) -> (
        list[MigrationExecution] | None
    ):
        ctx.executor.execute(ctx.dialect, self.statements, self.migration, "up")
        return None

    def succeeded(self, ledger: Ledger, record: MigrationExecution,
                  returned: list[MigrationExecution] | None) -> list[MigrationExecution]:
        if not self.transactional:
            record.statements_committed = len(self.statements)
        ledger.applied(record, self.migration)
        return [record]


@dataclass
class Undo:
    """Undo one rollback step by its method."""

    step: RollbackStep
    impl: RollbackMethod
    transactional: bool
    direction = "down"
    backup = None

    @property
    def migration(self) -> Migration:
        return self.step.migration

    def record(self, run_id: str) -> MigrationExecution:
        return undo_record(self.step.root, self.step.method, run_id)

    def perform(self, ctx: Context, record: MigrationExecution) -> (
        list[MigrationExecution] | None
    ):
        return self.impl.undo(ctx, self.step.migration, self.step.root, record.run_id or "")

    def succeeded(self, ledger: Ledger, record: MigrationExecution,
                  returned: list[MigrationExecution] | None) -> list[MigrationExecution]:
        if returned is not None:  # the method recorded itself (a restore)
            return returned
        ledger.rolled_back(self.step.root, record)
        return [record]


Step = Apply | Undo


def apply_steps(
    todo: Sequence[Migration], split: Callable[[Migration, str], list[Statement]],
    dialect: Dialect, backup_type: str, atomic: bool,
) -> list[Apply]:
    """The steps of ``up``: each migration with its statements, whether it runs in a
    transaction, and the backup taken before it (``--atomic``: one, before the run)."""
    steps = [Apply(m, split(m, "up"), None, m.transactional and dialect.transactional_ddl)
             for m in todo]
    if atomic:
        blocking = [s.migration.id for s in steps if not s.transactional]
        if blocking and not dialect.transactional_ddl:
            raise ConfigError(f"--atomic needs transactional DDL, which {dialect.name} does"
                              " not have (each DDL statement commits); run without --atomic")
        if blocking:
            raise ConfigError(f"--atomic cannot include {blocking[0]}: it runs outside a"
                              " transaction")
    if backup_type != NO_BACKUP:
        for step in steps[:1] if atomic else steps:
            if any(m.backup_required for m in todo) if atomic else step.migration.backup_required:
                step.backup = backup_type
    return steps


def undo_steps(
    plan: Sequence[RollbackStep], methods: Mapping[str, type[RollbackMethod]], dialect: Dialect
) -> list[Undo]:
    """The steps of a rollback plan, each with its method; DOWN SQL runs in a transaction
    where the migration and the dialect allow it."""
    steps = []
    for step in plan:
        impl = methods[step.method]()
        transactional = impl.transactional and step.migration.transactional and (
            dialect.transactional_ddl)
        steps.append(Undo(step, impl, transactional))
    return steps


class Runner:
    """Runs steps against one database, recording each through the ledger."""

    def __init__(
        self,
        ctx: Context,
        db: Database,
        plugins: Plugins,
        backups: Callable[[], Backups],
        progress: Progress | None = None,
    ) -> None:
        self.ctx = ctx
        self.db = db
        self.plugins = plugins
        self.backups = backups
        self.progress = progress
        self.run_id = new_id()

    def run(self, steps: Sequence[Step], atomic: bool = False) -> list[MigrationExecution]:
        """Run ``steps`` in order until one fails; return every execution recorded (a failed
        one last)."""
        policy = WholeRun(self.db) if atomic else PerStep(self.db)
        done: list[MigrationExecution] = []
        # mig_migration_after runs once a step's transaction has ended: for --atomic, at the end.
        after: list[tuple[Step, MigrationExecution]] = []
        ledger = self.db.writer()
        try:
            self._loop(steps, atomic, policy, ledger, done, after)
        except Exception:  # a backup before a later step failed: record what was done
            if done and not self.db.dialect.in_transaction:
                record_schema(self.db, done[-1])
            raise  # (a BaseException, ^C or a kill, records nothing more)
        if done:
            record_schema(self.db, done[-1])
        return done

    def _loop(
        self, steps: Sequence[Step], atomic: bool, policy: PerStep, ledger: Ledger,
        done: list[MigrationExecution], after: list[tuple[Step, MigrationExecution]],
    ) -> None:
        for index, step in enumerate(steps):
            if self.progress:
                self.progress(index, len(steps), step.migration, None)
            record = step.record(self.run_id)
            if step.backup is not None:  # before any transaction of the run is open
                info = self.backups().create(step.backup, migration_id=step.migration.id,
                                             run_id=self.run_id)
                record.backup_id, record.backup_path = info.backup_id, info.backup_path
            if index == 0:
                policy.start()
            started = time.perf_counter()
            in_tx = policy.begin(step.transactional)
            try:
                if not in_tx and isinstance(step, Apply):
                    self._started(record)
                self.plugins.migration_before(self.ctx, step.migration, step.direction)
                returned = step.perform(self.ctx, record)
                _finished(record, started)
                if in_tx:
                    records = step.succeeded(ledger, record, returned)
                    policy.end_step()
                else:
                    with self.db.transaction() as tx:
                        records = step.succeeded(tx, record, returned)
                if atomic and index == len(steps) - 1:
                    policy.finish()
            except Exception as exc:
                self._failed(step, record, exc, started, in_tx, policy, done, atomic)
                records = [record]
            done.extend(records)
            after.extend((step, r) for r in records)
            if not atomic or records[-1].status is not MigrationStatus.COMPLETED or (
                index == len(steps) - 1
            ):
                for s, r in after:
                    self.plugins.migration_after(self.ctx, s.migration, r, s.direction)
                after.clear()
            if self.progress:
                # One line per record: a restore undoes several migrations in one step.
                for each in records:
                    self.progress(index + 1, len(steps), step.migration, each)
            if records[-1].status is not MigrationStatus.COMPLETED:
                break

    def _started(self, record: MigrationExecution) -> None:
        try:
            with self.db.transaction() as ledger:
                ledger.started(record)
        except BaseException:
            record.seq = None  # the row was not written
            raise

    def _failed(
        self,
        step: Step,
        record: MigrationExecution,
        exc: Exception,
        started: float,
        in_tx: bool,
        policy: PerStep,
        done: list[MigrationExecution],
        atomic: bool,
    ) -> None:
        """The one place a failure is handled: roll back whatever transaction is open (the
        migration's own too), restore the pre-migration backup when statements had committed,
        then record the failure with the database's message."""
        discarded = policy.abort(done)
        if in_tx:
            record.seq = None  # its row, if written, went with the transaction
        record.error_message = _message(exc)
        committed = exc.committed if isinstance(exc, StatementFailed) and not in_tx else 0
        record.statements_committed = committed
        if atomic:
            record.error_message += " (the --atomic run was rolled back)"
        elif committed and record.backup_id and isinstance(step, Apply):
            self._restore_after(step.migration, record)
        record.completed_at = now()
        record.execution_time = time.perf_counter() - started
        with self.db.transaction() as ledger:
            for ex in discarded:
                ledger.discarded(ex, f"undone: the --atomic run failed at {record.migration_id}")
            ledger.failed_execution(record)

    def _restore_after(self, m: Migration, record: MigrationExecution) -> None:
        """Undo a failed migration whose statements had committed from its backup."""
        assert record.backup_id is not None
        try:
            outcome = self.backups().restore(
                record.backup_id, cause=RestoreCause(reason=f"failed {m.id}")
            )
        except MigError as exc:
            record.error_message = (f"{record.error_message}; restoring backup"
                                    f" {record.backup_id} failed: {exc}")
            return
        if outcome.keeps_schema:
            # A data-only backup put the rows back; what the statements did to the schema stays.
            record.error_message = (f"{record.error_message} (rows restored from backup"
                                    f" {record.backup_id}; schema changes were not undone)")
            return
        record.error_message = f"{record.error_message} (restored from backup {record.backup_id})"
        record.statements_committed = 0


def record_schema(db: Database, last: MigrationExecution) -> None:
    """Record the user schema on a command's last row (docs/ledger.md, "The schema record")."""
    snapshot = schema_snapshot(db.dialect, db.prefix)
    if snapshot is not None:
        with db.transaction() as ledger:
            ledger.schema_recorded(last, snapshot, fingerprint(snapshot))


def _finished(ex: MigrationExecution, started: float) -> None:
    ex.status = MigrationStatus.COMPLETED
    ex.completed_at = now()
    ex.execution_time = time.perf_counter() - started


def _message(exc: BaseException) -> str:
    text = str(exc).strip() or type(exc).__name__
    return text.splitlines()[0] if isinstance(exc, MigError) else text
