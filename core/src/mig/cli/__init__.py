"""The ``mig`` command line (SPEC §6).

Start-up is kept cheap: this package imports only typer; the engine, networkx and database
drivers are imported by the commands that need them.
"""

from __future__ import annotations

import functools
import os
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import typer
from typer._click.exceptions import UsageError
from typer.core import TyperArgument, TyperGroup, TyperOption

if TYPE_CHECKING:
    from ..config import Config
    from ..engine import MigrationEngine

F = TypeVar("F", bound=Callable[..., Any])

def _argument_metavar(self: Any, ctx: Any, *, usage: bool = False) -> str:
    """``EXECUTION_ID`` rather than typer's ``{execution_id}``; ``[TARGET]`` when optional."""
    var = (self.metavar or self.name or "").upper() + ("..." if self.nargs != 1 else "")
    return f"[{var}]" if usage and not self.required else var


_typer_option_metavar = TyperOption.make_metavar


def _option_metavar(self: Any, ctx: Any) -> str:
    """An option's value as ``--limit LIMIT`` rather than typer's ``--limit <int>``."""
    metavar = str(_typer_option_metavar(self, ctx))
    if self.metavar is None and metavar.startswith("<") and "|" not in metavar:
        return (self.name or "value").upper()
    return metavar


# Every command's help, the plugins' too, reads the same way (typer has no setting for it).
TyperArgument.make_metavar = _argument_metavar  # type: ignore[method-assign]
TyperOption.make_metavar = _option_metavar  # type: ignore[method-assign]


class _Group(TyperGroup):
    """``mig`` or ``mig backup`` alone prints the help and succeeds; the command list shows
    each command's whole first sentence instead of cutting it at the terminal's width."""

    def parse_args(self, ctx: Any, args: list[str]) -> list[str]:
        if not args and not ctx.resilient_parsing:
            typer.echo(ctx.get_help())
            ctx.exit(0)
        return super().parse_args(ctx, args)

    def get_help(self, ctx: Any) -> str:
        text = super().get_help(ctx)
        if ctx.parent is None and isinstance(self, _Commands) and not options.config:
            from ..launcher import remember_help

            remember_help(text + "\n", ctx.info_name or "mig")
        return text

    def _summaries(self, ctx: Any) -> list[tuple[str, str]]:
        rows = []
        for name in self.list_commands(ctx):
            cmd = self.get_command(ctx, name)
            if cmd is not None and not cmd.hidden:
                rows.append((name, cmd.get_short_help_str(limit=200)))
        return rows

    def format_commands(self, ctx: Any, formatter: Any) -> None:
        rows = self._summaries(ctx)
        if rows:
            with formatter.section("Commands"):
                formatter.write_dl(rows)


class _Commands(_Group):
    """The core's commands, plus those plugins add through ``mig_cli_commands``: loaded only
    for a name the core does not have (and for completion), so core commands start fast.
    ``mig --help`` lists plugin commands from a cache (:mod:`mig.launcher`) that is
    rebuilt, by loading the plugins, whenever an installed package changes."""

    _plugin_commands: dict[str, Any] | None = None
    _plugin_files: list[str] = []

    def _plugins(self) -> dict[str, Any]:
        if self._plugin_commands is None:
            self._plugin_commands = {}
            extra = typer.Typer(rich_markup_mode=None)  # help in the core's plain style
            from ..plugins import Plugins

            loaded = Plugins(disable=_disabled()).load()
            loaded.hook.mig_cli_commands(app=extra)
            self._plugin_files = [
                str(getattr(plugin, "__file__", "") or "")
                for _, plugin in loaded.pm.list_name_plugin()
            ]
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

    def _summaries(self, ctx: Any) -> list[tuple[str, str]]:
        from ..launcher import cached_summaries

        core = [(name, cmd.get_short_help_str(limit=200))
                for name, cmd in self.commands.items() if not cmd.hidden]
        config = str(options.config) if options.config else None
        return sorted(core + cached_summaries(self._plugin_summaries, config))

    def _plugin_summaries(self) -> tuple[list[tuple[str, str]], list[str]]:
        commands = self._plugins()
        rows = [(name, cmd.get_short_help_str(limit=200))
                for name, cmd in commands.items() if not cmd.hidden]
        files = [*self._plugin_files, *(_source_of(cmd) for cmd in commands.values())]
        return rows, [f for f in files if f]

    def resolve_command(self, ctx: Any, args: list[str]) -> Any:
        try:
            return super().resolve_command(ctx, args)
        except UsageError as exc:
            if args and "Did you mean" not in exc.message:
                from ..suggest import did_you_mean

                hint = did_you_mean(args[0], self.list_commands(ctx))
                exc.message = exc.message.rstrip(".") + hint
            raise


