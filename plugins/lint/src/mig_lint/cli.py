"""The ``mig lint`` command. sqlglot and the rules are imported when the command runs, so
``mig --help`` does not pay for them."""

from __future__ import annotations

import json

import typer
from mig.cli import engine, fail, handle_errors, print_json

#: Exit code when any finding has severity ``error`` (mig's "check problems" code).
EXIT_FINDINGS = 4
FORMATS = ("text", "json", "sarif")


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
    """Check migration files for dangerous or wrong statements, without a database.

    Exits 4 when any finding is an error, 0 otherwise (2 for bad usage)."""
    from .output import as_json as json_report
    from .output import as_sarif, summary, text_lines
    from .project import lint_project

    if output not in FORMATS:
        raise fail(f"--format must be one of {', '.join(FORMATS)}, not {output!r}", 2)
    if as_json and output == "sarif":
        raise fail("--json and --format sarif cannot be combined", 2)
    output = "json" if as_json else output

    with engine() as eng:
        report = lint_project(eng, migrations or [], dialect=dialect,
                              postgres_version=postgres_version)

    if output == "json":
        print_json(json_report(report.findings, report.migrations, report.dialect))
    elif output == "sarif":
        typer.echo(json.dumps(as_sarif(report.findings, report.rules), indent=2))
    else:
        for line in text_lines(report.findings):
            typer.echo(line)
        typer.echo(summary(report.findings, report.migrations, report.dialect), err=True)
    if report.has_errors:
        raise typer.Exit(EXIT_FINDINGS)
