"""Commands that read or change which migrations are applied."""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING, Any

import typer

from . import ProgressLine, app, engine, fail, handle_errors, print_json

if TYPE_CHECKING:
    from ..engine import MigrationEngine, RollbackStep
    from ..models import MigrationExecution


@app.command()
@handle_errors
def status(as_json: bool = typer.Option(False, "--json", help="Machine-readable output.")) -> None:
    """Current version, applied, pending, failed, drift and out-of-order migrations."""
    eng = engine()
    st = eng.status()
    if as_json:
        print_json({"database": eng.dialect.display_url(), **st.to_dict()})
        return
    typer.echo(f"database:        {eng.dialect.display_url()}")
    typer.echo(f"current version: {st.current_version or '(none)'}")
    typer.echo(
        f"applied: {len(st.applied)}   pending: {len(st.pending)}   failed: {len(st.failed)}"
    )
    sections = [
        ("pending", [m.id for m in st.pending]),
        ("baselined (recorded as applied by `mig baseline`; mig did not run them)",
         [e.migration_id for e in st.baselined]),
        ("out of order (older than the newest applied)", [m.id for m in st.out_of_order]),
        ("failed", [f"{e.migration_id}: {e.error_message}" for e in st.failed]),
        ("DRIFT (edited after being applied)", [m.id for m in st.drift]),
        ("applied but missing from the folder", [e.migration_id for e in st.missing]),
        ("NEEDS ATTENTION (failed outside a transaction, not restored)",
         [f"{e.migration_id}: {e.statements_committed or 0} statement(s) committed"
          if e.status.value == "FAILED" else f"{e.migration_id}: its process died while it ran"
          for e in st.attention]),
        ("SCHEMA CHANGED OUTSIDE MIG (since its last command; `mig check` exits 4)",
         st.schema_changes),
    ]
    for title, items in sections:
        if items:
            typer.echo(f"{title}:")
            for item in items:
                typer.echo(f"  {item}")


@app.command()
@handle_errors
def plan(
    target: str | None = typer.Argument(None, help="Migration id or version to stop at."),
    only: bool = typer.Option(False, "--only", help="Only TARGET and its dependencies."),
    as_json: bool = typer.Option(False, "--json", help="Machine-readable output."),
) -> None:
    """What `up` would run, in order."""
    todo = engine().plan(target, only=_only(target, only))
    if as_json:
        print_json([
            {"id": m.id, "version": m.version, "name": m.name,
             "dependencies": list(m.dependencies), "path": str(m.path)}
            for m in todo
        ])
        return
    if not todo:
        typer.echo("nothing to apply")
    for m in todo:
        typer.echo(f"{m.id}  {m.name}")


@app.command()
@handle_errors
def up(
    target: str | None = typer.Argument(None, help="Migration id or version to stop at."),
    dry_run: bool = typer.Option(False, "--dry-run", help="Show what would run; change nothing."),
    atomic: bool = typer.Option(False, "--atomic", help="All migrations in one transaction."),
    backup: str | None = typer.Option(None, "--backup", help="Backup type to take (or none)."),
    allow_drift: bool = typer.Option(False, "--allow-drift", help="Apply despite edited files."),
    only: bool = typer.Option(False, "--only", help="Only TARGET and its dependencies."),
) -> None:
    """Apply pending migrations: all, everything up to TARGET in plan order (and TARGET's
    dependencies), or with --only just TARGET and its dependencies."""
    eng = engine()
    only = _only(target, only)
    if dry_run:
        todo = eng.plan(target, checked=True, allow_drift=allow_drift, only=only)
        for m in todo:
            typer.echo(f"-- would apply {m.id} ({m.name})")
            for statement in eng.split(m, "up"):
                typer.echo(statement.sql.rstrip() + ";")
        typer.echo(f"-- dry run: {len(todo)} migration(s) would be applied; nothing was changed")
        return
    if backup is not None:
        eng.check_names(backup=backup)
    executions = eng.up(
        target, atomic=atomic, backup=backup, allow_drift=allow_drift, only=only,
        progress=ProgressLine("applied"),
    )
    tally = eng.backups().tally
    if tally.count or tally.prune_error:  # where the time and the disk went
        typer.echo(tally.line(), err=True)
    _finish(executions, "applied", eng.get_current_version())


@app.command()
@handle_errors
def down(
    target: str | None = typer.Argument(None, help="Roll back to this migration (it stays)."),
    steps: int | None = typer.Option(None, "--steps", "-n", help="How many to roll back."),
    everything: bool = typer.Option(False, "--all", help="Roll back every migration."),
    method: str | None = typer.Option(None, "--method", "-m", help="down | restore | auto"),
    cascade: bool = typer.Option(False, "--cascade", help="Roll back dependents first."),
    dry_run: bool = typer.Option(False, "--dry-run", help="Show what would be undone."),
    yes: bool = typer.Option(False, "--yes", "-y", help="Do not ask for confirmation."),
) -> None:
    """Roll back the newest migration (or --steps N, --all, or down to TARGET)."""
    if sum(x is not None and x is not False for x in (target, steps, everything or None)) > 1:
        raise fail("give at most one of TARGET, --steps and --all", 2)
    eng = engine()
    eng.check_names(rollback=method)
    if dry_run:
        steps_ = eng.rollback_plan(
            target=target, steps=steps, everything=everything, method=method, cascade=cascade
        )
        _show_steps(steps_, "would roll back")
        typer.echo("-- dry run: nothing was changed")
        return
    executions = eng.down(
        target, steps=steps, everything=everything, method=method, cascade=cascade,
        confirm=_confirm(eng, yes), progress=ProgressLine("rolled back"),
    )
    _finish(executions, "rolled back", eng.get_current_version())


