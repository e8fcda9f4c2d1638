"""Hook implementations of the ``migtest`` plugin: the ``mig test`` command."""

from __future__ import annotations

import typer
from mig import hookimpl

MIG_API_VERSION = 1


@hookimpl
def mig_cli_commands(app: typer.Typer) -> None:
    from .cli import register

    register(app)
