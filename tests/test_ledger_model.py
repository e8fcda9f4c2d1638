"""The ledger never lies (SPEC §10, "Backups and restores"): a hypothesis state machine.

Each example generates a set of 3-8 migrations (tables, indexes, added columns, views, with
dependencies, some irreversible, some non-transactional on SQLite), writes them in mig's
format and drives mig through its Python API with random steps: up (all or to a target),
down (steps, to a target, all), rollback of any execution from the history with any method,
with and without cascade, backups of every type, restores, pruning, ``repair`` (resolving a
migration that needs attention once its objects are all there or none), and a process killed
(``Crash``, a BaseException) or a statement failing at an instrumented step. After every step,
with a fresh read:

1. the applied set of ``status()`` is the set whose objects exist: the live user schema equals
   that of a reference database built from scratch by applying exactly that set, in plan
   order, to an empty database of the same dialect (cached by applied set);
2. every applied migration's dependencies are applied;
3. ``validate_database_integrity()`` reports no problem, except for a non-transactional
   migration killed mid-way, which must then (and only then) be under ``status().attention``;
6. ``status().current_version`` is the highest applied version, and ``mig_schema_version``
   agrees;
7. the audit trail only grows: no execution ever leaves ``history()``.

And after the steps that call for it:

4. a command that reports a migration rolled back changed the schema; it reports every
   migration it undid, and (when no restore brought an earlier execution back) nothing else;
5. ``down`` after a restore takes the newest applied migrations in plan order (the model
   predicts which), every time; ``down --steps N`` takes N (all when fewer are applied);
   ``down TARGET`` leaves TARGET and nothing after it applied; ``down --all`` leaves nothing;
- a refused operation (RollbackRefused, UnknownTargetError, BackupError) changes nothing;
- a statement made to fail comes back as a FAILED execution (up does not raise);
- restoring backup B leaves applied exactly what was applied when B was taken;
- pruning never removes the pre-migration backup of an applied irreversible migration.

Sizes: SQLite runs MIG_MODEL_EXAMPLES examples (default 150) of up to MIG_MODEL_STEPS steps
(default 50): about 3500 steps in a minute on two cores (many are cheap no-ops, an up with
nothing pending or a down with nothing applied: rules never depend on the state, see PICK).
PostgreSQL and MariaDB (``server`` marker) run a thirtieth of the examples (at least 3) of two
fifths of the steps (at least 5): about 100 steps each, 30 s and 80 s. Raise both to run
longer: ``MIG_MODEL_EXAMPLES=1000 MIG_MODEL_STEPS=80 pytest tests/test_ledger_model.py``.
The steps run per dialect are printed at the end of the session (tests/conftest.py; ``-v``
adds how each kind of step ended). A failure shows hypothesis's shrunk step sequence and a
``@reproduce_failure`` blob, and, under the error, the steps of the example as they ran with
what mig answered (mig's choices after a restore vary from run to run, so a failure may not
replay exactly: hypothesis then reports it as flaky, with the same step log).
MIG_MODEL_SKIP=rule,rule leaves rules out, to look past a divergence already known;
MIG_MODEL_SHRINK_SECONDS (default 60) bounds the time spent shrinking a failure.
"""

from __future__ import annotations

import functools
import inspect
import os
import shutil
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import ledger_model as lm
import pytest
from dialects.dialect_targets import (
    DialectTarget,
    PostgresTarget,
    SQLiteTarget,
    new_target,
    server_problem,
)
from hypothesis import HealthCheck, note, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    RuleBasedStateMachine,
    initialize,
    invariant,
    precondition,
    rule,
    run_state_machine_as_test,
)
from mig import MigrationEngine
from mig.errors import BackupError, RollbackRefused, UnknownTargetError
from mig.models import MigrationStatus, Operation
from mig.plugins import Plugins
from mig.testing import server_unavailable

