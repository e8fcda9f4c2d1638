"""``mig backup ...``: create, list, verify, restore and prune backups."""

from __future__ import annotations

import typer

from . import app, engine, handle_errors, print_json

backup_app = typer.Typer(help="Manage backups.", no_args_is_help=True, rich_markup_mode=None)
app.add_typer(backup_app, name="backup")


@backup_app.command("create")
@handle_errors
def create(
    backup_type: str = typer.Option(None, "--type", "-t", help="full | schema | data | incremental"),
    as_json: bool = typer.Option(False, "--json", help="Print the manifest."),
) -> None:
    """Take a backup now and print its id."""
    eng = engine()
    info = eng.create_backup(backup_type or _default_type(eng))
    if as_json:
        print_json(info.to_dict())
    else:
        typer.echo(info.backup_id)


def _default_type(eng: object) -> str:
    configured = eng.config.backup  # type: ignore[attr-defined]
    return "full" if configured == "none" else configured
