"""The ``mig`` command line (SPEC §6).

Start-up is kept cheap: this package imports only typer; the engine, networkx and database
drivers are imported by the commands that need them.
"""

from __future__ import annotations

import functools
import json
import os
import sys
import traceback
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import typer
from typer.core import TyperGroup

if TYPE_CHECKING:
    from ..engine import MigrationEngine

F = TypeVar("F", bound=Callable[..., Any])

class _Commands(TyperGroup):
    """The core's commands, plus those plugins add through ``mig_cli_commands``: loaded only
    for ``mig --help`` or a name the core does not have, so core commands start fast."""

    _plugin_commands: dict[str, Any] | None = None

    def _plugins(self) -> dict[str, Any]:
        if self._plugin_commands is None:
            self._plugin_commands = {}
            extra = typer.Typer()
            from ..config import load_config
            from ..plugins import Plugins

            try:
                disable = load_config(options.config).disable
            except Exception:  # the command itself reports a broken config
                disable = []
            Plugins(disable=disable).load().hook.mig_cli_commands(app=extra)
            if extra.registered_commands or extra.registered_groups:
                group = typer.main.get_group(extra)
                for name, command in group.commands.items():
                    if name not in self.commands:
                        self._plugin_commands[name] = command
        return self._plugin_commands

    def list_commands(self, ctx: Any) -> list[str]:
        return sorted([*self.commands, *self._plugins()])

    def get_command(self, ctx: Any, cmd_name: str) -> Any:
        if ctx.params.get("targets"):  # mig --targets SELECTOR CMD: CMD on every target
            from .fleet import fleet_command

            return fleet_command(cmd_name)
        return self.commands.get(cmd_name) or self._plugins().get(cmd_name)


app = typer.Typer(
    cls=_Commands,
    name="mig",
    help="Database schema migrations with rollback.",
    rich_markup_mode=None,
    pretty_exceptions_enable=False,
    add_completion=False,
    no_args_is_help=True,
)


@dataclass
class Options:
    config: Path | None = None
    database: str | None = None
    verbose: bool = False
    fleet: dict[str, Any] | None = None  # --targets and its companions (see cli/fleet.py)


options = Options()


@app.callback()
def _global(
    config: Path | None = typer.Option(
        None, "--config", "-c", help="Config file (default: ./mig.toml, else [tool.mig])."
    ),
    database: str | None = typer.Option(
        None, "--database", "-d", help="Database URL; overrides MIG_DATABASE and the config."
    ),
    verbose: bool = typer.Option(False, "--verbose", "-v", help="Show tracebacks on errors."),
    targets: str | None = typer.Option(None, "--targets", help="Run the command on every"
                                       " target this selects ('role=tenant', 'all', a URL glob)."),
    concurrency: int | None = typer.Option(None, "--concurrency", "-j", min=1,
                                           help="Targets at once (with --targets)."),
    fail_fast: bool = typer.Option(False, "--fail-fast", help="Start no target after a failure."),
    runner: str | None = typer.Option(None, "--runner", help="Fleet runner (default: threads)."),
    cluster: str | None = typer.Option(None, "--cluster", help="The runner's cluster address."),
) -> None:
    options.config, options.database, options.verbose = config, database, verbose
    options.fleet = dict(targets=targets, concurrency=concurrency, fail_fast=fail_fast,
                         runner=runner, cluster=cluster)


def engine() -> MigrationEngine:
    from ..engine import MigrationEngine

    return MigrationEngine.from_config(options.config, database=options.database)


def fail(message: str, code: int) -> typer.Exit:
    typer.echo(f"mig: error: {message}", err=True)
    return typer.Exit(code)


def handle_errors(func: F) -> F:
    """Turn mig's exceptions into one line on stderr and the exit code of SPEC §6."""

    @functools.wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        from ..errors import MigError

        try:
            return func(*args, **kwargs)
        except typer.Exit:
            raise
        except MigError as exc:
            if options.verbose:
                traceback.print_exc()
            raise fail(str(exc), exc.exit_code) from None
        except KeyboardInterrupt:
            raise fail("interrupted", 130) from None
        except BrokenPipeError:  # `mig history | head`: the reader has all it wanted
            os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
            raise typer.Exit(0) from None
        except Exception as exc:  # a bug or a driver error we did not expect
            if options.verbose:
                traceback.print_exc()
            hint = "" if options.verbose else " (run with -v for the traceback)"
            raise fail(f"{type(exc).__name__}: {exc}{hint}", 1) from None

    return wrapper  # type: ignore[return-value]


def print_json(data: Any) -> None:
    typer.echo(json.dumps(data, indent=2, default=str))


class ProgressLine:
    """A one-line progress display on stderr, only when stderr is a terminal."""

    def __init__(self, label: str) -> None:
        self.label = label
        self.enabled = sys.stderr.isatty()
        self.shown = False

    def __call__(self, done: int, total: int, migration: Any, execution: Any) -> None:
        if execution is not None:
            self.clear()
            status = execution.status.value
            word = {"COMPLETED": self.label, "FAILED": "FAILED", "ROLLED_BACK": "undone"}.get(
                status, status.lower()
            )
            ms = execution.execution_time * 1000
            typer.echo(f"{word:<12} {execution.migration_id} ({ms:.1f} ms)")
        if self.enabled and total > 1 and done < total:
            sys.stderr.write(f"\r[{done + 1}/{total}] {migration.id}"[:120].ljust(60))
            sys.stderr.flush()
            self.shown = True

    def clear(self) -> None:
        if self.shown:
            sys.stderr.write("\r" + " " * 60 + "\r")
            sys.stderr.flush()
            self.shown = False


def main() -> None:
    app()


__all__ = ["app", "main", "engine", "handle_errors", "options", "print_json", "ProgressLine"]


from . import admin, backup, migrate, project  # noqa: E402,F401  (register the commands)
