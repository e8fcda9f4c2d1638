"""Hook specifications: everything a plugin can add to or change in mig.

Hooks are grouped by area and named ``mig_<area>_<verb>``. Each docstring says when the hook is
called, what it receives and returns, how the results of several plugins combine, and the plugin
API version that introduced it. Plugins implement them with :data:`mig.hookimpl`.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pluggy

if TYPE_CHECKING:
    import typer

    from .config import Config
    from .models import Migration, MigrationExecution, Problem, Statement
    from .protocols import (
        BackupStrategy,
        Context,
        Dialect,
        ExecutorFactory,
        RollbackMethod,
        StorageTarget,
    )

#: Version of the hook API described here. A plugin declares the version it was written for
#: as ``MIG_API_VERSION`` in the module its entry point names; one outside
#: ``MIN_API_VERSION``..``API_VERSION`` is refused at load with a message naming it.
API_VERSION = 1
MIN_API_VERSION = 1

hookspec = pluggy.HookspecMarker("mig")
hookimpl = pluggy.HookimplMarker("mig")


# -- configuration ----------------------------------------------------------------------------


@hookspec
def mig_config_loaded(config: Config) -> None:
    """Called once after the configuration is loaded and validated, before any database work.

    ``config.options`` holds the free-form ``[mig.options.<name>]`` tables; a plugin reads its
    own and raises :class:`mig.ConfigError` for a bad value. Return values are ignored.
    Since API 1.
    """


# -- parsing ----------------------------------------------------------------------------------


@hookspec(firstresult=True)
def mig_parse_migration(path: Path, text: str) -> Migration | None:
    """Parse one file of the migrations folder into a :class:`mig.Migration`.

    Called for every file of the migrations folder (hidden files excepted), in name order.
    Return None when the file is not of your format so the next parser is asked; raise
    :class:`mig.MigrationFileError` (naming the line) when it is yours but malformed.
    Stops at the first non-None result. Since API 1.
    """


@hookspec(firstresult=True)
def mig_parse_split(
    sql: str, dialect: str, first_line: int, path: Path | None
) -> list[Statement] | None:
    """Split a section of SQL into statements for ``dialect`` (a dialect name).

    ``first_line`` is the line of ``path`` the section starts on, so each
    :class:`mig.Statement` can say where it begins. Statements come without their closing
    semicolon; comment-only text yields none. Raise :class:`mig.MigrationFileError` (naming
    ``path`` and the line) for an unterminated string, quoted name, comment or body.
    Stops at the first non-None result; a dialect plugin may implement it with ``tryfirst``
    to take over splitting for its own dialect. Since API 1.
    """


# -- resolution -------------------------------------------------------------------------------


@hookspec(firstresult=True)
def mig_resolve_order(migrations: Sequence[Migration]) -> list[Migration] | None:
    """Order ``migrations`` so every migration comes after its dependencies.

    The core's resolver (networkx, lowest version first among those free at the same time)
    runs ``trylast``; a plugin may return another order. Raise :class:`mig.DependencyError`
    naming the files of a cycle or an unknown dependency. Stops at the first non-None result.
    Since API 1.
    """


# -- dialects and executors -------------------------------------------------------------------


@hookspec
def mig_register_dialects() -> list[type[Dialect]]:
    """Return dialect classes, each a subclass of :class:`mig.protocols.Dialect`.

    Called once when a database URL is first resolved. Results are collected from every
    plugin; the URL's scheme picks the dialect; two dialects claiming one scheme, and a class
    that does not subclass the protocol, are refused. Since API 1.
    """


@hookspec
def mig_register_executors() -> list[ExecutorFactory]:
    """Return executor factories (see :class:`mig.protocols.ExecutorFactory`).

    An executor wraps the dialect's own one (for logging, timing, policies); ``executor`` in
    the configuration picks one by ``name``. Collected; duplicate names are refused.
    Since API 1.
    """


# -- backups and storage ----------------------------------------------------------------------


@hookspec
def mig_register_backup_types() -> list[type[BackupStrategy]]:
    """Return backup strategy classes, each a subclass of
    :class:`mig.protocols.BackupStrategy`, one per backup type name (``full``, ``schema``,
    ``data``, ``incremental`` or your own).

    Collected; duplicate names, and classes that do not subclass the protocol, are refused.
    Since API 1.
    """


@hookspec
def mig_register_storage_targets() -> list[type[StorageTarget]]:
    """Return storage target classes, each a subclass of
    :class:`mig.protocols.StorageTarget`.

    ``storage`` in the configuration picks one by ``name`` (default ``local``). Collected;
    duplicate names, and classes that do not subclass the protocol, are refused. Since API 1.
    """


# -- rollback ---------------------------------------------------------------------------------


@hookspec
def mig_register_rollback_methods() -> list[type[RollbackMethod]]:
    """Return rollback method classes, each a subclass of
    :class:`mig.protocols.RollbackMethod`.

    ``--method`` and ``rollback`` in the configuration pick one by ``name``; ``auto`` is the
    core's choice of ``down`` where a migration is reversible and ``restore`` otherwise.
    Collected; duplicate names, and classes that do not subclass the protocol, are refused.
    Since API 1.
    """


# -- integrity --------------------------------------------------------------------------------


@hookspec
def mig_integrity_check(ctx: Context) -> list[Problem] | None:
    """Check the database behind ``ctx.dialect`` and return the problems found.

    Called by ``mig check`` and ``validate_database_integrity()`` outside any transaction. A
    check for another dialect returns None. Every plugin's problems are collected and
    concatenated; an empty list means the check passed. Must not change the database.
    Since API 1.
    """


# -- commands, lint rules, folder formats and fleets -----------------------------------------


@hookspec
def mig_cli_commands(app: typer.Typer) -> None:
    """Add commands to the ``mig`` command line: register them on ``app`` with
    ``@app.command()`` (or ``app.add_typer`` for a group). Called only when the command line
    needs the plugins' commands (``mig --help``, or a command the core does not have), so a
    plugin's module should import heavy libraries inside its commands, not at the top.
    Names must not clash with the core's commands or another plugin's. Since API 1.
    """


@hookspec
def mig_register_lint_rules() -> list[Any]:
    """Return lint rules for ``mig lint`` (each an instance or class following the rule
    protocol of the ``mig-lint`` distribution, with a unique ``id``). Collected from every
    plugin. Since API 1.
    """


@hookspec(firstresult=True)
def mig_load_migrations(directory: Path, format: str) -> list[Migration] | None:
    """Read a whole migrations folder written for another tool (``format`` is the
    configuration's ``migrations_format``, e.g. ``"golang-migrate"``, or ``"auto"``), when
    one file is not one migration (``.up.sql``/``.down.sql`` pairs). Return None when the
    format is not yours, so the next plugin (and finally mig's own per-file parsing,
    :func:`mig_parse_migration`) is asked. Migrations come in any order; the core orders them.
    A migration whose format splits statements by rules of its own (goose's
    ``StatementBegin``/``End``) sets ``up_statements``/``down_statements``; mig splits
    each of those pieces (a block may hold several statements) instead of the sections.
    A ``transactional_hint`` in a migration's ``metadata`` says, in the format's own words,
    how its file runs outside a transaction (mig's errors say it instead of
    ``set @transactional: false``); a ``split_hint``, what to do when one of those pieces is
    not whole statements. Stops at the first non-None result. Since API 1.
    """


@hookspec
def mig_register_fleet_runners() -> list[Any]:
    """Return runner classes that run one job per target of a fleet (``mig --targets ...``):
    threads or processes on this machine, or a distributed engine. Each subclasses
    :class:`mig.fleet.FleetRunner` and has a unique ``name`` picked by ``--runner``
    (``threads``, the core's, is the default); it is made with its options (the config's
    ``[mig.options.fleet_<name>]`` table, ``cluster`` from ``--cluster``) and its ``run``
    yields a :class:`mig.fleet.TargetResult` per job, each job run by
    :func:`mig.fleet.run_job` wherever the runner likes. Collected from every plugin;
    duplicate names, and classes that do not subclass ``FleetRunner``, are refused.
    Since API 1.
    """


# -- lifecycle events -------------------------------------------------------------------------


@hookspec
def mig_migration_before(ctx: Context, migration: Migration, direction: str) -> None:
    """Called just before a migration is applied (``direction="up"``) or rolled back
    (``"down"``), inside its transaction when it has one. Raising aborts that migration as a
    failure. Return values are ignored. Since API 1.
    """


@hookspec
def mig_migration_after(
    ctx: Context, migration: Migration, execution: MigrationExecution, direction: str
) -> None:
    """Called after a migration was applied or rolled back, or failed (see
    ``execution.status``), once its transaction has ended. Must not raise; return values are
    ignored. Since API 1.
    """


@hookspec
def mig_run_finished(ctx: Context, executions: list[MigrationExecution]) -> None:
    """Called once at the end of ``up``, ``down`` or ``rollback`` with every execution the
    run recorded, after the lock is released. Return values are ignored. Since API 1.
    """


def all_hooks() -> dict[str, Any]:
    """Every hook specification of this module by name (for documentation and checks)."""
    return {name: obj for name, obj in globals().items() if name.startswith("mig_")}
