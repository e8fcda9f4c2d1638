"""The round trip: every migration's UP, DOWN and UP again on a scratch database.

The configured database is never opened: its dialect only makes the scratch database
(:meth:`mig.protocols.Dialect.scratch`), and a :class:`mig.MigrationEngine` on the scratch URL
(backups off) does every UP and DOWN, so they run exactly as ``mig up`` and ``mig down``
would, through the same executor and hooks. The schema after each run is the one the engine
records in its ledger (``schema_record``), so the round trip takes no snapshot of its own
while the engine's record is there.
"""

from __future__ import annotations

from collections.abc import Callable
from contextlib import ExitStack
from dataclasses import replace
from typing import TYPE_CHECKING, Any
from urllib.parse import unquote, urlsplit

from mig.config import NO_BACKUP, Config
from mig.engine import MigrationEngine
from mig.errors import ConfigError, UnknownTargetError
from mig.models import Migration, MigrationExecution, MigrationStatus
from mig.plugins import Plugins
from mig.schema import Snapshot, changes
from mig.urls import mask_url

from .compare import down_mismatches
from .data import DataCheck
from .report import Kind, Report

if TYPE_CHECKING:
    from mig.protocols import Dialect

#: Called after each migration with the migration and the report so far.
Progress = Callable[[Migration, Report], None]


def run_roundtrip(
    config: Config,
    *,
    target: str | None = None,
    start: str | None = None,
    data: bool = False,
    scratch_url: str | None = None,
    plugins: Plugins | None = None,
    seed: int = 0,
    progress: Progress | None = None,
) -> Report:
    """Test that every migration's DOWN undoes its UP, on a scratch database.

    For each migration of the plan (all, or up to ``target`` as ``mig up TARGET`` would
    apply them): the schema before, UP, the schema, DOWN, the schema compared with the one
    before UP, UP again, and on to the next. Migrations before ``start`` (an id or version)
    and irreversible ones are applied without a round trip. ``data`` seeds every table with
    generated rows (deterministic for a ``seed``) and checks that DOWN keeps them.
    ``scratch_url`` names the scratch database (its kind, server and name); by default one is
    made beside the configured database with a random name. The configured database is never
    touched, and the scratch database is removed afterwards, also after an error.
    """
    plugins = plugins or Plugins(disable=config.disable)
    plugins.load()
    scratch = _Scratch(config, plugins, scratch_url)
    report = Report(scratch=mask_url(scratch_url or "") or f"(a scratch {scratch.kind} database)")
    with scratch:
        engine = scratch.open()
        plan = engine.plan(target)
        first = 0
        if start is not None:
            wanted = engine.resolve_target(start)
            ids = [m.id for m in plan]
            if wanted.id not in ids:
                raise UnknownTargetError(f"--from {start}: {wanted.id} is not in the plan"
                                         f"{f' up to {target}' if target else ''}")
            first = ids.index(wanted.id)
        _RoundTrip(scratch, report, DataCheck(seed) if data else None, progress).run(plan, first)
    return report


def _database_name(url: str) -> str | None:
    """The last path segment of a URL (a server's database, an SQLite file's name)."""
    name = unquote(urlsplit(url).path.rstrip("/").rsplit("/", 1)[-1])
    return name or None


class _Scratch:
    """The scratch database and the engine on it; :meth:`open` starts over with a new one."""

    def __init__(self, config: Config, plugins: Plugins, scratch_url: str | None) -> None:
        source = scratch_url or config.database
        if not source:
            raise ConfigError("mig test makes a scratch database of the configured kind: set"
                              " `database` (or MIG_DATABASE, --database) or give --scratch-url")
        self.config = config
        self.plugins = plugins
        self.owner: Dialect = plugins.dialect(replace(config, database=source))
        self.kind = self.owner.name
        self.name = _database_name(scratch_url) if scratch_url else None
        self._stack: ExitStack | None = None
        self.engine: MigrationEngine | None = None

    def open(self) -> MigrationEngine:
        """A new, empty scratch database (the previous one removed) and an engine on it."""
        self.close()
        stack = ExitStack()
        try:
            url = stack.enter_context(self.owner.scratch(self.name))
            settings = replace(self.config, database=url, backup=NO_BACKUP)
            engine = MigrationEngine(config=settings, plugins=self.plugins)
            stack.callback(engine.close)
        except BaseException:
            stack.close()
            raise
        self._stack, self.engine = stack, engine
        return engine

    def close(self) -> None:
        stack, self._stack, self.engine = self._stack, None, None
        if stack is not None:
            stack.close()

    def __enter__(self) -> _Scratch:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class _Stop(Exception):
    """The plan cannot go on (an UP failed): the rest is not reached."""


