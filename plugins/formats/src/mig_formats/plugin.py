"""Hook implementations of mig-formats."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from mig import hookimpl

if TYPE_CHECKING:
    import typer
    from mig import Migration

MIG_API_VERSION = 1


@hookimpl
def mig_load_migrations(directory: Path, format: str) -> list[Migration] | None:
    from .registry import load_folder  # only for a folder not in mig's own format

    found = load_folder(directory, format)
    return None if found is None else found[1]


@hookimpl
def mig_cli_commands(app: typer.Typer) -> None:
    from .cli import register

    register(app)
