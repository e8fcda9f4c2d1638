"""``mig --targets SELECTOR CMD``: ``up``, ``down``, ``status``, ``plan``, ``check`` and
``backup create`` on every selected target (see :mod:`mig.fleet`), with a live view on a
terminal, a summary table (or ``--json``) and exit 1 when any target failed."""

from __future__ import annotations

import sys
import threading
import time
from typing import TYPE_CHECKING, Any

import typer
from typer.core import TyperGroup

from . import fail, handle_errors, options, print_json

if TYPE_CHECKING:
    from ..fleet import Event, TargetResult

fleet_app = typer.Typer(cls=TyperGroup, rich_markup_mode=None, add_completion=False)
backup_app = typer.Typer(help="Backups on every target.", no_args_is_help=True,
                         rich_markup_mode=None)
fleet_app.add_typer(backup_app, name="backup")
JSON = typer.Option(False, "--json", help="Machine-readable output.")
SQL = typer.Option(False, "--sql", help="Not with --targets: refused.")


def _no_script(sql: bool) -> None:
    if sql:
        raise fail("--sql writes the script of one database; run `mig --database URL up"
                   " --sql` (or down) for each target instead of --targets", 2)


def fleet_command(name: str) -> Any:
    """The fleet version of the command ``name``, or one that says it has none (exit 2)."""
    group = typer.main.get_group(fleet_app)
    command = group.commands.get(name)
    if command is not None:
        return command

    @handle_errors
    def unsupported() -> None:
        known = ", ".join(sorted(group.commands))
        raise fail(f"`{name}` does not run with --targets (these do: {known})", 2)

    return typer.main.get_command(_single(unsupported, name))


def _single(func: Any, name: str) -> typer.Typer:
    app = typer.Typer(rich_markup_mode=None)
    app.command(name, context_settings={"ignore_unknown_options": True,
                                        "allow_extra_args": True})(func)
    return app


class LiveView:
    """Progress on stderr: on a terminal one line per running target, the totals and an ETA,
    redrawn in place; otherwise one plain line per finished target."""

    def __init__(self, total: int, verb: str) -> None:
        self.total, self.verb = total, verb
        self.tty = sys.stderr.isatty()
        self.lock = threading.Lock()
        self.running: dict[str, str] = {}
        self.finished = self.failed = 0
        self.started = time.monotonic()
        self.drawn = 0
        self.last = 0.0

    def event(self, event: Event) -> None:
        with self.lock:
            where = f" on {event.worker}" if event.worker else ""
            self.running[event.target] = (
                f"starting{where}" if event.kind == "start"
                else f"[{event.done + 1}/{event.total}] {event.migration}{where}")
            self._draw(force=False)

    def result(self, result: TargetResult) -> None:
        with self.lock:
            self.running.pop(result.target, None)
            self.finished += 1
            self.failed += result.failed
            self._clear()
            sys.stderr.write(f"[{self.finished}/{self.total}] {_line(result)}\n")
            self._draw(force=True)

    def totals(self) -> str:
        elapsed = time.monotonic() - self.started
        eta = ""
        if 0 < self.finished < self.total:
            eta = f", ETA {elapsed / self.finished * (self.total - self.finished):.0f}s"
        return (f"{self.finished}/{self.total} done, {self.failed} failed, "
                f"{len(self.running)} running, {elapsed:.1f}s{eta}")

    def _clear(self) -> None:
        if self.drawn:
            sys.stderr.write(f"\x1b[{self.drawn}F\x1b[J")
            self.drawn = 0

    def _draw(self, force: bool) -> None:
        if not self.tty or (not force and time.monotonic() - self.last < 0.1):
            return
        self.last = time.monotonic()
        self._clear()
        lines = [f"  {name:<24} {what}"[:120] for name, what in sorted(self.running.items())]
        lines.append(self.totals())
        sys.stderr.write("\n".join(lines) + "\n")
        sys.stderr.flush()
        self.drawn = len(lines)

    def close(self) -> None:
        with self.lock:
            self._clear()
            sys.stderr.flush()


def _line(r: TargetResult) -> str:
    done = len(r.executions)
    what = f"{done} migration(s), version {r.version_after or '(none)'}"
    if r.error:
        what = r.error
    elif "backup_id" in r.data:
        what = f"backup {r.data['backup_id']}"
    elif "problems" in r.data:
        what = f"{len(r.data['problems'])} problem(s)"
    elif "pending" in r.data:
        what = f"version {r.version_after or '(none)'}, {len(r.data['pending'])} pending"
    elif "plan" in r.data:
        what = f"{len(r.data['plan'])} to apply"
    return f"{r.status:<8} {r.target}  {what} ({r.seconds:.2f}s)"


def run(action: str, params: dict[str, Any], as_json: bool, verb: str) -> list[TargetResult]:
    """Run ``action`` on the selected targets; print progress and exit 1 on a failure."""
    from .. import fleet
    from ..config import load_config
    from ..plugins import Plugins

    given = options.fleet or {}
    config = load_config(options.config)
    targets = fleet.select(config, given["targets"])
    plugins = Plugins(disable=config.disable).load()
    runner = fleet.make_runner(config, plugins, given.get("runner"), given.get("cluster"))
    jobs = fleet.jobs_for(config, targets, action, params)
    view = LiveView(len(jobs), verb)
    started = time.monotonic()
    try:
        results = fleet.run_fleet(runner, jobs, concurrency=given.get("concurrency"),
                                  fail_fast=given.get("fail_fast", False), emit=view.event,
                                  on_result=view.result)
    finally:
        view.close()
    elapsed = time.monotonic() - started
    counts = {s: sum(r.status == s for r in results) for s in ("ok", "failed", "problems",
                                                                 "skipped")}
    if as_json:
        print_json({"runner": runner.name, "seconds": round(elapsed, 3), "totals": counts,
                    "targets": [r.to_dict() for r in results]})
    else:
        _table(action, results)
        shown = ", ".join(f"{n} {s}" for s, n in counts.items() if n)
        typer.echo(f"{len(results)} target(s): {shown} in {elapsed:.1f}s ({runner.name})")
    if counts["failed"] or counts["skipped"]:
        raise typer.Exit(1)
    if counts["problems"]:
        raise typer.Exit(4)
    return results


