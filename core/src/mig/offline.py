"""Offline scripts: ``mig up --sql`` and ``mig down --sql``.

The run loop runs exactly as for ``mig up`` / ``mig down`` (:class:`mig.runner.Runner`, the
same steps, the same ledger transitions), against a :class:`Recorder` in place of the
connected dialect: every statement the run would execute, the ledger's own included, is
written into the script instead, its parameters as the database's literals. Reads go to the
real database, which nothing writes to. The ledger reads what its transitions need before the
first recorded write (:meth:`mig.ledger.Ledger.prime`), so sequence numbers, metadata rows and
the schema version come out as the run itself would write them.

What a script cannot do: take backups (none are taken, and the rows name none, as with
``backup = "none"``), restore one (``down --sql`` undoes by DOWN SQL only), and record the
schema after the run (unknown until the script has run; the next mig command that runs
migrations records it). See docs/guide.md, "Offline scripts".
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping, Sequence
from contextlib import AbstractContextManager, contextmanager, nullcontext
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any, ClassVar

from .config import NO_BACKUP
from .database import Database
from .errors import DatabaseError, MigError, MigrationFailed
from .ledger import Ledger, now
from .models import MigrationStatus
from .plugins import Plugins
from .protocols import Context, Dialect, Executor
from .runner import Apply, Runner, Undo

if TYPE_CHECKING:
    from .backups import Backups
    from .engine import MigrationEngine
    from .models import MigrationExecution
    from .schema import Snapshot

#: Where each paramstyle marks a parameter (``%%`` is a ``%`` once parameters are bound).
_MARKS = {"qmark": re.compile(r"\?"), "format": re.compile(r"%[s%]")}


class ScriptRefused(MigError):
    """What was asked cannot be written as a script (a restore, a fleet)."""

    exit_code = 2


class Recorder(Dialect):
    """Stands in for a connected dialect during a scripted run: writes are recorded, reads
    go to the real database (``reads``), which is connected and never written to."""

    name: ClassVar[str] = "recorder"
    schemes: ClassVar[tuple[str, ...]] = ()
    paramstyle: ClassVar[str] = "qmark"
    transactional_ddl: ClassVar[bool] = True
    column_types: ClassVar[Mapping[str, str]] = {}

    def __init__(self, real: Dialect, reads: Dialect) -> None:
        self.real = real
        self.reads = reads
        self.statements: list[str] = []
        self._open = False
        self._marks = _MARKS[real.paramstyle]

    def display_url(self) -> str:
        return self.real.display_url()

    def exists(self) -> bool:
        return True

    def connect(self, *, readonly: bool = False) -> None:
        pass

    def close(self) -> None:
        pass

    def render(self, sql: str, params: Sequence[Any] = ()) -> str:
        """``sql`` with its parameters as literals (the ledger's SQL, the only SQL that has
        parameters, holds no ``?`` inside its own literals)."""
        if not params:
            return sql
        values = iter(params)

        def literal(mark: re.Match[str]) -> str:
            return "%" if mark.group() == "%%" else self.reads.sql_literal(next(values))

        text = self._marks.sub(literal, sql)
        if next(values, _MARKS) is not _MARKS:
            raise ValueError(f"more parameters than placeholders in {sql!r}")
        return text

    def execute(self, sql: str, params: Sequence[Any] = ()) -> None:
        self.statements.append(self.real.script_statement(self.render(sql, params)))

    def executemany(self, sql: str, rows: Sequence[Sequence[Any]]) -> None:
        for row in rows:
            self.execute(sql, row)

    def query(self, sql: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        return self.reads.query(sql, params)

    def table_names(self) -> list[str]:
        return self.reads.table_names()

    @property
    def in_transaction(self) -> bool:
        return self._open

    def begin(self) -> None:
        self.statements.append(self.real.script_statement(self.real.begin_statement))
        self._open = True

    def commit(self) -> None:
        self.statements.append(self.real.script_statement("COMMIT"))
        self._open = False

    def rollback(self) -> None:
        if self._open:
            self.statements.append(self.real.script_statement("ROLLBACK"))
        self._open = False

    def lock(self, timeout: float) -> AbstractContextManager[None]:
        return nullcontext()  # nothing is written: the script takes no lock either

    def executor(self) -> Executor:
        return self.real.executor()

    def schema_snapshot(self, exclude_prefix: str = "mig_") -> Snapshot:
        # The schema after the run is not known until the script has run, so the run loop
        # records none (it records nothing for a dialect that cannot take snapshots).
        raise NotImplementedError


class _ScriptDatabase(Database):
    """The run loop's :class:`Database` on the recorder: "connecting" read-write only makes
    the ledger's missing tables, into the script."""

    def __init__(self, recorder: Recorder, ledger: Ledger) -> None:
        super().__init__(recorder, ledger.prefix)
        self._ledger = ledger

    def reconnect(self) -> Ledger:
        self._mode = "rw"
        assert self._ledger is not None
        return self._ledger

    def abort(self) -> None:
        # A step failed: the run loop records the failure, then the session refuses to write
        # a script; the ledger keeps its primed contents (nothing real was rolled back).
        self.dialect.rollback()

    @contextmanager
    def lock(self, timeout: float) -> Iterator[None]:
        yield

    def close(self) -> None:
        self._mode = None