class _RoundTrip:
    def __init__(self, scratch: _Scratch, report: Report, data: DataCheck | None,
                 progress: Progress | None) -> None:
        self.scratch = scratch
        self.report = report
        self.data = data
        self.progress = progress
        self.schema: Snapshot = {}
        #: Migrations to apply without a round trip, in one run, before the next round trip.
        self.pending: list[Migration] = []
        #: Those of ``pending`` whose DOWN gave back the schema of before UP: their UP runs
        #: again in the same run as the next round trip's UP (to the schema of after their
        #: first UP, which ``schema`` holds), which saves a run and its commits each.
        self.again: set[str] = set()

    @property
    def engine(self) -> MigrationEngine:
        assert self.scratch.engine is not None
        return self.scratch.engine

    def run(self, plan: list[Migration], first: int) -> None:
        self.schema = self._snapshot()
        for index, m in enumerate(plan):
            try:
                self._one(m, index < first)
            except _Stop:
                self.report.not_reached = [later.id for later in plan[index + 1:]]
                return
            finally:
                if self.progress:
                    self.progress(m, self.report)
        try:
            self._flush()
        except _Stop:
            return

    def _one(self, m: Migration, before_start: bool) -> None:
        if before_start:
            self.report.skipped.append((m.id, "before --from"))
            self.pending.append(m)
            return
        if not m.reversible:
            self.report.skipped.append((m.id, "irreversible: applied without a round trip"))
            self.pending.append(m)
            return
        up, down = self.engine.split(m, "up"), self.engine.split(m, "down")
        if up and not down:
            self.report.add(m.id, Kind.EMPTY_DOWN, "reversible but DOWN is empty")
            self.pending.append(m)
            return
        if len(self.again) < len(self.pending):
            self._flush()  # the schema before the round trip is needed
        self.report.tested.append(m.id)
        self._round_trip(m)

    def _flush(self) -> None:
        """Apply the migrations waiting to be applied without a round trip."""
        if not self.pending:
            return
        self._up(self.pending[-1])
        self.schema = self._recorded()

    def _up(self, m: Migration) -> None:
        """Apply the pending migrations and ``m`` in one run; an UP that fails ends the plan."""
        again, self.pending, self.again = self.again, [], set()
        failed = _failure(self.engine.up(m.id))
        if failed is not None:
            which = "UP failed after DOWN" if failed.migration_id in again else "UP failed"
            self.report.add(failed.migration_id, Kind.FAILED, f"{which}: {failed.error_message}")
            raise _Stop

    def _round_trip(self, m: Migration) -> None:
        before = self.schema
        rows_before = self._seeded_rows(before)
        self._up(m)
        applied = self._recorded()
        rows_applied = self.data.rows(self.engine.dialect, applied) if self.data else None
        failed = _failure(self.engine.down(steps=1, method="down"))
        if failed is not None:
            self.report.add(m.id, Kind.FAILED, f"DOWN failed: {failed.error_message}")
            if self._recorded() != applied:  # DOWN half done (no transactional DDL)
                self._rebuild(m)
            else:
                self.schema = applied
            return
        after = self._recorded()
        for line in down_mismatches(before, applied, after):
            self.report.add(m.id, Kind.SCHEMA, line)
        if self.data and rows_before is not None and rows_applied is not None:
            rows_after = self.data.rows(self.engine.dialect, after)
            for line in self.data.losses(before, applied, after,
                                         rows_before, rows_applied, rows_after):
                self.report.add(m.id, Kind.DATA, line)
        self.schema = applied
        if after == before and self.data is None:
            self.pending.append(m)
            self.again.add(m.id)
            return
        failed = _failure(self.engine.up(m.id))
        if failed is not None:
            self.report.add(m.id, Kind.FAILED, f"UP failed after DOWN: {failed.error_message}")
            self._rebuild(m)
            return
        again = self._recorded()
        if again != applied:
            if after == before:  # else the DOWN lines above already say why
                for line in changes(applied, again):
                    self.report.add(m.id, Kind.REAPPLY, f"UP after DOWN differs: {line}")
            self._rebuild(m)

    def _seeded_rows(self, schema: Snapshot) -> dict[str, Any] | None:
        if self.data is None:
            return None
        self.report.notes.extend(self.data.seed(self.engine.dialect, schema))
        return self.data.rows(self.engine.dialect, schema)

    def _rebuild(self, m: Migration) -> None:
        """Start again on a new scratch database with everything up to ``m`` applied, so
        that the next round trip starts from the schema the plan gives, not from what a
        faulty DOWN left."""
        engine = self.scratch.open()
        failed = _failure(engine.up(m.id))
        if failed is not None:
            self.report.add(failed.migration_id, Kind.FAILED,
                            f"UP failed: {failed.error_message}")
            raise _Stop
        self.schema = self._recorded()

    def _recorded(self) -> Snapshot:
        """The schema after the engine's last run: the one it recorded in its ledger."""
        ledger = self.engine.db.reader()
        if ledger is not None:
            _, snapshot = ledger.schema_record()
            if snapshot is not None:
                return snapshot
        return self._snapshot()

    def _snapshot(self) -> Snapshot:
        engine = self.engine
        engine.db.writer()  # connected (an empty scratch SQLite file may not exist yet)
        return engine.dialect.schema_snapshot(exclude_prefix=engine.config.table_prefix)


def _failure(executions: list[MigrationExecution]) -> MigrationExecution | None:
    failed = [e for e in executions if e.status is not MigrationStatus.COMPLETED]
    return failed[0] if failed else None
