"""Hook implementations of the ``diff`` plugin: the ``mig diff`` command."""

from __future__ import annotations

from typing import TYPE_CHECKING

from mig import hookimpl

if TYPE_CHECKING:
    import typer

MIG_API_VERSION = 1


@hookimpl
def mig_cli_commands(app: typer.Typer) -> None:
    from .command import diff

    app.command("diff")(diff)
