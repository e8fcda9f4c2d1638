"""The pluggable roles. Plugins register classes that satisfy these through the
``mig_register_*`` hooks; each class carries a unique ``name`` that the configuration picks."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar, Protocol, runtime_checkable

from .models import BackupInfo, Migration, MigrationExecution, Statement

if TYPE_CHECKING:
    from .history import History
    from .plugins import Plugins


@runtime_checkable
class Dialect(Protocol):
    """A database kind: how to connect, run SQL, lock, and store mig's bookkeeping.

    A dialect object is made for one database URL and holds at most one connection. The engine
    drives transactions explicitly with ``begin``/``commit``/``rollback``; outside them the
    connection is in autocommit mode.
    """

    name: ClassVar[str]
    #: URL schemes this dialect accepts, e.g. ``("sqlite",)``.
    schemes: ClassVar[tuple[str, ...]]
    #: DB-API paramstyle of ``execute``/``query``: ``"qmark"`` (``?``) or ``"format"`` (``%s``).
    paramstyle: ClassVar[str]
    #: True when DDL statements take part in transactions (SQLite, PostgreSQL).
    transactional_ddl: ClassVar[bool]
    #: Column types for the bookkeeping tables, keyed by the abstract types of
    #: :data:`mig.history.TABLES` (``key``, ``text``, ``timestamp``, ``bool``, ``int``, ``real``).
    column_types: ClassVar[Mapping[str, str]]

    def __init__(self, url: str, *, base_dir: Path, options: Mapping[str, Any]) -> None: ...

    def display_url(self) -> str:
        """The URL with any password masked, for messages."""
        ...

    def exists(self) -> bool:
        """Whether the database exists already (without creating it)."""
        ...

    def connect(self, *, readonly: bool = False) -> None:
        """Open the connection; ``readonly`` must not create or change anything."""
        ...

    def close(self) -> None: ...

    def execute(self, sql: str, params: Sequence[Any] = ()) -> None: ...

    def query(self, sql: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]: ...

    def executemany(self, sql: str, rows: Sequence[Sequence[Any]]) -> None: ...

    def begin(self) -> None: ...

    def commit(self) -> None: ...

    def rollback(self) -> None: ...

    def lock(self, timeout: float) -> AbstractContextManager[None]:
        """Hold the migration lock for this database; raise :class:`mig.LockTimeout` after
        ``timeout`` seconds. A lock left by a dead process must not block for ever."""
        ...

    def table_names(self) -> list[str]:
        """Every table in the database (user and bookkeeping)."""
        ...

    def executor(self) -> Executor:
        """The dialect's own executor for migration statements."""
        ...


@runtime_checkable
class Executor(Protocol):
    """Runs a migration's statements on a connection inside whatever transaction the engine
    opened. It must not commit or roll back. On failure it raises
    :class:`mig.errors.StatementFailed` (or lets the driver's error through)."""

    def execute(
        self, dialect: Dialect, statements: Sequence[Statement], migration: Migration, direction: str
    ) -> None: ...


class ExecutorFactory(Protocol):
    """A registered executor: made from the executor it wraps (the dialect's own, or another
    wrapper) and its ``[mig.options.<name>]`` table."""

    name: ClassVar[str]

    def __call__(self, inner: Executor, options: Mapping[str, Any]) -> Executor: ...


@dataclass
class Context:
    """What the engine hands to rollback methods, backup types and integrity checks."""

    dialect: Dialect
    history: History
    plugins: Plugins
    config: Any
    #: ``split(migration, "up" | "down")``: that section's statements for this dialect.
    split: Callable[[Migration, str], list[Statement]]
    executor: Executor
    extras: dict[str, Any] = field(default_factory=dict)


@runtime_checkable
class RollbackMethod(Protocol):
    """A way to undo applied migrations (``down``, ``restore``)."""

    name: ClassVar[str]

    def refuse_reason(self, ctx: Context, migration: Migration, execution: MigrationExecution) -> (
        str | None
    ):
        """Why this method cannot undo ``execution``, or None when it can."""
        ...

    def affected(
        self, ctx: Context, execution: MigrationExecution, applied: Sequence[MigrationExecution]
    ) -> list[MigrationExecution]:
        """Every applied execution that undoing ``execution`` also undoes, newest first,
        ``execution`` included (``applied`` is in application order)."""
        ...

    def undo(self, ctx: Context, migration: Migration, execution: MigrationExecution) -> None:
        """Undo ``execution``. Called inside the engine's transaction when
        ``transactional`` is true, otherwise outside any transaction."""
        ...

    transactional: ClassVar[bool]


@runtime_checkable
class StorageTarget(Protocol):
    """Where backup files and their manifests live. Keys are relative names like
    ``20261126T051000Z-full.db``; a target keeps its objects owner-only."""

    name: ClassVar[str]

    def __init__(self, location: str, *, base_dir: Path, options: Mapping[str, Any]) -> None: ...

    def put(self, key: str, source: Path) -> None:
        """Store ``source`` under ``key`` atomically (all or nothing)."""
        ...

    def get(self, key: str, dest: Path) -> None:
        """Copy the object ``key`` to the local file ``dest``."""
        ...

    def delete(self, key: str) -> None: ...

    def keys(self) -> Iterator[str]: ...

    def exists(self, key: str) -> bool: ...

    def describe(self, key: str) -> str:
        """A human-readable location of ``key`` (a path or URL)."""
        ...


@runtime_checkable
class BackupStrategy(Protocol):
    """One backup type (``full``, ``schema``, ``data``, ``incremental``)."""

    name: ClassVar[str]

    def create(self, ctx: Context, storage: StorageTarget, info: BackupInfo) -> BackupInfo:
        """Write the backup described by ``info`` (id, type, migration filled in) to
        ``storage`` and return it completed (path, size, checksum, parent)."""
        ...

    def restore(self, ctx: Context, storage: StorageTarget, info: BackupInfo) -> None:
        """Bring the database back to the state saved in ``info`` (already verified)."""
        ...
