"""Bookkeeping commands an operator runs by hand: ``baseline`` and ``repair``."""

from __future__ import annotations

from typing import TYPE_CHECKING

import typer

from . import app, engine, fail, handle_errors, print_json

if TYPE_CHECKING:
    from ..models import MigrationExecution


@app.command()
@handle_errors
def baseline(
    version: str = typer.Argument(..., help="Migration id or version the database is at."),
    dry_run: bool = typer.Option(False, "--dry-run", help="List what would be recorded."),
    note: str | None = typer.Option(None, "--note", help="Note kept on each baseline row."),
    as_json: bool = typer.Option(False, "--json", help="Machine-readable output."),
) -> None:
    """Adopt an existing database: record every migration up to VERSION as applied without
    running it."""
    eng = engine()
    if dry_run:
        todo = eng.baseline_plan(version)
        if as_json:
            print_json({"dry_run": True, "baseline": [m.id for m in todo]})
            return
        for m in todo:
            typer.echo(f"-- would record {m.id} as applied (not run)")
        typer.echo(f"-- dry run: {len(todo)} migration(s) would be baselined; nothing was"
                   " changed")
        return
    done = eng.baseline(version, note=note)
    if as_json:
        print_json({"dry_run": False, "baseline": [e.to_dict() for e in done]})
        return
    for ex in done:
        typer.echo(f"{'baselined':<12} {ex.migration_id} (execution {ex.execution_id})")
    typer.echo(f"baselined {len(done)} migration(s); database is at version"
               f" {eng.shown_version() or '(none)'}")


@app.command()
@handle_errors
def repair(
    dry_run: bool = typer.Option(False, "--dry-run", help="List what would be done."),
    resolve: str | None = typer.Option(
        None, "--resolve", metavar="EXECUTION_ID",
        help="Clear the 'needs attention' of this execution (see `mig status`).",
    ),
    resolution: str | None = typer.Option(
        None, "--as", metavar="applied|rolled-back",
        help="With --resolve: what you found (all its changes in place, or none).",
    ),
    as_json: bool = typer.Option(False, "--json", help="Machine-readable output."),
) -> None:
    """Accept edited files of applied migrations, forget catalogue entries of deleted
    backups, and resolve a migration that needs attention."""
    if (resolve is None) != (resolution is None):
        raise fail("--resolve and --as go together (--as applied or --as rolled-back)", 2)
    eng = engine()
    if dry_run:
        plan = eng.repair_plan(resolve, resolution)
        if as_json:
            print_json({"dry_run": True, **plan.to_dict()})
            return
        for line in plan.actions():
            typer.echo(f"-- would {line}")
        _left(plan.attention)
        typer.echo("-- dry run: nothing was changed")
        return
    rows = eng.repair(resolve, resolution)
    ledger = eng.db.reader()
    left = ledger.attention() if ledger is not None else []
    if as_json:
        print_json({"dry_run": False, "rows": [r.to_dict() for r in rows],
                    "needs_attention": [e.to_dict() for e in left]})
        return
    for row in rows:
        what = row.migration_id if row.operation.value != "forget" else row.backup_id
        typer.echo(f"{row.operation.value:<8} {what}: {row.error_message}")
    if not rows:
        typer.echo("nothing to repair")
    _left(left)


def _left(attention: list[MigrationExecution]) -> None:
    for ex in attention:
        typer.echo(
            f"needs attention: {ex.migration_id} (execution {ex.execution_id}); inspect the"
            " database, then `mig repair --resolve "
            f"{ex.execution_id} --as applied|rolled-back`", err=True,
        )
