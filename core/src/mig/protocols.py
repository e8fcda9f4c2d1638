"""The pluggable roles. Plugins register classes that subclass these through the
``mig_register_*`` hooks; each class carries a unique ``name`` that the configuration picks.

A registered dialect, backup type, storage target or rollback method subclasses its protocol
explicitly (the registries refuse one that does not): a Protocol gives the defaults of its
optional members only to the classes that subclass it (PEP 544), and the core relies on
those defaults rather than looking members up with ``getattr``."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, BinaryIO, ClassVar, Protocol, runtime_checkable

from .models import BackupInfo, Migration, MigrationExecution, Statement

if TYPE_CHECKING:
    from .backups import Backups
    from .config import Config
    from .ledger import Ledger
    from .plugins import Plugins
    from .schema import Snapshot


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
    #: :data:`mig.ledger.TABLES` (``key``, ``text``, ``timestamp``, ``bool``, ``int``, ``real``).
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

    @property
    def in_transaction(self) -> bool:
        """Whether a transaction is open on the connection."""
        ...

    def begin(self) -> None: ...

    def commit(self) -> None:
        """Commit the open transaction; an error when none is open."""
        ...

    def rollback(self) -> None:
        """Roll back the open transaction; does nothing when none is open."""
        ...

    # -- scripts: what ``mig up --sql`` writes for the database's own client -----------------

    #: The statement that opens a transaction in a script.
    begin_statement: ClassVar[str] = "BEGIN"

    def sql_literal(self, value: Any) -> str:
        """``value`` (None, bool, int, float or str) as a literal of this database's SQL, as
        its own client reads it, quoted by the driver where the driver can (the connection
        is open). The default: this dialect cannot write scripts."""
        from .errors import ConfigError

        raise ConfigError(f"the {self.name} dialect cannot write SQL scripts (--sql)")

    def script_setup(self) -> list[str]:
        """The statements a script starts with, so that the client's session is set up as
        mig's own connection is (SQLite's pragmas, PostgreSQL's schema). Default: none."""
        return []

    def script_command(self, script: str) -> str | None:
        """The shell command that runs the file ``script`` with the database's own client
        and stops at the first error (for the script's header); None when there is none."""
        return None

    def script_statement(self, sql: str) -> str:
        """One statement as the client reads it from a script, line end included. The
        default ends it with ``;`` (on a line of its own after a trailing ``--`` comment)."""
        sql = sql.rstrip()
        last = sql.rpartition("\n")[2]
        return f"{sql}\n;\n" if "--" in last else f"{sql};\n"

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

    def schema_snapshot(self, exclude_prefix: str = "mig_") -> Snapshot:
        """The user schema as a normalised, JSON-serialisable structure (see
        :mod:`mig.schema`): tables (columns, keys, checks), indexes, views, triggers and, where
        the dialect has them, sequences and enums, leaving out tables whose names start with
        ``exclude_prefix`` (mig's own) and what belongs to them. Read-only; the same schema
        always gives the same snapshot."""
        ...

    def table_stats(self, exclude_prefix: str = "mig_",
                    reuse: Mapping[str, list[Any]] | None = None) -> dict[str, list[Any]] | None:
        """A cheap fingerprint of each user table's contents (row count and highest rowid on
        SQLite, write counters on a server), recorded with every backup so that a restore can
        say which tables were written since. Values are only compared for equality; a table
        whose values differ was (probably) written. A dialect whose figures cost a scan may
        take those of the tables in ``reuse`` from it as they are (the figures of an earlier
        backup of the same run: a table written since then is then named as written, which
        errs on the side of warning). None when the dialect cannot tell cheaply, the
        default."""
        return None

    def backup_handler(self, backup_type: str) -> BackupHandler | None:
        """How this dialect makes and restores backups of the type named ``backup_type``
        (``full``, ``schema``, ...), or None when it has no support for that type.

        Everything a dialect knows lives with it, its backup mechanics included: a backup type
        plugin registers the type's name and hands each backup and restore to the handler the
        database's dialect returns here (see :class:`mig.backup_types.PerDialectStrategy`).
        The default offers none."""
        return None

    def scratch(self, name: str | None = None) -> AbstractContextManager[str]:
        """A new, empty database of this kind, for work that must never touch this one
        (``mig test``, ``mig diff``): yields its URL and removes it on exit, also after an
        error. SQLite: a file in a temporary folder; a server: a database created on the
        same server with the same credentials, named ``name`` or, by default, after this
        database with a random suffix. The default: not supported."""
        from .errors import DatabaseError

        raise DatabaseError(f"the {self.name} dialect cannot make a scratch database")

    def leftovers(self) -> list[Path]:
        """Files that killed restores of this database left behind (temporary copies beside
        it, with their sidecars), for ``mig check``, ``mig backup list`` and
        ``mig backup prune``. Without the migration lock, a file may belong to a restore that
        is still running. The default: none (a dialect that restores inside the server)."""
        return []

    def remove_leftovers(self) -> None:
        """Remove every file :meth:`leftovers` lists. The caller holds the migration lock, so
        no restore of this database is running. The default does nothing."""
        return None


