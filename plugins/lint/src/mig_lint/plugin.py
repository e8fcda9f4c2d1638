"""Hook implementations of mig-lint: the ``mig lint`` command and the built-in rules, which
come through ``mig_register_lint_rules`` exactly as a third-party plugin's rules would."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from mig import hookimpl

if TYPE_CHECKING:
    import typer

MIG_API_VERSION = 1


@hookimpl
def mig_cli_commands(app: typer.Typer) -> None:
    from .cli import register

    register(app)


@hookimpl
def mig_register_lint_rules() -> list[Any]:
    from .rules import BUILTIN_RULES

    return list(BUILTIN_RULES)
