"""``mig test [TARGET]``: the round trip of every migration on a scratch database."""

from __future__ import annotations

import signal
import sys
from typing import TYPE_CHECKING

import typer

if TYPE_CHECKING:
    from mig.models import Migration

    from .report import Report

#: Exit code when the round trip found a problem (SPEC: 4, check problems).
PROBLEMS = 4


def register(app: typer.Typer) -> None:
    from mig.cli import handle_errors

    app.command("test")(handle_errors(test))


def test(
    target: str | None = typer.Argument(
        None, help="Migration id or version to stop at (as `mig up TARGET`)."),
    start: str | None = typer.Option(
        None, "--from", help="Round-trip from this migration on; apply earlier ones only."),
    data: bool = typer.Option(
        False, "--data", help="Seed every table with rows and check that DOWN keeps them."),
    scratch_url: str | None = typer.Option(
        None, "--scratch-url",
        help="The scratch database to create and drop (default: beside the configured one,"
             " with a random name)."),
    seed: int = typer.Option(0, "--seed", help="Seed of the --data row generator."),
    as_json: bool = typer.Option(False, "--json", help="Machine-readable output."),
) -> None:
    """Prove on a scratch database that every DOWN undoes its UP: for each migration, UP,
    DOWN, compare the schema with the one before, UP again. Never touches the configured
    database. Exit 4 when a problem is found."""
    from mig.cli import options, print_json
    from mig.config import load_config

    from .roundtrip import run_roundtrip

    config = load_config(options.config, database=options.database)
    progress = _Progress() if not as_json and sys.stderr.isatty() else None
    # A plain `kill` ends the run as ^C does: through the code that drops the scratch database.
    previous = signal.signal(signal.SIGTERM, _terminated)
    try:
        report = run_roundtrip(config, target=target, start=start, data=data,
                               scratch_url=scratch_url, seed=seed, progress=progress)
    finally:
        signal.signal(signal.SIGTERM, previous)
    if progress:
        progress.clear()
    if as_json:
        print_json(report.to_dict())
    else:
        for line in report.lines():
            typer.echo(line)
        for migration_id, reason in report.skipped:
            if reason != "before --from":
                typer.echo(f"{migration_id}: skipped ({reason})")
        for note in report.notes:
            typer.echo(f"note: {note}")
        if report.not_reached:
            typer.echo(f"not reached after the failure: {', '.join(report.not_reached)}")
        verdict = "ok" if report.ok else f"{len(report.findings)} problem(s)"
        typer.echo(f"mig test: {len(report.tested)} migration(s) round-tripped,"
                   f" {len(report.skipped)} applied without a round trip: {verdict}")
    if not report.ok:
        raise typer.Exit(PROBLEMS)


def _terminated(signum: int, frame: object) -> None:
    raise SystemExit(128 + signum)


class _Progress:
    """``[3/40] 003_orders`` on stderr while a terminal watches."""

    def __init__(self) -> None:
        self.done = 0

    def __call__(self, migration: Migration, report: Report) -> None:
        self.done += 1
        sys.stderr.write(f"\r[{self.done}] {migration.id}"[:80].ljust(60))
        sys.stderr.flush()

    def clear(self) -> None:
        sys.stderr.write("\r" + " " * 60 + "\r")
        sys.stderr.flush()
