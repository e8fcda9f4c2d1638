"""``mig diff``: what differs between the live schema and the migrations' (or between two
databases), as lines, JSON or a migration."""

from __future__ import annotations

from typing import TYPE_CHECKING

import typer
from mig.cli import engine, fail, handle_errors, options, print_json

if TYPE_CHECKING:
    from .compare import Comparison

#: Exit code when the two schemas differ (SPEC §6: check problems).
DIFFERENT = 4


@handle_errors
def diff(
    from_url: str | None = typer.Option(
        None, "--from-url", help="Compare this database (instead of the migrations' schema)..."),
    to_url: str | None = typer.Option(
        None, "--to-url", help="...with this one (instead of the live database)."),
    as_json: bool = typer.Option(False, "--json", help="Machine-readable output."),
    sql: bool = typer.Option(
        False, "--sql", help="Print a migration whose UP turns FROM into TO, DOWN back."),
    new: str | None = typer.Option(
        None, "--new", metavar="NAME", help="Write that migration as the next file."),
) -> None:
    """The live schema against the one the applied migrations produce (built in a scratch
    database); exit 4 when they differ."""
    from .api import default_head, migration_text, new_migration
    from .render import render

    if (from_url is None) != (to_url is None):
        raise fail("--from-url and --to-url go together", 2)
    if new is not None and from_url is not None:
        raise fail("--new writes the difference of the live database to the migrations;"
                   " it does not take --from-url/--to-url (use --sql)", 2)
    if new is not None:
        with engine() as eng:
            path = new_migration(eng, new)
        if path is None:
            typer.echo("no differences; no migration written", err=True)
        else:
            typer.echo(str(path))
        return
    comparison = _compare(from_url, to_url)
    text = migration_text(render(comparison), default_head()) if sql and not \
        comparison.equal else None
    if as_json:
        data: dict[str, object] = {
            "equal": comparison.equal,
            "dialect": comparison.kind,
            "differences": [d.to_dict() for d in comparison.differences],
        }
        if sql:
            data["migration"] = text
        print_json(data)
    elif text is not None:
        typer.echo(text, nl=False)
    else:
        for difference in comparison.differences:
            typer.echo(difference.line)
    if not comparison.equal:
        raise typer.Exit(DIFFERENT)


def _compare(from_url: str | None, to_url: str | None) -> Comparison:
    from mig.config import load_config
    from mig.plugins import Plugins

    from .api import diff_live, diff_urls

    if from_url is None or to_url is None:
        with engine() as eng:
            return diff_live(eng)
    config = load_config(options.config, database=options.database)
    return diff_urls(Plugins(disable=config.disable).load(), from_url, to_url, config)
