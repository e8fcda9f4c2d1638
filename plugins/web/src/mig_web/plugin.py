"""Hook implementations of the ``web`` plugin: the ``mig serve`` command. Starlette, uvicorn
and the rest are imported only when the command runs, so ``mig --help`` stays fast."""

from __future__ import annotations

import typer
from mig import hookimpl

MIG_API_VERSION = 1


@hookimpl
def mig_cli_commands(app: typer.Typer) -> None:
    @app.command("serve")
    def serve(
        host: str | None = typer.Option(None, "--host",
                                        help="Address to bind (default 127.0.0.1)."),
        port: int | None = typer.Option(None, "--port", "-p",
                                        help="Port (default 8765; 0 picks a free one)."),
        read_only: bool = typer.Option(False, "--read-only", help="Show, never change."),
        no_token: bool = typer.Option(
            False, "--no-token", help="No access token (refused unless bound to loopback)."),
    ) -> None:
        """Serve the web interface: status, plan, history, graph, backups, and actions."""
        from mig.cli import handle_errors

        from .server import serve as run

        handle_errors(run)(host=host, port=port, read_only=read_only, no_token=no_token)
