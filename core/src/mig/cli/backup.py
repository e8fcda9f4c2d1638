"""``mig backup ...``: create, list, verify, restore and prune backups."""

from __future__ import annotations

import typer

from . import _Group, app, engine, fail, handle_errors, print_json
from .migrate import ask

backup_app = typer.Typer(cls=_Group, help="Manage backups.", rich_markup_mode=None)
app.add_typer(backup_app, name="backup")


@backup_app.command("create")
@handle_errors
def create(
    backup_type: str | None = typer.Option(
        None, "--type", "-t", metavar="TYPE",
        help="full | schema | data | incremental (default: the config's backup)"
    ),
    as_json: bool = typer.Option(False, "--json", help="Print the manifest."),
) -> None:
    """Take a backup now and print its id."""
    eng = engine()
    chosen = backup_type or (eng.config.backup if eng.config.backup != "none" else "full")
    if chosen == "none":
        raise fail("--type none makes no backup", 2)
    info = eng.create_backup(chosen)
    if as_json:
        manifest = eng.backups().get(info.backup_id)
        print_json(manifest.data)
    else:
        typer.echo(info.backup_id)


@backup_app.command("list")
@handle_errors
def list_(as_json: bool = typer.Option(False, "--json", help="Machine-readable output.")) -> None:
    """Every backup in storage, oldest first.

    Read from the manifests; then the damaged ones (their manifest cannot be read) and
    what killed runs left behind (incomplete)."""
    service = engine().backups()
    store = service.scan()
    leftovers = service.leftovers(store)
    if as_json:
        print_json(
            [{**m.info.to_dict(), "damaged": False, "incomplete": False, "error": None}
             for m in store.manifests]
            + [d.to_dict() for d in store.damaged]
            + [item.to_dict() for item in leftovers]
        )
        return
    if not (store.manifests or store.damaged or leftovers):
        typer.echo("no backups")
        return
    if store.manifests:
        typer.echo(f"{'BACKUP':<36} {'TYPE':<12} {'SIZE MB':>9}  {'BEFORE':<28} PARENT")
    for m in store.manifests:
        r = m.info.to_dict()
        typer.echo(
            f"{r['backup_id']:<36} {r['backup_type']:<12} {r['size_mb']:>9.3f}  "
            f"{r['migration_id'] or '-':<28} {r['parent_id'] or '-'}"
        )
    for d in store.damaged:
        typer.echo(f"{d.backup_id:<36} damaged: {d.error}")
    for item in leftovers:
        state = "in progress" if item.in_use else "incomplete"
        typer.echo(f"{item.name:<36} {state}: {item.describe()}")


@backup_app.command("verify")
@handle_errors
def verify(
    backup_id: str | None = typer.Argument(None, help="Backup id (default: every backup)."),
) -> None:
    """Check the checksums of a backup and its chain, or of every backup."""
    eng = engine()
    if backup_id is not None:
        chain = eng.verify_backup(backup_id)
        typer.echo(f"{chain[-1].backup_id}: OK ({len(chain)} link(s) checked)")
        return
    problems = [p for p in eng.backups().problems() if not p.message.startswith("incomplete")]
    count = len(eng.backups().manifests())
    for p in problems:
        typer.echo(f"{p.check}: {p.message}", err=True)
    if problems:
        raise typer.Exit(1)
    typer.echo(f"{count} backup(s): OK")


@backup_app.command("restore")
@handle_errors
def restore(
    backup_id: str = typer.Argument(..., help="Backup id (a unique prefix will do)."),
    yes: bool = typer.Option(False, "--yes", "-y", help="Do not ask for confirmation."),
) -> None:
    """Verify and restore a backup.

    Migrations applied since it are recorded as rolled back."""
    eng = engine()
    manifest = eng.backups().get(backup_id)
    typer.echo(f"-- over {eng.dialect.display_url()}:")
    for line in eng.backups().notice(manifest.info.backup_id).lines():
        typer.echo(f"-- {line}")
    ask("Replace the database with this backup?", yes)
    record = eng.restore_backup(manifest.info.backup_id, confirm=True)
    typer.echo(f"restored {manifest.info.backup_id} (execution {record.execution_id});"
               f" database is at version {eng.shown_version() or '(none)'}")


@backup_app.command("prune")
@handle_errors
def prune(
    keep_days: int | None = typer.Option(
        None, "--keep-days", metavar="DAYS", help="Keep backups younger."
    ),
    keep_count: int | None = typer.Option(
        None, "--keep-count", metavar="N", help="Keep the newest N."
    ),
) -> None:
    """Delete old backups (never one a kept chain or a rollback needs)."""
    if (keep_days is not None and keep_days < 0) or (keep_count is not None and keep_count < 0):
        raise fail("--keep-days and --keep-count must not be negative", 2)
    eng = engine()
    from ..backups import human_size

    removed = eng.cleanup_old_backups(keep_days, keep_count)
    report = eng.backups().last_prune
    typer.echo(f"removed {removed} backup(s)")
    if report.reclaimed:
        typer.echo(f"reclaimed {len(report.reclaimed)} incomplete item(s),"
                   f" {human_size(report.reclaimed_bytes)}:")
        for item in report.reclaimed:
            typer.echo(f"  {item.describe()}")
    for backup_id in report.forgotten:
        typer.echo(f"forgot {backup_id}: deleted outside mig (recorded in `mig history`)")
    for backup_id in report.catalogued:
        typer.echo(f"catalogued {backup_id}: stored by a run that was killed")
    for item in report.left:
        why = ("" if item.refused else ": in use by a running operation" if item.in_use
               else ": changed while pruning")
        typer.echo(f"left {item.describe()}{why}", err=True)
    for d in report.damaged:
        typer.echo(f"kept damaged backup {d.backup_id} (not read, not removed): {d.error}",
                   err=True)
