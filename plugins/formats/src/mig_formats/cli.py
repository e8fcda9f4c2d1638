"""``mig import``: convert another tool's folder to mig's files and/or adopt its history."""

from __future__ import annotations

from pathlib import Path

import typer


def register(app: typer.Typer) -> None:
    from mig.cli import engine, handle_errors, print_json

    @app.command("import")
    @handle_errors
    def import_(
        convert: Path | None = typer.Option(
            None, "--convert", metavar="OUT_DIR",
            help="Write the folder as mig's own migration files into OUT_DIR (empty or new).",
        ),
        history: bool = typer.Option(
            False, "--history",
            help="Adopt the old tool's history table: record what it applied as applied.",
        ),
        source: str | None = typer.Option(
            None, "--from",
            help="The old tool: golang-migrate, dbmate, goose, sql-migrate, flyway, yoyo,"
            " prisma, diesel, node-pg-migrate, sqitch, liquibase or plain (default: the"
            " configured migrations_format, else detected from the folder).",
        ),
        directory: Path | None = typer.Option(
            None, "--dir", help="The old tool's folder (default: the configured migrations_dir)."
        ),
        table: str | None = typer.Option(
            None, "--table",
            help="The old tool's history table when it is not the tool's default name.",
        ),
        as_json: bool = typer.Option(False, "--json", help="Print what was done as JSON."),
    ) -> None:
        """Switch from another tool without re-running anything: --convert writes mig files,
        --history adopts the old history table.

        Tools: golang-migrate, dbmate, goose, sql-migrate, Flyway, yoyo, Prisma, Diesel,
        node-pg-migrate, Sqitch, Liquibase (formatted SQL) and plain timestamped SQL files
        (Supabase, Atlas)."""
        from .importer import run_import

        if convert is None and not history:
            typer.echo("mig: error: say --convert OUT_DIR, --history, or both", err=True)
            raise typer.Exit(2)
        report = run_import(engine(), source=source, directory=directory, convert=convert,
                            history=history, table=table)
        if as_json:
            print_json(report)
            return
        for line in report["lines"]:
            typer.echo(line)
