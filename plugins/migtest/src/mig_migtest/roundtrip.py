"""The round trip: every migration's UP, DOWN and UP again on a scratch database.

The configured database is never opened: its dialect only makes the scratch database
(:meth:`mig.protocols.Dialect.scratch`). A :class:`mig.MigrationEngine` on the scratch URL
(backups off) gives the parts every UP and DOWN runs with, so that they run as ``mig up`` and
``mig down --method down`` run them: the engine's statement splitting for the dialect, its
executor (the configured one, if any), and a transaction per section where the migration and
the dialect allow it. What the scratch database does not get is a ledger history: nobody reads
it, and the schema record each engine run writes would cost more than the round trip (two
snapshots per migration, the least a round trip needs).
"""

from __future__ import annotations

from collections.abc import Callable
from contextlib import ExitStack
from dataclasses import replace
from typing import TYPE_CHECKING, Any
from urllib.parse import unquote, urlsplit

from mig.config import NO_BACKUP, Config
from mig.engine import MigrationEngine
from mig.errors import ConfigError, MigError, UnknownTargetError
from mig.models import Migration, Statement
from mig.plugins import Plugins
from mig.schema import Snapshot
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
    report = Report()
    with scratch:
        engine = scratch.open()
        report.scratch = mask_url(engine.config.database or "")
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
        self.plan: list[Migration] = []
        #: The scratch database's schema now, or None when it must be read again.
        self.schema: Snapshot | None = None
        self._statements: dict[tuple[str, str], list[Statement]] = {}

    @property
    def engine(self) -> MigrationEngine:
        assert self.scratch.engine is not None
        return self.scratch.engine

    def run(self, plan: list[Migration], first: int) -> None:
        self.plan = plan
        for index, m in enumerate(plan):
            try:
                self._one(m, index < first)
            except _Stop:
                self.report.not_reached = [later.id for later in plan[index + 1:]]
                return
            finally:
                if self.progress:
                    self.progress(m, self.report)

    def _one(self, m: Migration, before_start: bool) -> None:
        if before_start:
            self.report.skipped.append((m.id, "before --from"))
        elif not m.reversible:
            self.report.skipped.append((m.id, "irreversible: applied without a round trip"))
        elif self._split(m, "up") and not self._split(m, "down"):
            self.report.add(m.id, Kind.EMPTY_DOWN, "reversible but DOWN is empty")
        else:
            self.report.tested.append(m.id)
            self._round_trip(m)
            return
        self._up(m)
        self.schema = None

    def _up(self, m: Migration) -> None:
        """Apply ``m``; an UP that fails ends the plan."""
        error = self._run(m, "up")
        if error is not None:
            self.report.add(m.id, Kind.FAILED, f"UP failed: {error}")
            raise _Stop

    def _round_trip(self, m: Migration) -> None:
        before = self.schema if self.schema is not None else self._snapshot()
        rows_before = self._seeded_rows(before)
        self._up(m)
        applied = self._snapshot()
        rows_applied = self.data.rows(self.engine.dialect, applied) if self.data else None
        error = self._run(m, "down")
        if error is not None:
            self.report.add(m.id, Kind.FAILED, f"DOWN failed: {error}")
            if self._snapshot() != applied:  # DOWN half done (no transactional DDL)
                self._rebuild(m)
            else:
                self.schema = applied
            return
        after = self._snapshot()
        if after != before:
            for line in down_mismatches(before, applied, after):
                self.report.add(m.id, Kind.SCHEMA, line)
        if self.data and rows_before is not None and rows_applied is not None:
            rows_after = self.data.rows(self.engine.dialect, after)
            for line in self.data.losses(before, applied, after,
                                         rows_before, rows_applied, rows_after):
                self.report.add(m.id, Kind.DATA, line)
        error = self._run(m, "up")
        if error is not None:
            self.report.add(m.id, Kind.FAILED, f"UP failed after DOWN: {error}")
            self._rebuild(m)
        elif after != before and self._snapshot() != applied:
            # UP ran again on what a faulty DOWN left: go on from the plan's schema instead.
            # (After a DOWN that gave back the schema of before, UP gives ``applied`` again.)
            self._rebuild(m)
        else:
            self.schema = applied

    def _run(self, m: Migration, direction: str) -> str | None:
        """Run one section of ``m`` as ``mig up`` / ``mig down`` would: its statements for
        this dialect through the engine's executor, in a transaction where the migration and
        the dialect allow it (rolled back when a statement fails). Returns the error, or None.

        The scratch database keeps no history: nothing reads it, and recording each step
        (and the schema after it) would cost more than the step itself."""
        engine = self.engine
        statements = self._split(m, direction)
        try:
            if m.transactional and engine.dialect.transactional_ddl:
                with engine.db.transaction():
                    engine.executor.execute(engine.dialect, statements, m, direction)
            else:
                engine.db.writer()
                engine.executor.execute(engine.dialect, statements, m, direction)
        except Exception as exc:  # StatementFailed, or a driver error the executor let through
            engine.db.abort()
            text = str(exc).strip() or type(exc).__name__
            return text.splitlines()[0] if isinstance(exc, MigError) else text
        return None

    def _split(self, m: Migration, direction: str) -> list[Statement]:
        """The statements of one section (split once: a migration runs UP twice)."""
        key = (m.id, direction)
        if key not in self._statements:
            self._statements[key] = self.engine.split(m, direction)
        return self._statements[key]

    def _seeded_rows(self, schema: Snapshot) -> dict[str, Any] | None:
        if self.data is None:
            return None
        self.engine.db.writer()
        self.report.notes.extend(self.data.seed(self.engine.dialect, schema))
        return self.data.rows(self.engine.dialect, schema)

    def _rebuild(self, m: Migration) -> None:
        """Start again on a new scratch database with everything up to ``m`` applied, so
        that the next round trip starts from the schema the plan gives, not from what a
        faulty DOWN left."""
        self.scratch.open()
        for earlier in self.plan[: self.plan.index(m) + 1]:
            self._up(earlier)
        self.schema = None

    def _snapshot(self) -> Snapshot:
        engine = self.engine
        engine.db.writer()  # connected (an empty scratch SQLite file may not exist yet)
        return engine.dialect.schema_snapshot(exclude_prefix=engine.config.table_prefix)