#: Sizes: examples (fresh databases with a new migration set) and steps per example. The
#: servers run fewer, shorter examples (a server step costs 10-30 times an SQLite one).
EXAMPLES = int(os.environ.get("MIG_MODEL_EXAMPLES", "150"))
STEPS = int(os.environ.get("MIG_MODEL_STEPS", "50"))
SERVER_EXAMPLES = max(3, EXAMPLES // 30)
SERVER_STEPS = max(5, STEPS * 2 // 5)
#: Rules to leave out, comma-separated (MIG_MODEL_SKIP=restore_backup,crash): for triage, to
#: look past a divergence already known.
SKIP = set(filter(None, os.environ.get("MIG_MODEL_SKIP", "").split(",")))


def on(rule_name: str) -> bool:
    return rule_name not in SKIP

#: What mig may answer instead of doing something; it must then have changed nothing.
REFUSALS = (RollbackRefused, UnknownTargetError, BackupError)
METHODS = st.sampled_from([None, "down", "restore", "auto"])
#: Picks among what the database holds now (applied, history, backups) by index modulo its
#: length, so that the data drawn never depends on the state (which hypothesis requires).
PICK = st.integers(0, 255)
UNKNOWN = "?"  # a pre-migration backup the model cannot name


def logged(fn: Any) -> Any:
    """Add the steps this example ran to any exception a rule or invariant raises (re-raised
    as it is, so hypothesis still tells failures apart by where they come from): a failure
    that does not replay the same way, because mig behaves differently from one run to the
    next, still shows the steps that led to it."""

    @functools.wraps(fn)
    def wrapper(self: Any, *args: Any, **kwargs: Any) -> Any:
        try:
            return fn(self, *args, **kwargs)
        except Exception as exc:
            if not getattr(exc, "ledger_logged", False):
                exc.ledger_logged = True  # type: ignore[attr-defined]
                exc.add_note("steps of this example:\n  " + "\n  ".join(self.log))
            raise

    return wrapper


def scratch() -> str | None:
    """Where examples keep their files: memory (/dev/shm) where there is one, since mig
    syncs every backup and commit to disk and the disk's fsync would be most of the time."""
    shm = Path("/dev/shm")
    return str(shm) if shm.is_dir() and os.access(shm, os.W_OK) else None


def yes(*args: Any, **kwargs: Any) -> bool:
    return True


def call(fn: Any, *args: Any, **kwargs: Any) -> Any:
    """``fn(*args, **kwargs)`` without the keywords it does not take (``confirm`` is new)."""
    params = inspect.signature(fn).parameters
    if not any(p.kind is p.VAR_KEYWORD for p in params.values()):
        kwargs = {k: v for k, v in kwargs.items() if k in params}
    return fn(*args, **kwargs)


@dataclass
class Observation:
    """What the database and mig say, read afresh."""

    applied: frozenset[str]
    applied_list: list[str]
    current_version: str | None
    stored_version: str | None
    attention: frozenset[str]
    problems: list[tuple[str, str, str | None]]
    schema: Any
    history: list[Any] = field(repr=False)  # newest first
    backups: dict[str, dict[str, Any]] = field(repr=False)  # id -> get_backup_history() row

    def restores_since(self, before: Observation) -> list[Any]:
        """Restore executions recorded after ``before`` was read, oldest first."""
        new = self.history[: len(self.history) - len(before.history)]
        return [e for e in reversed(new) if e.operation is Operation.RESTORE]


def machine_for(dialect: str) -> type[RuleBasedStateMachine]:
    """The state machine on one dialect."""

    class LedgerMachine(RuleBasedStateMachine):
        def __init__(self) -> None:
            super().__init__()
            self.ready = False
            self.root = Path(tempfile.mkdtemp(prefix="mig-ledger-", dir=scratch()))
            self.target: DialectTarget | None = None
            self.ref: DialectTarget | None = None
            self.engine: MigrationEngine | None = None
            self.references: dict[frozenset[str], Any] = {}
            self.fresh: Observation | None = None  # the last read, until a step acts
            self.log: list[str] = []
            lm.EXAMPLES[dialect] = lm.EXAMPLES.get(dialect, 0) + 1

        # -- set-up and plumbing ------------------------------------------------------------

        @initialize(
            specs=lm.migration_sets(dialect),
            backup=st.sampled_from(["full", "full", "schema", "incremental", "data", "none"]),
        )
        @logged
        def setup(self, specs: tuple[lm.Spec, ...], backup: str) -> None:
            self.log.append(f"setup(specs={specs!r}, backup={backup!r})")
            self.specs = {s.id: s for s in specs}
            self.order = [s.id for s in specs]  # plan order: dependencies only point back
            ids = {s.version: s.id for s in specs}
            folder = self.root / "migrations"
            folder.mkdir()
            for s in specs:
                (folder / f"{s.id}.sql").write_text(lm.migration_file(s, dialect, ids))
            self.target = new_target(dialect, self.root)
            if dialect != "sqlite":
                self.ref = new_target(dialect, self.root)
            self.auto_backup = backup
            self.plugins = Plugins()
            self.plugins.load()
            self.faults = lm.Faults()
            self.plugins.register(self.faults, name="ledger_model")
            self.engine = self.new_engine()
            assert [m.id for m in self.engine.migrations()] == self.order
            self.transactional_ddl = self.engine.dialect.transactional_ddl
            # The model: as little as the checks need.
            self.backups: dict[str, tuple[str, frozenset[str]]] = {}  # id -> (type, applied)
            self.backup_pre: dict[str, dict[str, str | None]] = {}  # id -> pre_backup then
            self.pre_backup: dict[str, str | None] = {}  # applied id -> its pre-migration backup
            self.attention: set[str] = set()  # must be under status().attention
            self.attention_unsure: set[str] = set()  # may or may not be
            self.after_restore = False
            self.ready = True
            self.seen = self.observe()

        def new_engine(self) -> MigrationEngine:
            assert self.target is not None
            return MigrationEngine(
                database=self.target.url,
                migrations_dir=str(self.root / "migrations"),
                backups_dir=str(self.root / "backups"),
                backup=self.auto_backup,
                rollback="auto",
                lock_timeout=5,
                executor="ledger_model",
                plugins=self.plugins,
            )

        def teardown(self) -> None:
            try:
                if self.engine is not None:
                    self.engine.close()
                for target in (self.target, self.ref):
                    if target is not None:
                        target.drop()
            finally:
                shutil.rmtree(self.root, ignore_errors=True)

        def step(self, what: str) -> None:
            lm.STEPS[dialect] = lm.STEPS.get(dialect, 0) + 1
            self.current = what.split("(")[0]
            self.fresh = None
            self.log.append(what)
            self.faults.arm(None)
            note(f"-- {what}; applied before: {sorted(self.seen.applied)}")

        def outcome(self, how: str, detail: str | None = None) -> None:
            lm.outcome(dialect, f"{self.current}: {how}")
            self.log[-1] += f"  -> {detail or how}"

        def reversible(self, migration_id: str) -> bool:
            return self.specs[migration_id].reversible

        def engine_transactional(self, migration_id: str) -> bool:
            return self.specs[migration_id].transactional and self.transactional_ddl

        # -- reading ------------------------------------------------------------------------

        def observe(self) -> Observation:
            """A fresh read: a new engine for mig's side, the driver for the schema."""
            reader = self.new_engine()
            try:
                status = reader.status()
                applied_list = [e.migration_id for e in status.applied]
                history = reader.history()
                problems = [(p.check, p.message, p.object)
                            for p in reader.validate_database_integrity().problems]
                backups = {b["backup_id"]: b for b in reader.get_backup_history()}
                current = status.current_version
            finally:
                reader.close()
            stored = None
            if self.target is not None and "mig_schema_version" in self.target.tables():
                stored = self.target.query("SELECT current_version FROM mig_schema_version")[0][0]
            self.fresh = Observation(
                applied=frozenset(applied_list), applied_list=applied_list,
                current_version=current, stored_version=stored,
                attention=frozenset(e.migration_id for e in status.attention),
                problems=problems, schema=self.live_schema(), history=history, backups=backups,
            )
            return self.fresh

        def dialect_class(self) -> Any:
            assert self.engine is not None
            return type(self.engine.dialect)

        def snapshot_of(self, url: str) -> Any:
            d = self.dialect_class()(url, base_dir=self.root, options={})
            d.connect(readonly=True)
            try:
                return lm.dialect_snapshot(d)
            finally:
                d.close()

        def live_schema(self) -> Any:
            target = self.target
            assert target is not None
            if isinstance(target, SQLiteTarget) and not target.path.exists():
                return self.reference(frozenset())
            return self.snapshot_of(target.url)

        def reference(self, applied: frozenset[str]) -> Any:
            """The schema of a new database of this dialect given exactly ``applied``."""
            if applied in self.references:
                return self.references[applied]
            sql = [stmt for mid in self.order if mid in applied
                   for stmt in lm.statements(self.specs[mid], dialect, "up")
                   if stmt not in ("BEGIN", "COMMIT")]
            if dialect == "sqlite":
                d = self.dialect_class()("sqlite:///:memory:", base_dir=self.root, options={})
                d.connect()
                try:
                    for stmt in sql:
                        d.execute(stmt)
                    schema = lm.dialect_snapshot(d)
                finally:
                    d.close()
            else:
                ref = self.ref
                assert ref is not None
                if isinstance(ref, PostgresTarget):
                    ref.execute("DROP SCHEMA public CASCADE", "CREATE SCHEMA public")
                else:
                    ref.drop()
                    ref.create()  # type: ignore[attr-defined]
                ref.execute(*sql)
                schema = self.snapshot_of(ref.url)
            self.references[applied] = schema
            return schema

        # -- the invariants, after every step -----------------------------------------------

        @invariant()
        @logged
        def the_ledger_never_lies(self) -> None:
            if not self.ready:
                return
            # The rule's own last read, made after its last call to mig, is fresh enough.
            before = self.seen
            obs = self.seen = self.fresh or self.observe()
            self.fresh = None
            # The audit trail only grows (a restore never takes it back).
            lost = ({e.execution_id for e in before.history}
                    - {e.execution_id for e in obs.history})
            assert not lost, f"executions {sorted(lost)} are gone from history()"
            # 1. applied set == the objects that exist (a reference database built from scratch)
            assert len(obs.applied_list) == len(obs.applied), (
                f"a migration is applied twice: {obs.applied_list}")
            expected = self.reference(obs.applied)
            assert obs.schema == expected, (
                f"the live schema is not that of the applied set {sorted(obs.applied)}:\n"
                f"  live:     {obs.schema}\n  expected: {expected}")
            # 2. dependencies of applied migrations are applied
            for mid in obs.applied:
                deps = {self.order[d - 1] for d in self.specs[mid].deps}
                assert deps <= obs.applied, (
                    f"{mid} is applied but its dependencies {sorted(deps - obs.applied)} are not")
            # 3. integrity: no problem but the attention a killed migration calls for
            must = self.attention - obs.applied
            unsure = self.attention_unsure
            others = [p for p in obs.problems
                      if not (p[0] == "attention" and p[2] in must | unsure)]
            assert not others, f"validate_database_integrity() found problems: {others}"
            assert must <= obs.attention, (
                f"{sorted(must - obs.attention)} was killed mid-way outside a transaction"
                f" but status().attention is {sorted(obs.attention)}")
            assert obs.attention <= must | unsure, (
                f"status().attention lists {sorted(obs.attention - must - unsure)}, which"
                " needs no attention")
            attention_problems = {p[2] for p in obs.problems if p[0] == "attention"}
            assert must <= attention_problems, (
                f"validate_database_integrity() does not report {sorted(must)} needing"
                f" attention: {obs.problems}")
            # 6. current version
            top = max(obs.applied, key=lambda m: self.specs[m].version, default=None)
            version = f"{self.specs[top].version:03d}" if top else None
            assert obs.current_version == version, (
                f"status().current_version is {obs.current_version!r}, the highest applied"
                f" version is {version!r}")
            assert (obs.stored_version or None) == version, (
                f"mig_schema_version says {obs.stored_version!r}, the highest applied version"
                f" is {version!r}")

        # -- checks after a step ------------------------------------------------------------

        def unchanged(self, pre: Observation, what: str) -> Observation:
            post = self.observe()
            assert post.applied == pre.applied, (
                f"{what} changed the applied set: {sorted(pre.applied)} -> {sorted(post.applied)}")
            assert post.schema == pre.schema, (
                f"{what} changed the schema:\n  before: {pre.schema}\n  after:  {post.schema}")
            assert len(post.history) == len(pre.history), (
                f"{what} recorded executions:"
                f" {post.history[:len(post.history) - len(pre.history)]}")
            return post

        def rolled_back(self, pre: Observation, post: Observation, result: list[Any],
                        what: str) -> set[str]:
            failed = [(e.migration_id, e.error_message) for e in result
                      if e.status is not MigrationStatus.COMPLETED]
            assert not failed, f"{what} failed: {failed}"
            rolled = {e.migration_id for e in result if e.operation is Operation.ROLLBACK}
            # 4. "rolled back" means the schema changed, and exactly those left the applied set
            if rolled:
                assert post.schema != pre.schema, (
                    f"{what} reported {sorted(rolled)} rolled back but the schema did not change")
            undone = pre.applied - post.applied
            assert undone <= rolled, (
                f"{what} did not report {sorted(undone - rolled)} rolled back, which it undid"
                f" (applied {sorted(pre.applied)} -> {sorted(post.applied)})")
            if not post.restores_since(pre):
                # (a restore may undo a migration's later execution and bring back its earlier
                # one: reported rolled back and still applied)
                assert rolled == undone, (
                    f"{what} reported {sorted(rolled)} rolled back, but what left the applied set"
                    f" is {sorted(undone)}"
                    f" (applied {sorted(pre.applied)} -> {sorted(post.applied)})")
            return rolled

        def settle(self, pre: Observation, post: Observation,
                   run: dict[str, str | None] | None = None) -> None:
            """Bring the model up to date after a step: pre-migration backups of what is
            applied, the attention set, whether the last thing done was a restore."""
            pb = dict(self.pre_backup)
            pb.update(run or {})
            restores = [r for r in post.restores_since(pre)
                        if self.backups.get(r.backup_id or "", ("?",))[0] != "data"]
            if restores:
                pb.update(self.backup_pre.get(restores[-1].backup_id, {}))
            self.pre_backup = {m: pb.get(m, UNKNOWN) for m in post.applied}
            moved = self.attention & post.applied
            self.attention -= moved
            self.attention_unsure |= moved
            if restores:
                self.after_restore = True
            elif post.applied - pre.applied:
                self.after_restore = False

        def new_backups(self, pre: Observation, post: Observation,
                        events: list[tuple[str, str, str, str | None]]) -> dict[str, str | None]:
            """Record the backups an up run took before its migrations: what was applied when
            each was taken. Returns {migration id: its new pre-migration backup}."""
            completed = [e[1] for e in events
                         if e[0] == "after" and e[2] == "up" and e[3] == "COMPLETED"]
            run: dict[str, str | None] = {m: None for m in completed}
            for bid, row in post.backups.items():
                if bid in pre.backups:
                    continue
                mid = row.get("migration_id")
                starts = [i for i, e in enumerate(events) if e[0] == "before" and e[1] == mid]
                done = [e[1] for e in events[: starts[0] if starts else len(events)]
                        if e[0] == "after" and e[2] == "up" and e[3] == "COMPLETED"]
                applied = pre.applied | set(done)
                self.backups[bid] = (str(row.get("backup_type")), frozenset(applied))
                then = {**self.pre_backup, **{m: run.get(m) for m in done}}
                self.backup_pre[bid] = {m: then.get(m, UNKNOWN) for m in applied}
                if mid in run:
                    run[mid] = bid
            for bid in list(self.backups):
                if bid not in post.backups:
                    del self.backups[bid]
            return run

        def resolved(self, migration_id: str, method: str | None) -> str:
            method = method or "auto"
            if method == "auto":
                return "down" if self.reversible(migration_id) else "restore"
            return method

        def refusable(self, migration_id: str, method: str | None, backups: Any) -> bool:
            """Whether rolling back ``migration_id`` alone by ``method`` may be refused."""
            if self.resolved(migration_id, method) == "down":
                return not self.reversible(migration_id)
            bid = self.pre_backup.get(migration_id, UNKNOWN)
            return bid in (None, UNKNOWN) or bid not in backups or (
                self.backups.get(bid, ("?",))[0] == "data")

        # -- applying -----------------------------------------------------------------------

        def apply(self, target: str | None, where: str | None = None, k: int = 0) -> None:
            assert self.engine is not None
            pre = self.seen
            self.faults.arm(where, k)
            crashed = False
            result: list[Any] = []
            try:
                result = self.engine.up(target)
            except lm.Crash:
                crashed = True
            except UnknownTargetError:
                self.outcome("refused")
                self.unchanged(pre, f"up({target!r})")
                return
            finally:
                fired, events = self.faults.fired, self.faults.events
                self.faults.arm(None)
            if crashed:  # the process died: its connection goes without a commit
                self.engine.close()
                self.engine = self.new_engine()
            post = self.observe()
            how = "killed" if crashed else "failed" if fired else "done"
            self.outcome(f"{how}, {len(post.applied - pre.applied)} applied",
                         f"{how}{f' at {fired[1]}' if fired else ''}:"
                         f" {[(e.migration_id, e.status.value) for e in result]},"
                         f" applied now {sorted(post.applied)}")
            run = self.new_backups(pre, post, events)
            if fired and fired[0] == "fail":
                m = fired[1]
                assert result and result[-1].migration_id == m, (
                    f"up: the failure injected into {m} is not the last execution: {result}")
                assert result[-1].status is MigrationStatus.FAILED, (
                    f"up: {m} failed but its execution says {result[-1].status}")
                assert m not in post.applied, f"up: {m} failed but is applied"
                result = result[:-1]
                # A failed retry leaves the attention an earlier killed run called for: mig
                # cannot tell what that run had committed (docs/ledger.md, "Failures").
            failed = [(e.migration_id, e.status.value, e.error_message) for e in result
                      if e.status is not MigrationStatus.COMPLETED]
            assert not failed, f"up({target!r}) failed: {failed}"
            for e in events:  # applied now: a success clears what a killed run left
                if e[0] == "after" and e[2] == "up" and e[1] in post.applied:
                    self.attention.discard(e[1])
                    self.attention_unsure.discard(e[1])
            killed_in = fired[1] if crashed and fired and fired[2] == "up" and fired[0] in (
                "before", "statement") else None
            if killed_in and not self.engine_transactional(killed_in):
                self.attention.add(killed_in)  # killed mid-way: its RUNNING row stays
                self.attention_unsure.discard(killed_in)
            self.settle(pre, post, run)

        @precondition(lambda self: on("up"))
        @rule()
        @logged
        def up(self) -> None:
            self.step("up()")
            self.apply(None)

        @precondition(lambda self: on("up_to"))
        @rule(n=PICK)
        @logged
        def up_to(self, n: int) -> None:
            targets = [*self.order, "999"]
            target = targets[n % len(targets)]
            self.step(f"up({target!r})")
            self.apply(target)

        # -- rolling back -------------------------------------------------------------------

        def roll_back(self, what: str, run: Any, predicted: list[str] | None = None,
                      method: str | None = None, cascade: bool = False,
                      where: str | None = None, k: int = 0, count: int | None = None,
                      expect: Any = None) -> None:
            assert self.engine is not None
            pre = self.seen
            self.faults.arm(where, k)
            crashed = False
            result: list[Any] = []
            try:
                result = run(self.engine)
            except lm.Crash:
                crashed = True
            except REFUSALS as exc:
                note(f"refused: {type(exc).__name__}: {exc}")
                self.outcome(f"refused ({type(exc).__name__}: {_gist(exc)})",
                             f"refused ({type(exc).__name__}: {exc})")
                self.faults.arm(None)
                self.unchanged(pre, what)
                if predicted:
                    # 5. refused only because of what the newest migration in plan order is
                    assert any(self.refusable(m, method, pre.backups) for m in predicted), (
                        f"{what} after a restore must take {predicted} (newest in plan order),"
                        f" which it could, but it was refused: {exc}")
                return
            finally:
                fired = self.faults.fired
                self.faults.arm(None)
            if crashed:
                self.engine.close()
                self.engine = self.new_engine()
            post = self.observe()
            methods = sorted({str(e.method) for e in result})
            how = "killed" if crashed else "failed" if fired else "done"
            self.outcome(f"{how}, {len(pre.applied - post.applied)} undone {methods}"
                         + (" after a restore" if predicted else ""),
                         f"{how}: {[(e.migration_id, e.method, e.status.value) for e in result]},"
                         f" applied now {sorted(post.applied)}")
            if not crashed and not (fired and fired[0] == "fail"):
                if not result:
                    self.unchanged(pre, what)
                rolled = self.rolled_back(pre, post, result, what)
                if expect is not None:
                    assert expect(post.applied), (
                        f"{what} left {sorted(post.applied)} applied")
                if count is not None and not cascade and all(
                    self.resolved(m, method) == "down" for m in pre.applied
                ):
                    assert len(rolled) == min(count, len(pre.applied)), (
                        f"{what} rolled back {sorted(rolled)} of {sorted(pre.applied)}")
                if predicted:
                    # 5. down after a restore takes the newest migrations in plan order
                    assert set(predicted) <= rolled, (
                        f"{what} after a restore must take {predicted} (newest applied in"
                        f" plan order), it rolled back {sorted(rolled)}")
                    if not cascade and all(self.resolved(m, method) == "down" for m in predicted):
                        assert rolled == set(predicted), (
                            f"{what} after a restore must take {predicted} (newest applied in"
                            f" plan order), it rolled back {sorted(rolled)}")
            elif fired and fired[0] == "fail":
                bad = [e for e in result if e.status is not MigrationStatus.COMPLETED]
                assert len(bad) == 1 and bad[-1] is result[-1], (
                    f"{what}: one failure was injected, the executions say {result}")
            self.settle(pre, post)

        def predict(self, steps: int) -> list[str] | None:
            """What ``down --steps`` must take right after a restore (None: no prediction)."""
            if not self.after_restore or not self.seen.applied:
                return None
            applied = [m for m in self.order if m in self.seen.applied]
            return applied[-steps:]

        @precondition(lambda self: on("down"))
        @rule(steps=st.integers(1, 3), method=METHODS, cascade=st.booleans())
        @logged
        def down(self, steps: int, method: str | None, cascade: bool) -> None:
            what = f"down(steps={steps}, method={method!r}, cascade={cascade})"
            self.step(what)
            self.roll_back(what, lambda e: call(e.down, steps=steps, method=method,
                                                cascade=cascade, confirm=yes),
                           self.predict(steps), method, cascade, count=steps)

        @precondition(lambda self: on("down_to"))
        @rule(n=PICK, method=METHODS, cascade=st.booleans())
        @logged
        def down_to(self, n: int, method: str | None, cascade: bool) -> None:
            applied = [m for m in self.order if m in self.seen.applied] or self.order
            target = applied[n % len(applied)]
            what = f"down({target!r}, method={method!r}, cascade={cascade})"
            self.step(what)
            later = set(self.order[self.order.index(target) + 1:])
            self.roll_back(what, lambda e: call(e.down, target, method=method, cascade=cascade,
                                                confirm=yes), None, method, cascade,
                           # down TARGET: what comes after it in plan order is undone, it stays
                           expect=lambda applied: target in applied and not applied & later)

        @precondition(lambda self: on("down_all"))
        @rule(method=METHODS, cascade=st.booleans())
        @logged
        def down_all(self, method: str | None, cascade: bool) -> None:
            what = f"down(everything=True, method={method!r}, cascade={cascade})"
            self.step(what)
            self.roll_back(what, lambda e: call(e.down, everything=True, method=method,
                                                cascade=cascade, confirm=yes),
                           None, method, cascade, expect=lambda applied: not applied)

        @precondition(lambda self: on("rollback"))
        @rule(n=PICK, method=METHODS, cascade=st.booleans())
        @logged
        def rollback(self, n: int, method: str | None, cascade: bool) -> None:
            oldest_first = list(reversed(self.seen.history))
            if not oldest_first:
                self.step("rollback (no execution yet)")
                return
            i = n % len(oldest_first)
            ex = oldest_first[i]
            what = (f"rollback(execution #{i + 1} ({ex.migration_id} {ex.operation.value}"
                    f" {ex.status.value}), method={method!r}, cascade={cascade})")
            self.step(what)
            self.roll_back(what, lambda e: call(e.rollback, ex.execution_id, method=method,
                                                cascade=cascade, confirm=yes),
                           None, method, cascade)

        # -- killed, or failing, at an instrumented step ------------------------------------

        @precondition(lambda self: on("crash"))
        @rule(where=st.sampled_from(["before", "after", "statement", "fail"]),
              k=st.integers(1, 4), op=st.sampled_from(["up", "down"]),
              steps=st.integers(1, 3), method=METHODS)
        @logged
        def crash(self, where: str, k: int, op: str, steps: int, method: str | None) -> None:
            kill = "fail" if where == "fail" else "kill"
            if op == "up":
                self.step(f"up() with a {kill} at {where} #{k}")
                self.apply(None, where, k)
            else:
                what = f"down(steps={steps}, method={method!r}) with a {kill} at {where} #{k}"
                self.step(what)
                self.roll_back(what, lambda e: call(e.down, steps=steps, method=method,
                                                    confirm=yes),
                               None, method, False, where, k)

        # -- repair -------------------------------------------------------------------------

        @precondition(lambda self: on("repair"))
        @rule(n=PICK)
        @logged
        def repair(self, n: int) -> None:
            """``repair()``: with nothing drifted and no backup deleted by hand it changes
            nothing. With a migration needing attention whose objects are all there, or none
            of them (what an operator makes true before resolving), ``repair(resolve=...)``
            makes it applied or not, as said, and clears the attention."""
            assert self.engine is not None
            pre = self.seen
            waiting = [e for e in self.engine.status().attention
                       if e.migration_id in pre.attention]
            if not waiting:
                self.step("repair()")
                rows = self.engine.repair()
                assert rows == [], f"repair() with nothing to repair wrote {rows}"
                self.outcome("nothing to do")
                self.unchanged(pre, "repair()")
                return
            ex = waiting[n % len(waiting)]
            m = ex.migration_id
            dependents = {d for d in pre.applied if d != m and m in {
                self.order[v - 1] for v in self.specs[d].deps}}
            needs = {self.order[v - 1] for v in self.specs[m].deps}
            if needs <= pre.applied and pre.schema == self.reference(pre.applied | {m}):
                how, expect = "applied", pre.applied | {m}
            elif pre.schema == self.reference(pre.applied - {m}) and not dependents:
                how, expect = "rolled-back", pre.applied - {m}
            else:  # half there: the operator would have to finish or undo it by hand first
                self.step(f"repair(resolve={m!r}) skipped")
                self.outcome("skipped: objects half there")
                return
            self.step(f"repair(resolve={m!r}, as={how!r})")
            rows = self.engine.repair(ex.execution_id, how)
            post = self.observe()
            self.outcome(f"resolved as {how}")
            assert rows and rows[0].operation is Operation.REPAIR, rows
            assert post.applied == expect, (
                f"resolved {m} as {how}: applied {sorted(pre.applied)} ->"
                f" {sorted(post.applied)}")
            assert post.schema == pre.schema, f"repair({m}) changed the schema"
            assert m not in post.attention, f"{m} still needs attention after its resolve"
            self.attention.discard(m)
            self.attention_unsure.discard(m)
            self.settle(pre, post, {m: None} if m in post.applied - pre.applied else None)

        # -- backups ------------------------------------------------------------------------

        @precondition(lambda self: on("create_backup"))
        @rule(kind=st.sampled_from(["full", "schema", "data", "incremental"]))
        @logged
        def create_backup(self, kind: str) -> None:
            assert self.engine is not None
            self.step(f"create_backup({kind!r})")
            pre = self.seen
            try:
                info = self.engine.create_backup(kind)
            except BackupError as exc:
                note(f"refused: {exc}")
                self.outcome("refused")
                self.unchanged(pre, f"create_backup({kind!r})")
                return
            self.outcome(f"done {kind}")
            self.backups[info.backup_id] = (kind, pre.applied)
            self.backup_pre[info.backup_id] = dict(self.pre_backup)
            post = self.observe()
            assert post.applied == pre.applied and post.schema == pre.schema, (
                f"create_backup({kind!r}) changed the database")

        @precondition(lambda self: on("restore_backup"))
        @rule(n=PICK)
        @logged
        def restore_backup(self, n: int) -> None:
            assert self.engine is not None
            pre = self.seen
            ids = sorted(pre.backups, key=lambda b: pre.backups[b].get("created_at") or "")
            if not ids:
                self.step("restore_backup (no backup yet)")
                return
            bid = ids[n % len(ids)]
            kind, then = self.backups.get(bid, (str(pre.backups[bid].get("backup_type")), None))
            what = (f"restore_backup(#{n % len(ids) + 1} of {len(ids)}, {kind},"
                    f" taken with {sorted(then or [])} applied)")
            self.step(what)
            try:
                call(self.engine.restore_backup, bid, confirm=yes)
            except BackupError as exc:
                note(f"refused: {exc}")
                self.outcome(f"refused {kind}")
                self.unchanged(pre, what)
                return
            post = self.observe()
            self.outcome(f"done {kind}, applied {len(pre.applied)} -> {len(post.applied)}",
                         f"done, applied now {sorted(post.applied)}")
            if kind == "data":
                assert post.applied == pre.applied and post.schema == pre.schema, (
                    f"{what}: a data-only restore changed the applied set or the schema")
            elif then is not None:
                assert post.applied == then, (
                    f"{what}: applied afterwards is {sorted(post.applied)}, when the backup was"
                    f" taken it was {sorted(then)}")
            self.settle(pre, post)

        @precondition(lambda self: on("cleanup_old_backups"))
        @rule(keep=st.integers(0, 3))
        @logged
        def cleanup_old_backups(self, keep: int) -> None:
            assert self.engine is not None
            what = f"cleanup_old_backups(keep_days=0, keep_count={keep})"
            self.step(what)
            pre = self.seen
            removed = self.engine.cleanup_old_backups(keep_days=0, keep_count=keep)
            post = self.observe()
            self.outcome(f"removed {removed}")
            gone = set(pre.backups) - set(post.backups)
            assert removed == len(gone), f"{what} says {removed} removed, {len(gone)} are gone"
            needed = {self.pre_backup.get(m) for m in pre.applied if not self.reversible(m)}
            lost = sorted(gone & needed)
            assert not lost, (
                f"{what} removed {lost}, the pre-migration backup of an applied irreversible"
                " migration")
            assert post.applied == pre.applied and post.schema == pre.schema, (
                f"{what} changed the database")
            for bid in gone:
                self.backups.pop(bid, None)

    LedgerMachine.__name__ = LedgerMachine.__qualname__ = f"LedgerMachine_{dialect}"
    return LedgerMachine


#: Seconds hypothesis may spend shrinking failures (its own default is 300): a failing CI run
#: stays within minutes; raise it (MIG_MODEL_SHRINK_SECONDS) for a smaller reproduction.
SHRINK_SECONDS = int(os.environ.get("MIG_MODEL_SHRINK_SECONDS", "60"))


def run_model(dialect: str, examples: int, steps: int, request: pytest.FixtureRequest) -> None:
    from hypothesis.internal.conjecture import engine as conjecture  # no public setting

    started = time.perf_counter()
    saved = getattr(conjecture, "MAX_SHRINKING_SECONDS", None)
    if saved is not None:
        conjecture.MAX_SHRINKING_SECONDS = SHRINK_SECONDS  # type: ignore[attr-defined]
    try:
        run_state_machine_as_test(
            machine_for(dialect),
            settings=settings(
                max_examples=examples,
                stateful_step_count=steps,
                deadline=None,
                print_blob=True,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large,
                                       HealthCheck.filter_too_much],
            ),
        )
    finally:
        if saved is not None:
            conjecture.MAX_SHRINKING_SECONDS = saved  # type: ignore[attr-defined]
        lm.SECONDS[dialect] = lm.SECONDS.get(dialect, 0.0) + time.perf_counter() - started
        # The figures travel with the test's report (from an xdist worker too); conftest.py
        # prints them at the end of the session.
        request.node.user_properties.append(("ledger_model", {
            "dialect": dialect, "steps": lm.STEPS.get(dialect, 0),
            "examples": lm.EXAMPLES.get(dialect, 0), "seconds": lm.SECONDS[dialect],
            "outcomes": lm.OUTCOMES.get(dialect, {}),
        }))


def test_the_ledger_never_lies_sqlite(request: pytest.FixtureRequest) -> None:
    run_model("sqlite", EXAMPLES, STEPS, request)


@pytest.mark.server
@pytest.mark.parametrize("dialect", ["postgres", "mysql"])
def test_the_ledger_never_lies_server(dialect: str, request: pytest.FixtureRequest) -> None:
    problem = server_problem(dialect)
    if problem is not None:
        server_unavailable(problem)
    run_model(dialect, SERVER_EXAMPLES, SERVER_STEPS, request)


def _gist(exc: BaseException) -> str:
    """The kind of a refusal, without the names in it (for the outcome counts)."""
    import re

    text = str(exc)
    text = re.sub(r"\b\d{3}_\w+", "M", text)
    text = re.sub(r"\b[0-9a-f]{12}\b|\d{8}T\d+Z-\w+", "X", text)
    return text[:70]