@dataclass
class Session:
    """A scripted run's state: the recorder, the primed ledger, what the header says."""

    engine: MigrationEngine
    recorder: Recorder
    ledger: Ledger
    #: The ledger as it was: (current version, last seq), or None when it does not exist.
    state: tuple[str | None, int] | None
    setup: list[str] = field(default_factory=list)

    def run(self, steps: Sequence[Apply] | Sequence[Undo]) -> list[MigrationExecution]:
        """Run ``steps`` through the run loop, recording; a step that would fail is an error
        (no script is written for a run that fails)."""
        eng = self.engine
        db = _ScriptDatabase(self.recorder, self.ledger)
        db.writer()  # as `mig up` does under its lock: the ledger's tables, if missing
        if not steps:
            return []
        backups: Backups = eng.backups()  # (never asked for a backup: the steps take none)
        ctx = Context(dialect=self.recorder, ledger=self.ledger, plugins=eng.plugins,
                      config=eng.config, split=eng.split, executor=eng.executor,
                      backups=backups)
        # Nothing runs, so no plugin hears about migrations (an unloaded, empty manager).
        done = Runner(ctx, db, Plugins(autoload=False), eng.backups).run(list(steps))
        failed = [e for e in done if e.status is not MigrationStatus.COMPLETED]
        if failed:
            raise MigrationFailed(f"{failed[-1].migration_id} would fail:"
                                  f" {failed[-1].error_message}; no script was written")
        return done

    def script(self, command: str, done: list[MigrationExecution]) -> str:
        """The header comment, the session setup and the recorded statements."""
        from . import __version__

        real = self.recorder.real
        if self.state is None:
            was = "no ledger yet (the script creates it)"
        else:
            was = f"version {self.state[0] or '(none)'}, last execution seq {self.state[1]}"
        how = real.script_command(f"{command}.sql")
        lines = [
            f"mig {command} --sql: generated by mig {__version__} at {now()} (UTC)",
            f"for {real.display_url()}",
            f"from the ledger as it was then: {was}",
            f"{len(done)} migration(s): {', '.join(e.migration_id for e in done) or 'none'}",
            "",
            "Run it with the database's own client, stopping at the first error:",
            f"  {how}" if how else "  (this dialect names no client)",
            "It takes no lock: run it, once, against the database in exactly the state it was",
            "generated from, while no mig command runs. It takes no backups. The ledger rows",
            "carry the times of generation. The schema after the run is not recorded (mig",
            "check compares with it): the next mig command that runs migrations records it.",
        ]
        header = "".join(f"-- {line}".rstrip() + "\n" for line in lines)
        body = [real.script_statement(s) for s in self.setup] + self.recorder.statements
        return header + "\n" + "".join(body)


@contextmanager
def session(engine: MigrationEngine) -> Iterator[Session]:
    """A scripted run on the engine's database, read-only: connected read-only when the
    database exists or a read-only connection can be had (a PostgreSQL schema not made yet
    reads as empty), else reads answered by an empty scratch database of its kind (a SQLite
    file that the client will create)."""
    real = engine.dialect
    if real.exists():
        engine.db.reader()  # connects read-only
        yield _session(engine, real, real)
        return
    try:
        real.connect(readonly=True)
    except DatabaseError:
        pass
    else:
        try:
            yield _session(engine, real, real)
        finally:
            real.close()
        return
    with real.scratch() as url:
        config = replace(engine.config, database=url, backup=NO_BACKUP)
        reads = engine.plugins.dialect(config)
        reads.connect()
        try:
            yield _session(engine, real, reads)
        finally:
            reads.close()


def _session(engine: MigrationEngine, real: Dialect, reads: Dialect) -> Session:
    # The recorder speaks the real dialect's SQL: its paramstyle, column types, BEGIN.
    kind = type(f"{type(real).__name__}Recorder", (Recorder,), {
        "name": real.name, "schemes": real.schemes, "paramstyle": real.paramstyle,
        "transactional_ddl": real.transactional_ddl, "column_types": real.column_types,
        "begin_statement": real.begin_statement,
    })
    recorder: Recorder = kind(real, reads)
    ledger = Ledger(recorder, engine.config.table_prefix)
    ledger.actor = engine.actor
    state = (ledger.current_version(), ledger.last_seq()) if ledger.exists() else None
    ledger.prime()
    return Session(engine, recorder, ledger, state, real.script_setup())