def _disabled() -> list[str]:
    from ..config import load_config

    try:
        return load_config(options.config).disable
    except Exception:  # the command itself reports a broken config
        return []


def _source_of(command: Any) -> str:
    """The file defining a command's function, so that editing it refreshes the cache."""
    import inspect

    try:
        return str(inspect.getsourcefile(inspect.unwrap(command.callback)) or "")
    except (TypeError, AttributeError):
        return ""


app = typer.Typer(
    cls=_Commands,
    name="mig",
    help="Database schema migrations with rollback.",
    rich_markup_mode=None,
    pretty_exceptions_enable=False,
    context_settings={"help_option_names": ["-h", "--help"]},
)


@dataclass
class Options:
    config: Path | None = None
    database: str | None = None
    verbose: bool = False
    no_color: bool = False
    fleet: dict[str, Any] | None = None  # --targets and its companions (see cli/fleet.py)


options = Options()


def _version(value: bool) -> None:
    if value:
        from .. import __version__

        typer.echo(f"mig {__version__}")
        raise typer.Exit(0)


@app.callback()
def _global(
    config: Path | None = typer.Option(
        None, "--config", "-c", metavar="PATH",
        help="Config file (default: mig.toml or pyproject.toml [tool.mig] in this folder or"
        " the nearest parent; MIG_CONFIG).",
    ),
    database: str | None = typer.Option(
        None, "--database", "-d", metavar="URL",
        help="Database URL; overrides MIG_DATABASE and the config.",
    ),
    verbose: bool = typer.Option(False, "--verbose", "-v", help="Show tracebacks on errors."),
    no_color: bool = typer.Option(
        False, "--no-color", help="No colours (also when NO_COLOR is set or not a terminal)."
    ),
    version: bool = typer.Option(
        False, "--version", "-V", callback=_version, is_eager=True, help="Print the version."
    ),
    targets: str | None = typer.Option(None, "--targets", help="Run the command on every"
                                       " target this selects ('role=tenant', 'all', a URL glob)."),
    concurrency: int | None = typer.Option(None, "--concurrency", "-j", min=1,
                                           help="Targets at once (with --targets)."),
    fail_fast: bool = typer.Option(False, "--fail-fast", help="Start no target after a failure."),
    runner: str | None = typer.Option(None, "--runner", help="Fleet runner (default: threads)."),
    cluster: str | None = typer.Option(None, "--cluster", help="The runner's cluster address."),
) -> None:
    options.config, options.database, options.verbose = config, database, verbose
    options.no_color = no_color
    options.fleet = dict(targets=targets, concurrency=concurrency, fail_fast=fail_fast,
                         runner=runner, cluster=cluster)


def project_config() -> Config:
    """The configuration of the project found from here; none at all (no config file and no
    ``migrations`` folder here) is an error saying so (exit 2)."""
    from ..config import load_config, no_config_message

    config = load_config(options.config, database=options.database)
    if config.path is None and not config.migrations_dir.is_dir():
        raise fail(no_config_message(), 2)
    return config


def engine() -> MigrationEngine:
    """The engine for the project found from here."""
    from ..engine import MigrationEngine

    return MigrationEngine(config=project_config())


def fail(message: str, code: int) -> typer.Exit:
    from .output import paint

    typer.echo(f"{paint('mig: error:', 'red', bold=True, err=True)} {message}", err=True)
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
                import traceback

                traceback.print_exc()
            raise fail(str(exc), exc.exit_code) from None
        except KeyboardInterrupt:
            raise fail("interrupted", 130) from None
        except BrokenPipeError:  # `mig history | head`: the reader has all it wanted
            os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
            raise typer.Exit(0) from None
        except Exception as exc:  # a bug or a driver error we did not expect
            if options.verbose:
                import traceback

                traceback.print_exc()
            hint = "" if options.verbose else " (run with -v for the traceback)"
            raise fail(f"{type(exc).__name__}: {exc}{hint}", 1) from None

    return wrapper  # type: ignore[return-value]


def print_json(data: Any) -> None:
    import json

    typer.echo(json.dumps(data, indent=2, default=str))


def main() -> None:
    app()


__all__ = ["app", "main", "engine", "handle_errors", "options", "print_json", "ProgressLine"]


from . import admin, backup, migrate, project  # noqa: E402,F401  (register the commands)
from .output import ProgressLine  # noqa: E402