@app.command()
@handle_errors
def rollback(
    execution_id: str = typer.Argument(..., help="Execution id from `mig history`."),
    method: str | None = typer.Option(None, "--method", "-m", help="down | restore | auto"),
    cascade: bool = typer.Option(False, "--cascade", help="Roll back dependents first."),
    yes: bool = typer.Option(False, "--yes", "-y", help="Do not ask for confirmation."),
) -> None:
    """Roll back one execution."""
    eng = engine()
    eng.check_names(rollback=method)
    executions = eng.rollback(execution_id, method=method, cascade=cascade,
                              confirm=_confirm(eng, yes))
    if not executions:
        typer.echo(f"nothing to undo: execution {execution_id} is not in effect")
        return
    for ex in executions:
        ProgressLine("rolled back")(1, 1, None, ex)
    _finish(executions, "rolled back", eng.get_current_version(), quiet=True)


@app.command()
@handle_errors
def history(
    as_json: bool = typer.Option(False, "--json", help="Machine-readable output."),
    limit: int | None = typer.Option(None, "--limit", "-n", help="Only the newest N."),
) -> None:
    """The audit trail, newest first."""
    if limit is not None and limit < 0:
        raise fail("--limit must not be negative", 2)
    rows = engine().history(limit)
    if as_json:
        print_json([r.to_dict() for r in rows])
        return
    if not rows:
        typer.echo("no executions recorded")
        return
    typer.echo(f"{'EXECUTION':<13} {'OPERATION':<9} {'STATUS':<11} {'MIGRATION':<32} STARTED")
    for r in rows:
        extra = f"  [{r.method}]" if r.method else ""
        typer.echo(
            f"{r.execution_id:<13} {r.operation.value:<9} {r.status.value:<11} "
            f"{r.migration_id:<32} {r.started_at[:19]}{extra}"
        )
        if r.error_message:  # the error of a failure, or a note (why a restore ran, ...)
            label = "error" if r.status.value == "FAILED" else "note"
            typer.echo(f"{'':<13} {label}: {r.error_message}")




def _only(target: str | None, only: bool) -> bool:
    if only and target is None:
        raise fail("--only needs a TARGET", 2)
    return only


def _show_steps(plan: list[RollbackStep], verb: str) -> None:
    if not plan:
        typer.echo("nothing to roll back")
    for step in plan:
        for ex in step.undoes:
            how = step.method if ex is step.root else f"{step.method} of {step.root.migration_id}"
            typer.echo(f"-- {verb} {ex.migration_id} (execution {ex.execution_id}) by {how}")


def _confirm(eng: MigrationEngine, yes: bool) -> Any:
    """Before a rollback that restores a backup (and loses what was written since) or undoes
    more than it names: say what it does; ask on a terminal, else insist on --yes."""

    def confirm(plan: list[RollbackStep]) -> bool:
        notices = eng.restore_notices(plan)
        if not notices and all(len(step.undoes) == 1 for step in plan):
            return True
        _show_steps(plan, "will roll back")
        for notice in notices:
            for line in notice.lines():
                typer.echo(f"-- {line}")
        ask("Roll back all of these?" if not notices else "Restore and lose those writes?", yes)
        return True

    return confirm


def ask(question: str, yes: bool) -> None:
    """Go on with --yes or a "y" on a terminal; without a terminal refuse (exit 1); a "n"
    changes nothing and is not an error."""
    if yes:
        return
    if not sys.stdin.isatty():
        raise fail("this discards or undoes more than you named; pass --yes to confirm", 1)
    if not typer.confirm(question, default=False):
        typer.echo("cancelled; nothing was changed")
        raise typer.Exit(0)


def _finish(
    executions: list[MigrationExecution], verb: str, version: str | None, quiet: bool = False
) -> None:
    failed = [e for e in executions if e.status.value == "FAILED"]
    if failed:
        ex = failed[-1]
        note = ""
        if ex.statements_committed:
            note = (f"; {ex.statements_committed} statement(s) had committed and were not"
                    " undone (see `mig status`)")
        typer.echo(f"mig: error: {ex.migration_id} failed: {ex.error_message}{note}", err=True)
        raise typer.Exit(1)
    if not quiet:
        if executions:
            typer.echo(f"{verb} {len(executions)} migration(s); "
                       f"database is at version {version or '(none)'}")
        else:
            typer.echo(f"nothing to do; database is at version {version or '(none)'}")
