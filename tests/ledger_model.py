"""Helpers of the ledger model (tests/test_ledger_model.py): generated migration sets, their
SQL per dialect, schema snapshots, reference databases built from scratch, and a plugin that
kills or fails mig at an instrumented step.

Nothing here asks mig what the database holds: snapshots and reference databases go through
the drivers directly (or through ``Dialect.schema_snapshot`` where a dialect has it).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, ClassVar

from hypothesis import strategies as st
from mig import hookimpl
from mig.protocols import Dialect

#: Rule steps run per dialect in this pytest session, printed by tests/conftest.py.
STEPS: dict[str, int] = {}
#: Hypothesis examples (fresh databases) run per dialect.
EXAMPLES: dict[str, int] = {}
#: Seconds spent per dialect.
SECONDS: dict[str, float] = {}
#: How steps ended, per dialect ("restore_backup: done", "down: refused", ...).
OUTCOMES: dict[str, dict[str, int]] = {}


def outcome(dialect: str, what: str) -> None:
    counts = OUTCOMES.setdefault(dialect, {})
    counts[what] = counts.get(what, 0) + 1


# -- generated migration sets ------------------------------------------------------------------


@dataclass(frozen=True)
class Spec:
    """One generated migration. ``kind`` is table, index, column or view; ``table`` the
    version of the table migration it works on (its own for a table); ``column`` the version
    of a column migration whose column it uses (indexes and views), if any."""

    version: int
    kind: str
    table: int
    column: int | None
    deps: tuple[int, ...]
    reversible: bool = True
    transactional: bool = True
    wrapped: bool = False  # a non-transactional migration with its own BEGIN ... COMMIT
    backup_required: bool = True

    @property
    def id(self) -> str:
        return f"{self.version:03d}_{self.kind}_{self.object}"

    @property
    def object(self) -> str:
        return {"table": "t", "index": "ix", "column": "c", "view": "v"}[self.kind] + str(
            self.version
        )

    def _repr_pretty_(self, printer: Any, cycle: bool) -> None:  # hypothesis prints this
        printer.text(repr(self))

    def __repr__(self) -> str:
        flags = "".join([
            "" if self.reversible else " irreversible",
            "" if self.transactional else (" non-tx" + (" wrapped" if self.wrapped else "")),
            "" if self.backup_required else " no-backup",
        ])
        uses = f" on t{self.table}" if self.kind != "table" else ""
        uses += f".c{self.column}" if self.column else ""
        return f"<{self.id}{uses} deps={list(self.deps)}{flags}>"


@st.composite
def migration_sets(draw: Any, dialect: str) -> tuple[Spec, ...]:
    """3-8 migrations, each creating one uniquely named object: a table (most), an index on
    an earlier table, a column added to an earlier table (at most one per table, so column
    order never depends on the order migrations ran), or a view. Dependencies: what it uses,
    plus a few random earlier ones. Dependencies only point backwards, so plan order is
    version order."""
    n = draw(st.integers(3, 8))
    specs: list[Spec] = []
    tables: list[int] = []
    columns: dict[int, int] = {}  # table version -> column migration version
    for v in range(1, n + 1):
        kind = "table"
        if tables:
            kind = draw(st.sampled_from(["table", "table", "index", "column", "view"]))
        free = [t for t in tables if t not in columns]
        if kind == "column" and not free:
            kind = "table"
        column = None
        if kind == "table":
            table = v
            uses: set[int] = set()
        elif kind == "column":
            table = draw(st.sampled_from(free))
            columns[table] = v
            uses = {table}
        else:
            table = draw(st.sampled_from(tables))
            if table in columns and draw(st.booleans()):
                column = columns[table]
            uses = {table} | ({column} if column else set())
        extra = draw(st.sets(st.integers(1, v - 1), max_size=2)) if v > 1 else set()
        reversible = draw(st.sampled_from([True, True, False]))
        transactional, wrapped = True, False
        if dialect == "sqlite":
            transactional = draw(st.sampled_from([True, True, True, True, False]))
            wrapped = not transactional and draw(st.booleans())
        backup_required = draw(st.sampled_from([True, True, True, True, True, False]))
        specs.append(Spec(v, kind, table, column, tuple(sorted(uses | extra)), reversible,
                          transactional, wrapped, backup_required))
        if kind == "table":
            tables.append(v)
    return tuple(specs)


def statements(spec: Spec, dialect: str, direction: str) -> list[str]:
    """The UP or DOWN statements of ``spec`` in ``dialect`` (empty DOWN if irreversible)."""
    t, o = f"t{spec.table}", spec.object
    if direction == "up":
        sql = {
            "table": f"CREATE TABLE {o} (id INTEGER PRIMARY KEY, note VARCHAR(100))",
            "index": f"CREATE INDEX {o} ON {t} ({f'c{spec.column}' if spec.column else 'note'})",
            "column": f"ALTER TABLE {t} ADD COLUMN {o} VARCHAR(100)",
            "view": f"CREATE VIEW {o} AS SELECT id, note"
                    f"{f', c{spec.column}' if spec.column else ''} FROM {t}",
        }[spec.kind]
    else:
        if not spec.reversible:
            return []
        sql = {
            "table": f"DROP TABLE {o}",
            "index": f"DROP INDEX {o} ON {t}" if dialect == "mysql" else f"DROP INDEX {o}",
            "column": f"ALTER TABLE {t} DROP COLUMN {o}",
            "view": f"DROP VIEW {o}",
        }[spec.kind]
    return ["BEGIN", sql, "COMMIT"] if spec.wrapped else [sql]


def migration_file(spec: Spec, dialect: str, ids: dict[int, str]) -> str:
    """The text of ``NNN_kind_object.sql`` in mig's format (``ids``: version -> id)."""
    up = "".join(s + ";\n" for s in statements(spec, dialect, "up"))
    lines = [
        f"-- @name: {spec.kind} {spec.object}",
        f"-- @type: {spec.kind}",
        f"-- @dependencies: {json.dumps([ids[d] for d in spec.deps])}",
        f"-- @reversible: {'true' if spec.reversible else 'false'}",
        f"-- @backup_required: {'true' if spec.backup_required else 'false'}",
        f"-- @transactional: {'true' if spec.transactional else 'false'}",
        "",
        "-- UP",
        up,
    ]
    if spec.reversible:
        lines += ["-- DOWN", "".join(s + ";\n" for s in statements(spec, dialect, "down"))]
    return "\n".join(lines)