@runtime_checkable
class Executor(Protocol):
    """Runs a migration's statements on a connection inside whatever transaction the engine
    opened. It must not commit or roll back. On failure it raises
    :class:`mig.errors.StatementFailed` (or lets the driver's error through)."""

    def execute(
        self,
        dialect: Dialect,
        statements: Sequence[Statement],
        migration: Migration,
        direction: str,
    ) -> None: ...


class ExecutorFactory(Protocol):
    """A registered executor: made from the executor it wraps (the dialect's own), its
    ``[mig.options.<name>]`` table and the whole configuration (for ``base_dir`` and the
    like). Usually the class itself, with ``name`` as a class attribute."""

    @property
    def name(self) -> str:
        """The name ``executor`` in the configuration picks (a class attribute will do)."""
        ...

    def __call__(
        self, inner: Executor, *, options: Mapping[str, Any], config: Config
    ) -> Executor: ...


@dataclass
class Context:
    """What the engine hands to rollback methods, backup types and integrity checks."""

    dialect: Dialect
    #: The bookkeeping tables, for reading (only the core's run loop and backup service
    #: write them, through the ledger's transitions).
    ledger: Ledger
    plugins: Plugins
    config: Any
    #: ``split(migration, "up" | "down")``: that section's statements for this dialect.
    split: Callable[[Migration, str], list[Statement]]
    executor: Executor
    #: The backup service (:class:`mig.backups.Backups`): ``get``, ``verify``, ``restore``.
    backups: Backups


@dataclass(frozen=True)
class UndoEffect:
    """What one rollback step does to the in-effect set: the execution ids it undoes (the
    root included) and those it puts back in effect (a restore of an older state)."""

    undone: frozenset[str]
    reinstated: frozenset[str] = frozenset()


@runtime_checkable
class RollbackMethod(Protocol):
    """A way to undo applied migrations (``down``, ``restore``)."""

    name: ClassVar[str]
    #: True when :meth:`undo` runs inside the run loop's transaction, which also records the
    #: rollback; False when the method makes its change, and records it, atomically itself.
    transactional: ClassVar[bool]
    #: True when undoing puts back an older copy of the database (the execution's backup), so
    #: that whatever was written since is lost: the core then names the backup, its age, what
    #: it undoes and the tables written since, and asks before it runs.
    discards_data: ClassVar[bool] = False
    #: True when :meth:`undo` does nothing but run SQL through ``ctx.executor`` on
    #: ``ctx.dialect``, so that ``mig down --sql`` can write it into a script.
    scriptable: ClassVar[bool] = False

    def refuse_reason(self, ctx: Context, migration: Migration, execution: MigrationExecution) -> (
        str | None
    ):
        """Why this method cannot undo ``execution``, or None when it can."""
        ...

    def effect(
        self, ctx: Context, execution: MigrationExecution,
        in_effect: Mapping[str, MigrationExecution],
    ) -> UndoEffect:
        """What undoing ``execution`` by this method does to the executions in effect
        (``in_effect``, by id), to plan a rollback before anything changes."""
        ...

    def undo(
        self, ctx: Context, migration: Migration, execution: MigrationExecution, run_id: str
    ) -> list[MigrationExecution] | None:
        """Undo ``execution``. A transactional method runs inside the run loop's transaction
        and returns None (the loop records the rollback). Otherwise the method records what it
        did through the core (``ctx.backups.restore``) and returns the rollback rows written,
        each of run ``run_id``."""
        ...


@runtime_checkable
class StorageTarget(Protocol):
    """Where backups live. Objects are named by keys such as ``<backup id>/data`` and
    ``<backup id>/manifest.json``; a target keeps what it stores readable by its owner only."""

    name: ClassVar[str]

    def __init__(self, location: Path, *, options: Mapping[str, Any]) -> None:
        """``location`` is the configured ``backups_dir``; ``options`` the target's
        ``[mig.options.<name>]`` table."""
        ...

    def put(self, key: str, source: Path) -> None:
        """Store the local file ``source`` under ``key``, all or nothing. ``source`` is the
        target's to take: it may be moved rather than copied."""
        ...

    def open(self, key: str) -> BinaryIO:
        """A readable binary stream of the object; :class:`FileNotFoundError` if missing."""
        ...

    def local_path(self, key: str) -> Path | None:
        """The object as a local file that may be read in place, or None when it must be
        fetched through :meth:`open`."""
        ...

    def delete(self, key: str) -> None:
        """Remove the object; missing objects are not an error."""
        ...

    def keys(self, prefix: str = "") -> Iterator[str]:
        """Every stored key starting with ``prefix``."""
        ...

    def describe(self, key: str) -> str:
        """A human-readable location of ``key`` (a path or URL) for messages and listings."""
        ...


