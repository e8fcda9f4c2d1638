"""Commands that read or change which migrations are applied."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

import typer

from . import app, engine, fail, handle_errors, print_json
from .output import ProgressLine, paint, status_word

if TYPE_CHECKING:
    from ..engine import MigrationEngine, RollbackStep
    from ..models import MigrationExecution

TARGET_HELP = "Migration id or version: apply up to it (plan order) and its dependencies."
ONLY_HELP = "Only TARGET and its dependencies."
METHOD_HELP = "down | restore | auto (default: the config's rollback)."
JSON_RUN_HELP = "Print the executions (status, timings, errors) as JSON."
HISTORY_LIMIT = 50
SQL_HELP = ("Print the SQL script the run would execute, bookkeeping included, for the"
            " database's own client; change nothing, take no backup.")


@app.command()
@handle_errors
def status(as_json: bool = typer.Option(False, "--json", help="Machine-readable output.")) -> None:
    """Applied, pending, failed, drifted and out-of-order migrations."""
    eng = existing_engine()
    st = eng.status()
    if as_json:
        print_json({"database": eng.dialect.display_url(), **st.to_dict()})
        return
    typer.echo(f"database:        {eng.dialect.display_url()}")
    typer.echo(f"current version: {eng.shown_version() or '(none)'}")
    typer.echo(
        f"applied: {paint(str(len(st.applied)), 'green')}   "
        f"pending: {paint(str(len(st.pending)), 'yellow' if st.pending else None)}   "
        f"failed: {paint(str(len(st.failed)), 'red' if st.failed else None)}"
    )
    sections = [
        ("pending", [m.id for m in st.pending]),
        ("baselined (recorded as applied by `mig baseline`; mig did not run them)",
         [e.migration_id for e in st.baselined]),
        ("out of order (older than the newest applied)", [m.id for m in st.out_of_order]),
        ("failed", [f"{e.migration_id}: {e.error_message or '(no error message was recorded)'}"
                    for e in st.failed]),
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
            colour = "yellow" if title.startswith(("pending", "out of order")) else "red"
            typer.echo(paint(f"{title}:", colour, bold=colour == "red"))
            for item in items:
                typer.echo(f"  {item}")


@app.command()
@handle_errors
def plan(
    target: str | None = typer.Argument(None, help=TARGET_HELP),
    only: bool = typer.Option(False, "--only", help=ONLY_HELP),
    as_json: bool = typer.Option(False, "--json", help="Machine-readable output."),
) -> None:
    """What `up` would apply, in order."""
    todo = existing_engine().plan(target, only=_only(target, only))
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
    target: str | None = typer.Argument(None, help=TARGET_HELP),
    dry_run: bool = typer.Option(False, "--dry-run", help="Print the SQL; change nothing."),
    atomic: bool = typer.Option(False, "--atomic", help="All migrations in one transaction."),
    backup: str | None = typer.Option(
        None, "--backup", metavar="TYPE",
        help="Backup before each migration: full | schema | data | incremental | none"
        " (default: the config's backup).",
    ),
    allow_drift: bool = typer.Option(False, "--allow-drift", help="Apply despite edited files."),
    only: bool = typer.Option(False, "--only", help=ONLY_HELP),
    as_json: bool = typer.Option(False, "--json", help=JSON_RUN_HELP),
    sql: bool = typer.Option(False, "--sql", help=SQL_HELP),
) -> None:
    """Apply pending migrations (all, or up to TARGET).

    With TARGET: every pending migration up to TARGET in plan order, plus TARGET's
    dependencies. With --only: just TARGET and its dependencies."""
    eng = engine()
    only = _only(target, only)
    if sql:
        _script_only(dry_run=dry_run, atomic=atomic, as_json=as_json,
                     backup=backup not in (None, "none"))
        _print_script(eng.up_sql(target, allow_drift=allow_drift, only=only))
        return
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
    progress = ProgressLine("applied", quiet=as_json)
    with _stopped(eng, progress, "up", atomic, as_json):
        executions = eng.up(
            target, atomic=atomic, backup=backup, allow_drift=allow_drift, only=only,
            progress=progress,
        )
    _finish(eng, executions, "up", progress, as_json, atomic)


@app.command()
@handle_errors
def down(
    target: str | None = typer.Argument(None, help="Roll back to this migration (it stays)."),
    steps: int | None = typer.Option(None, "--steps", "-n", metavar="N",
                                     help="How many to roll back."),
    everything: bool = typer.Option(False, "--all", help="Roll back every migration."),
    method: str | None = typer.Option(None, "--method", "-m", metavar="METHOD", help=METHOD_HELP),
    cascade: bool = typer.Option(False, "--cascade", help="Roll back dependents first."),
    dry_run: bool = typer.Option(
        False, "--dry-run", help="Print the DOWN SQL or the restore; change nothing."
    ),
    yes: bool = typer.Option(False, "--yes", "-y", help="Do not ask for confirmation."),
    as_json: bool = typer.Option(False, "--json", help=JSON_RUN_HELP),
    sql: bool = typer.Option(False, "--sql", help=SQL_HELP + " DOWN SQL only."),
) -> None:
    """Roll back the newest migration (or --steps N, --all, or down to TARGET)."""
    if sum(x is not None and x is not False for x in (target, steps, everything or None)) > 1:
        raise fail("give at most one of TARGET, --steps and --all", 2)
    eng = engine()
    eng.check_names(rollback=method)
    if sql:
        _script_only(dry_run=dry_run, as_json=as_json)
        _print_script(eng.down_sql(target, steps=steps, everything=everything, method=method,
                                   cascade=cascade))
        return
    if dry_run:
        _dry_run(eng, eng.rollback_plan(
            target=target, steps=steps, everything=everything, method=method, cascade=cascade
        ))
        return
    progress = ProgressLine("rolled back", quiet=as_json)
    with _stopped(eng, progress, "down", False, as_json):
        executions = eng.down(
            target, steps=steps, everything=everything, method=method, cascade=cascade,
            confirm=_confirm(eng, yes, as_json), progress=progress,
        )
    _finish(eng, executions, "down", progress, as_json)


@app.command()
@handle_errors
def rollback(
    execution_id: str = typer.Argument(..., help="Execution id from `mig history`."),
    method: str | None = typer.Option(None, "--method", "-m", metavar="METHOD", help=METHOD_HELP),
    cascade: bool = typer.Option(False, "--cascade", help="Roll back dependents first."),
    dry_run: bool = typer.Option(
        False, "--dry-run", help="Print the DOWN SQL or the restore; change nothing."
    ),
    yes: bool = typer.Option(False, "--yes", "-y", help="Do not ask for confirmation."),
    as_json: bool = typer.Option(False, "--json", help=JSON_RUN_HELP),
) -> None:
    """Roll back one execution (see `mig history`)."""
    eng = engine()
    eng.check_names(rollback=method)
    if dry_run:
        _dry_run(eng, eng.rollback_plan(execution_id=execution_id, method=method,
                                        cascade=cascade))
        return
    executions = eng.rollback(execution_id, method=method, cascade=cascade,
                              confirm=_confirm(eng, yes, as_json))
    if not executions and not as_json:
        typer.echo(f"nothing to undo: execution {execution_id} is not in effect")
        return
    progress = ProgressLine("rolled back", quiet=as_json)
    for ex in executions:
        progress(1, 1, None, ex)
    _finish(eng, executions, "rollback", progress, as_json, quiet=True)


@app.command()
@handle_errors
def history(
    as_json: bool = typer.Option(False, "--json", help="Machine-readable output."),
    limit: int | None = typer.Option(
        None, "--limit", "-n", metavar="N", help=f"Only the newest N (default {HISTORY_LIMIT})."
    ),
    everything: bool = typer.Option(False, "--all", help="Every execution, not the newest 50."),
) -> None:
    """The audit trail, newest first (times in UTC)."""
    if limit is not None and limit < 0:
        raise fail("--limit must not be negative", 2)
    if limit is not None and everything:
        raise fail("give --limit or --all, not both", 2)
    wanted = None if everything else (HISTORY_LIMIT if limit is None else limit)
    eng = existing_engine()
    rows = eng.history(None if wanted is None else wanted + 1)
    more = wanted is not None and len(rows) > wanted
    rows = rows[:wanted] if wanted is not None else rows
    if as_json:
        print_json([r.to_dict() for r in rows])
        return
    if not rows:
        typer.echo("no executions recorded")
        return
    typer.echo(f"{'EXECUTION':<13} {'OPERATION':<9} {'STATUS':<11} {'MIGRATION':<32} STARTED (UTC)")
    for r in rows:
        extra = f"  [{r.method}]" if r.method else ""
        typer.echo(
            f"{r.execution_id:<13} {r.operation.value:<9} {status_word(r.status.value, 11)} "
            f"{r.migration_id:<32} {_utc(r.started_at)}{extra}"
        )
        if r.error_message:  # the error of a failure, or a note (why a restore ran, ...)
            label = "error" if r.status.value == "FAILED" else "note"
            typer.echo(f"{'':<13} {label}: {r.error_message}")
    if more:
        typer.echo(f"(the newest {wanted} shown; --all or --limit N for more)")


def _script_only(**conflicts: bool) -> None:
    """Refuse options that make no sense with --sql (exit 2)."""
    names = {"dry_run": "--dry-run", "atomic": "--atomic", "as_json": "--json",
             "backup": "--backup (a script takes no backups)"}
    given = [names[k] for k, v in conflicts.items() if v]
    if given:
        raise fail(f"--sql does not go with {given[0]}", 2)


def _print_script(script: str) -> None:
    """The script on stdout and nothing else there; a note on stderr."""
    sys.stdout.write(script)
    sys.stdout.flush()
    typer.echo("mig: wrote the script to stdout; nothing was changed", err=True)


def _utc(stamp: str) -> str:
    """``2026-12-04 19:34:55`` from the stored ISO-8601 UTC text."""
    return stamp[:19].replace("T", " ")


def existing_engine() -> MigrationEngine:
    """The engine, for a command that reads the database: one that does not exist is an
    error (exit 2) rather than a database with everything pending."""
    eng = engine()
    eng.migrations()  # a broken folder or file is said first
    if eng.config.database and not eng.dialect.exists():
        raise fail(f"database {eng.dialect.display_url()} does not exist{_why(eng)}", 2)
    return eng


def _why(eng: MigrationEngine) -> str:
    path = getattr(eng.dialect, "path", None)  # a SQLite file
    if not isinstance(path, Path):
        return " (create it, or check the URL)"
    if not path.parent.is_dir():
        return f": folder {path.parent} does not exist"
    return " (`mig up` creates it)"


def _only(target: str | None, only: bool) -> bool:
    if only and target is None:
        raise fail("--only needs a TARGET", 2)
    return only


def _show_steps(plan: list[RollbackStep], verb: str, err: bool = False) -> None:
    if not plan:
        typer.echo("nothing to roll back", err=err)
    for step in plan:
        for ex in step.undoes:
            how = step.method if ex is step.root else f"{step.method} of {step.root.migration_id}"
            typer.echo(f"-- {verb} {ex.migration_id} (execution {ex.execution_id}) by {how}",
                       err=err)


def _confirm(eng: MigrationEngine, yes: bool, as_json: bool = False) -> Any:
    """Before a rollback that restores a backup (and loses what was written since) or undoes
    more than it names: say what it does (on stderr under --json, whose stdout is the JSON
    only); ask on a terminal, else insist on --yes."""

    def confirm(plan: list[RollbackStep]) -> bool:
        notices = eng.restore_notices(plan)
        if not notices and all(len(step.undoes) == 1 for step in plan):
            return True
        _show_steps(plan, "will roll back", err=as_json)
        for notice in notices:
            for line in notice.lines():
                typer.echo(f"-- {line}", err=as_json)
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


def _dry_run(eng: MigrationEngine, plan: list[RollbackStep]) -> None:
    """Print what a rollback would do: the DOWN SQL it would run, or the restore."""
    _show_steps(plan, "would roll back")
    for step in plan:
        if step.method == "down":
            typer.echo(f"-- DOWN of {step.migration.id}:")
            for statement in eng.split(step.migration, "down"):
                typer.echo(statement.sql.rstrip() + ";")
    for notice in eng.restore_notices(plan):
        for line in notice.lines():
            typer.echo(f"-- would restore: {line}")
    typer.echo("-- dry run: nothing was changed")


@contextmanager
def _stopped(eng: MigrationEngine, progress: ProgressLine, command: str, atomic: bool,
             as_json: bool) -> Iterator[None]:
    """On ^C, say where the run stopped: how many were done and what became of the one that
    was running; exit 130."""
    try:
        yield
    except KeyboardInterrupt:
        progress.close()
        message = _where_stopped(eng, progress, command, atomic)
        if as_json:
            print_json({"command": command, "ok": False, "interrupted": True,
                        "error": message, "executions": []})
        raise fail(f"interrupted: {message}", 130) from None
    finally:
        progress.close()


def _where_stopped(eng: MigrationEngine, progress: ProgressLine, command: str,
                   atomic: bool) -> str:
    verb = "applied" if command == "up" else "rolled back"
    if atomic:
        return f"0 of {progress.total} applied; the --atomic run was rolled back"
    said = f"{progress.completed} of {progress.total} {verb}"
    current = progress.current
    if current is None:
        return said
    try:
        stuck = {e.migration_id for e in eng.status().attention}
    except Exception:  # the database may be unreachable now; say what is known
        return f"{said}; {current} was running (see `mig status`)"
    if current in stuck:
        return f"{said}; {current} stopped part-way and needs attention (see `mig status`)"
    if command == "up":
        return f"{said}; {current} was rolled back"
    return f"{said}; {current} is still applied"


def _finish(eng: MigrationEngine, executions: list[MigrationExecution], command: str,
            progress: ProgressLine, as_json: bool, atomic: bool = False,
            quiet: bool = False) -> None:
    verb = "applied" if command == "up" else "rolled back"
    version = eng.get_current_version()
    failed = [e for e in executions if e.status.value == "FAILED"]
    error = None
    if failed:
        ex = failed[-1]
        error = f"{ex.migration_id} failed: {ex.error_message}"
    tally = eng.backups().tally if command == "up" else None
    if as_json:
        print_json({
            "command": command, "ok": not failed, "interrupted": False, "version": version,
            "elapsed": round(progress.elapsed(), 6), "error": error,
            "executions": [e.to_dict() for e in executions],
            **({"backups": {"count": tally.count, "bytes": tally.size,
                            "seconds": round(tally.seconds, 6),
                            "pruned": len(tally.pruned.removed) if tally.pruned else 0}}
               if tally is not None else {}),
        })
        if failed:
            raise typer.Exit(1)
        return
    if tally is not None and (tally.count or tally.prune_error):  # where time and disk went
        typer.echo(tally.line(), err=True)
    if failed:
        ex = failed[-1]
        typer.echo(f"{paint('mig: error:', 'red', bold=True, err=True)} {error}; "
                   f"{_aftermath(ex, command, atomic, progress.first)}", err=True)
        raise typer.Exit(1)
    if not quiet:
        shown = eng.shown_version() or "(none)"
        if executions:
            typer.echo(f"{verb} {len(executions)} migration(s); database is at version {shown}")
        else:
            typer.echo(f"nothing to do; database is at version {shown}")


def _aftermath(ex: MigrationExecution, command: str, atomic: bool, first: str | None) -> str:
    """What a failure left: undone (and as before what), or what could not be undone."""
    if ex.statements_committed:
        return paint(
            f"not undone: {ex.statements_committed} statement(s) had committed and could not"
            " be rolled back (see `mig status`)", "red", err=True
        )
    if "schema changes were not undone" in (ex.error_message or ""):
        return paint(f"partly undone: the rows were restored but the schema changes of"
                     f" {ex.migration_id} stay (see `mig status`)", "red", err=True)
    if atomic:
        return paint(f"rolled back: the database is as before {first or ex.migration_id}"
                     " (the whole --atomic run)", "yellow", err=True)
    if command == "up":
        return paint(f"rolled back: the database is as before {ex.migration_id}", "yellow",
                     err=True)
    return paint(f"rolled back: {ex.migration_id} is still applied, as before", "yellow",
                 err=True)