# -- schema snapshots --------------------------------------------------------------------------


def canonical(value: Any) -> Any:
    """A comparable form of a JSON-like snapshot: lists become sorted lists, so the order in
    which a snapshot lists things (or columns were added) never matters."""
    if isinstance(value, dict):
        return {str(k): canonical(v) for k, v in sorted(value.items(), key=lambda kv: str(kv[0]))}
    if isinstance(value, list | tuple | set | frozenset):
        items = [canonical(v) for v in value]
        return sorted(items, key=repr)  # (dicts are canonical already: repr is stable)
    if isinstance(value, str):
        return " ".join(value.split())
    return value


def dialect_snapshot(dialect: Dialect) -> Any:
    """The dialect's normalised schema snapshot (mig's own tables left out), canonical."""
    return canonical(dialect.schema_snapshot(exclude_prefix="mig_"))




# -- killing and failing mig at an instrumented step -------------------------------------------


class Crash(BaseException):  # noqa: N818 (a kill, not an error)
    """The process was killed here: nothing after this point runs, nothing is committed."""


INJECTED = "injected failure (ledger model)"


class Faults:
    """A mig plugin: hooks that raise :class:`Crash` at the k-th ``mig_migration_before`` or
    ``mig_migration_after`` call, and an executor (``executor = "ledger_model"``) that raises
    :class:`Crash`, or a driver error as a failing statement would, at the k-th statement.
    Disarmed it only watches: ``events`` lists the hook calls of the current operation."""

    MIG_API_VERSION = 1

    def __init__(self) -> None:
        self.where: str | None = None
        self.k = 0
        self.calls = 0
        self.fired: tuple[str, str, str] | None = None  # (where, migration id, direction)
        self.events: list[tuple[str, str, str, str | None]] = []

    def arm(self, where: str | None, k: int = 0) -> None:
        """``where``: before, after, statement (all raise Crash), fail (a failing statement)."""
        self.where, self.k, self.calls, self.fired = where, k, 0, None
        self.events = []

    def tick(self, where: str, migration_id: str, direction: str) -> None:
        if self.where is None or self.fired is not None:
            return
        if where != self.where and not (where == "statement" and self.where == "fail"):
            return
        self.calls += 1
        if self.calls == self.k:
            self.fired = (self.where, migration_id, direction)
            if self.where != "fail":
                raise Crash(f"killed at {self.where} #{self.k} ({migration_id} {direction})")

    @hookimpl
    def mig_migration_before(self, ctx: Any, migration: Any, direction: str) -> None:
        self.events.append(("before", migration.id, direction, None))
        self.tick("before", migration.id, direction)

    @hookimpl
    def mig_migration_after(self, ctx: Any, migration: Any, execution: Any, direction: str) -> None:
        self.events.append(("after", migration.id, direction, str(execution.status)))
        self.tick("after", migration.id, direction)

    @hookimpl
    def mig_register_executors(self) -> list[type]:
        faults = self

        class LedgerModelExecutor:
            name: ClassVar[str] = "ledger_model"

            def __init__(self, inner: Any, *, options: Any, config: Any) -> None:
                self.inner = inner

            def execute(self, dialect: Any, statements: Any, migration: Any,
                        direction: str) -> None:
                proxy = _Instrumented(dialect, faults, self.inner, migration.id, direction)
                self.inner.execute(proxy, statements, migration, direction)

        return [LedgerModelExecutor]


class _Instrumented:
    """The dialect as the executor sees it: each statement first passes the fault point."""

    def __init__(self, dialect: Any, faults: Faults, inner: Any, migration_id: str,
                 direction: str) -> None:
        self._dialect = dialect
        self._faults = faults
        self._inner = inner
        self._where = (migration_id, direction)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._dialect, name)

    def execute(self, sql: str, params: Sequence[Any] = ()) -> None:
        faults = self._faults
        before = faults.fired
        faults.tick("statement", *self._where)
        if faults.fired is not None and before is None and faults.where == "fail":
            # What the driver raises for a statement the database rejects.
            raise self._inner.driver_errors()[0](INJECTED)
        self._dialect.execute(sql, params)