@dataclass
class BackupJob:
    """What a backup strategy gets to write one backup."""

    #: The backup being made: id, type, migration and creation time are filled in;
    #: ``parent_id`` holds the previous backup of the chain for chained types (the strategy
    #: may set it to None to start a new chain).
    info: BackupInfo
    #: An empty private folder: every file written here becomes one part of the backup,
    #: named by its file name. The part named ``data`` is the one ``checksum`` describes.
    workdir: Path
    #: The parent backup (chained types only), or None.
    parent: BackupInfo | None
    #: ``fetch(backup, part)``: a verified local file holding a part of an earlier backup.
    fetch: Callable[[BackupInfo, str], Path]
    #: Strategy-specific facts to keep in the manifest (small, JSON-serialisable).
    extra: dict[str, Any] = field(default_factory=dict)


@dataclass
class RestoreJob:
    """What a backup strategy gets to restore one backup (already verified, chain and all)."""

    #: Base first, the backup being restored last (one element for unchained types).
    chain: list[BackupInfo]
    #: ``fetch(backup, part)``: a verified local file holding a part of a backup of the chain.
    fetch: Callable[[BackupInfo, str], Path]
    #: ``finish(dialect)`` writes mig's bookkeeping into ``dialect``'s connection, inside the
    #: caller's open transaction. A strategy calls it inside its own final atomic step (the
    #: transaction that replaces rows, or on a temporary database before it is renamed into
    #: place) so the restore and its audit trail land together; otherwise the core calls it
    #: after :meth:`BackupStrategy.restore` returns.
    finish: Callable[[Dialect], None]
    finished: bool = False


@runtime_checkable
class BackupHandler(Protocol):
    """What a dialect offers for one backup type (see :meth:`Dialect.backup_handler`): how
    a backup of that type is made and restored on that dialect's databases."""

    #: True when :meth:`restore` always calls ``job.finish`` inside its final atomic step,
    #: before any change to the database becomes visible, and changes nothing when
    #: ``finish`` raises (see :meth:`BackupStrategy.calls_finish`).
    finishes_atomically: ClassVar[bool] = False

    def create(self, ctx: Context, job: BackupJob) -> None:
        """Write the backup's parts into ``job.workdir`` (see
        :meth:`BackupStrategy.create`)."""
        ...

    def restore(self, ctx: Context, job: RestoreJob) -> None:
        """Bring the database to the state saved in ``job.chain[-1]`` (see
        :meth:`BackupStrategy.restore`)."""
        ...


@runtime_checkable
class BackupStrategy(Protocol):
    """One backup type (``full``, ``schema``, ``data``, ``incremental``, or a third party's).

    Classes registered as backup types subclass this protocol explicitly, so that they get
    the defaults of its optional members (``keeps_schema``, ``calls_finish``).
    """

    name: ClassVar[str]
    #: True when a backup of this type builds on the previous one of its chain.
    chained: ClassVar[bool]
    #: True when a restore of this type keeps the database's schema as it is (data-only):
    #: restoring it then undoes no migration, and the applied ones stay applied.
    keeps_schema: ClassVar[bool] = False

    def calls_finish(self, dialect: Dialect) -> bool:
        """True when this type's restore on ``dialect`` always calls ``job.finish`` before any
        change to the database becomes visible and changes nothing when ``finish`` raises.
        The core then verifies the backup's checksums while the restore copies, and
        ``finish`` raises :class:`mig.BackupError` for a damaged backup. Otherwise (the
        default) the backup is verified before the restore starts."""
        return False

    def create(self, ctx: Context, job: BackupJob) -> None:
        """Write the backup's parts into ``job.workdir``. Raise :class:`mig.BackupError` when
        the database's dialect is not supported or the backup cannot be made."""
        ...

    def restore(self, ctx: Context, job: RestoreJob) -> None:
        """Bring the database to the state saved in ``job.chain[-1]``, atomically where the
        dialect allows, calling ``job.finish`` in the same atomic step (see
        :class:`RestoreJob`). The database must be unchanged if this raises."""
        ...
