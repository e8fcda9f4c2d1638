"""The ``mig lint`` command. sqlglot and the rules are imported when the command runs, so
``mig --help`` does not pay for them."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

import typer
from mig.cli import engine, fail, handle_errors, print_json

if TYPE_CHECKING:
    from mig import Migration, MigrationEngine, Statement

#: Exit code when any finding has severity ``error`` (mig's "check problems" code).
EXIT_FINDINGS = 4
FORMATS = ("text", "json", "sarif")
_ALIASES = {"sqlite": "sqlite", "sqlite3": "sqlite", "postgresql": "postgresql",
            "postgres": "postgresql", "pg": "postgresql", "mysql": "mysql", "mariadb": "mysql"}


def register(app: typer.Typer) -> None:
    app.command("lint")(lint_command)


@handle_errors
def lint_command(
    migrations: list[str] | None = typer.Argument(
        None, help="Migrations to check (id, version or file path); default: all."
    ),
    dialect: str | None = typer.Option(
        None, "--dialect", help="sqlite, postgresql or mysql (default: the database URL's)."
    ),
    as_json: bool = typer.Option(False, "--json", help="Same as --format json."),
    output: str = typer.Option("text", "--format", help="text, json or sarif."),
    postgres_version: int | None = typer.Option(
        None, "--postgres-version", help="PostgreSQL major version the migrations target."
    ),
) -> None:
    """Check migration files for dangerous or wrong statements (no database needed).

    Exits 4 when any finding is an error, 0 otherwise."""
    from mig import ConfigError

    from .model import LintContext, Severity
    from .output import as_json as json_report
    from .output import as_sarif, summary, text_lines
    from .runner import collect_rules, lint

    if output not in FORMATS:
        raise fail(f"--format must be one of {', '.join(FORMATS)}, not {output!r}", 2)
    if as_json and output not in ("text", "json"):
        raise fail("--json and --format sarif cannot be combined", 2)
    output = "json" if as_json else output

    with engine() as eng:
        every = eng.migrations()  # parses the files and loads the plugins
        name = _dialect(dialect, eng.config.database)
        settings = eng.config.options.get("lint", {})
        disabled = settings.get("disable", [])
        if not isinstance(disabled, list) or not all(isinstance(d, str) for d in disabled):
            raise ConfigError("[mig.options.lint] disable must be a list of rule ids")
        version = postgres_version if postgres_version is not None else settings.get(
            "postgres_version")
        if version is not None and (not isinstance(version, int) or isinstance(version, bool)):
            raise ConfigError("[mig.options.lint] postgres_version must be an integer")
        chosen = _select(eng, every, migrations or [])
        rules = collect_rules(eng.plugins.hook.mig_register_lint_rules())
        unknown = sorted(set(disabled) - {r.id for r in rules})
        if unknown:
            raise ConfigError(f"[mig.options.lint] disable names unknown rule {unknown[0]!r}")
        context = LintContext(name, version, dict(settings))

        findings = lint(chosen, _splitter(eng, name), rules, context, disabled)

    if output == "json":
        print_json(json_report(findings, len(chosen), name))
    elif output == "sarif":
        typer.echo(json.dumps(as_sarif(findings, rules), indent=2))
    else:
        for line in text_lines(findings):
            typer.echo(line)
        typer.echo(summary(findings, len(chosen), name), err=True)
    if any(f.severity is Severity.ERROR for f in findings):
        raise typer.Exit(EXIT_FINDINGS)


def _dialect(option: str | None, url: str | None) -> str:
    if option is not None:
        if option.lower() not in _ALIASES:
            raise fail(f"--dialect must be sqlite, postgresql or mysql, not {option!r}", 2)
        return _ALIASES[option.lower()]
    if not url:
        raise fail("no database configured to take the dialect from: pass --dialect", 2)
    scheme = url.split(":", 1)[0].split("+", 1)[0].lower()
    if scheme not in _ALIASES:
        raise fail(f"cannot lint for {scheme}:// URLs; pass --dialect", 2)
    return _ALIASES[scheme]


def _splitter(eng: MigrationEngine, dialect: str) -> Callable[[Migration, str], list[Statement]]:
    def split(migration: Migration, section: str) -> list[Statement]:
        if section == "up":
            return eng.plugins.split(migration.up_sql, dialect, migration.up_line, migration.path)
        return eng.plugins.split(migration.down_sql, dialect, migration.down_line, migration.path)

    return split


def _select(eng: MigrationEngine, every: list[Migration], wanted: list[str]) -> list[Migration]:
    """The migrations named on the command line (id, version or file path), in plan order;
    all of them when none is named."""
    if not wanted:
        return every
    chosen: set[str] = set()
    by_path = {m.path.resolve(): m for m in every}
    for item in wanted:
        path = Path(item)
        if path.suffix and path.exists():
            if path.resolve() not in by_path:
                raise fail(f"{item} is not a migration of {eng.config.migrations_dir}", 2)
            chosen.add(by_path[path.resolve()].id)
        else:
            chosen.add(eng.resolve_target(item).id)
    return [m for m in every if m.id in chosen]