def _table(action: str, results: list[TargetResult]) -> None:
    width = max(len("TARGET"), *(len(r.target) for r in results))
    if action == "status":
        newest = max((len(r.data.get("applied", [])) + len(r.data.get("pending", []))
                      for r in results), default=0)
        typer.echo(f"{'TARGET':<{width}}  {'VERSION':<10} {'APPLIED':>7} {'PENDING':>7}  STATE")
        for r in results:
            pending = len(r.data.get("pending", []))
            state = (r.error or "failed") if r.status != "ok" else (
                "BEHIND" if pending else "up to date") + (
                "; failed: " + ", ".join(r.data["failed"]) if r.data.get("failed") else "")
            typer.echo(f"{r.target:<{width}}  {r.version_after or '-':<10} "
                       f"{len(r.data.get('applied', [])):>7} {pending:>7}  {state}")
        behind = sum(bool(r.data.get("pending")) for r in results)
        typer.echo(f"{behind} of {len(results)} target(s) behind ({newest} migration(s))")
        return
    typer.echo(f"{'TARGET':<{width}}  {'STATUS':<8} {'BEFORE':<8} {'AFTER':<8} {'DONE':>4} "
               f"{'SECONDS':>8}  DETAIL")
    for r in results:
        detail = r.error or ""
        if action == "plan":
            detail = " ".join(r.data.get("plan", [])) or "nothing to apply"
        elif action == "backup" and "backup_id" in r.data:
            detail = r.data["backup_id"]
        elif action == "check" and r.data.get("problems"):
            detail = "; ".join(p["message"] for p in r.data["problems"])
        typer.echo(f"{r.target:<{width}}  {r.status:<8} {r.version_before or '-':<8} "
                   f"{r.version_after or '-':<8} {len(r.executions):>4} {r.seconds:>8.2f}  "
                   f"{detail}"[:200])


@fleet_app.command()
@handle_errors
def up(
    target: str | None = typer.Argument(None, help="Migration id or version to stop at."),
    backup: str | None = typer.Option(None, "--backup", help="Backup type to take (or none)."),
    allow_drift: bool = typer.Option(False, "--allow-drift", help="Apply despite edited files."),
    only: bool = typer.Option(False, "--only", help="Only TARGET and its dependencies."),
    as_json: bool = JSON,
    sql: bool = SQL,
) -> None:
    """Apply pending migrations on every target."""
    _no_script(sql)
    if only and target is None:
        raise fail("--only needs a TARGET", 2)
    run("up", {"target": target, "backup": backup, "allow_drift": allow_drift, "only": only},
        as_json, "applied")


@fleet_app.command()
@handle_errors
def down(
    target: str | None = typer.Argument(None, help="Roll back to this migration (it stays)."),
    steps: int | None = typer.Option(None, "--steps", "-n", help="How many to roll back."),
    everything: bool = typer.Option(False, "--all", help="Roll back every migration."),
    method: str | None = typer.Option(None, "--method", "-m", help="down | restore | auto"),
    cascade: bool = typer.Option(False, "--cascade", help="Roll back dependents first."),
    yes: bool = typer.Option(False, "--yes", "-y", help="Allow restores that lose writes."),
    as_json: bool = JSON,
    sql: bool = SQL,
) -> None:
    """Roll back on every target (restores that lose writes need --yes)."""
    _no_script(sql)
    if sum(x is not None and x is not False for x in (target, steps, everything or None)) > 1:
        raise fail("give at most one of TARGET, --steps and --all", 2)
    run("down", {"target": target, "steps": steps, "everything": everything, "method": method,
                 "cascade": cascade, "yes": yes}, as_json, "rolled back")


@fleet_app.command()
@handle_errors
def status(as_json: bool = JSON) -> None:
    """A version matrix: each target's version and pending count; which are behind."""
    run("status", {}, as_json, "read")


@fleet_app.command()
@handle_errors
def plan(
    target: str | None = typer.Argument(None, help="Migration id or version to stop at."),
    only: bool = typer.Option(False, "--only", help="Only TARGET and its dependencies."),
    as_json: bool = JSON,
) -> None:
    """What `up` would run on every target."""
    run("plan", {"target": target, "only": only}, as_json, "planned")


@fleet_app.command()
@handle_errors
def check(as_json: bool = JSON) -> None:
    """Integrity checks on every target; exit 4 when one has problems."""
    run("check", {}, as_json, "checked")


@backup_app.command("create")
@handle_errors
def backup_create(
    backup_type: str | None = typer.Option(None, "--type", "-t", help="Backup type."),
    as_json: bool = JSON,
) -> None:
    """Take a backup of every target (into backups_dir/<target>)."""
    if backup_type == "none":
        raise fail("--type none makes no backup", 2)
    run("backup", {"type": backup_type}, as_json, "backed up")
