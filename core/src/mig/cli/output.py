"""What a person sees: colour (only on a terminal, never with ``NO_COLOR`` or
``--no-color``) and the progress of a run (count, elapsed time and ETA, drawn with rich,
which is imported only when a run shows progress on a terminal)."""

from __future__ import annotations

import os
import sys
import time
from typing import Any

import typer

STATUS_COLOURS = {"COMPLETED": "green", "FAILED": "red", "ROLLED_BACK": "yellow",
                  "RUNNING": "cyan", "applied": "green", "rolled back": "yellow"}


def colour_on(err: bool = False) -> bool:
    """Whether to colour stdout (or stderr): a terminal, no ``NO_COLOR``, no ``--no-color``."""
    from . import options

    if options.no_color or os.environ.get("NO_COLOR"):
        return False
    return (sys.stderr if err else sys.stdout).isatty()


def paint(text: str, fg: str | None = None, *, bold: bool = False, err: bool = False) -> str:
    """``text`` in colour when :func:`colour_on`, else unchanged."""
    return typer.style(text, fg=fg, bold=bold) if colour_on(err) else text


def status_word(status: str, width: int = 0) -> str:
    """A status (``COMPLETED``, ``FAILED``, ...) padded to ``width``, in its colour."""
    return paint(status.ljust(width), STATUS_COLOURS.get(status))


class ProgressLine:
    """Prints a line per migration done (to stdout, unless ``quiet``) and, on a terminal, a
    progress bar on stderr with the count, elapsed time and ETA. Remembers where a run got
    to, so that an interrupted run can say where it stopped."""

    def __init__(self, label: str, quiet: bool = False) -> None:
        self.label = label
        self.quiet = quiet
        self.enabled = sys.stderr.isatty()
        self.total = 0
        self.completed = 0
        self.current: str | None = None
        self.first: str | None = None
        self.started = time.monotonic()
        self._bar: Any = None
        self._task: Any = None

    def __call__(self, done: int, total: int, migration: Any, execution: Any) -> None:
        self.total = total
        if execution is None:
            self.current = migration.id if migration is not None else None
            self.first = self.first or self.current
            if self.enabled and total > 1:
                self._show(done, total, migration.id)
            return
        self.current = None
        status = execution.status.value
        if status == "COMPLETED":
            self.completed += 1
        if not self.quiet:
            word = {"COMPLETED": self.label, "FAILED": "FAILED", "ROLLED_BACK": "undone"}.get(
                status, status.lower()
            )
            ms = execution.execution_time * 1000
            colour = STATUS_COLOURS.get(status, STATUS_COLOURS.get(word))
            self._print(f"{paint(f'{word:<12}', colour)} {execution.migration_id} ({ms:.1f} ms)")
        if self._bar is not None:
            self._bar.update(self._task, completed=done)

    def _show(self, done: int, total: int, migration_id: str) -> None:
        if self._bar is None:
            from rich.console import Console
            from rich.progress import (
                BarColumn,
                MofNCompleteColumn,
                Progress,
                TextColumn,
                TimeElapsedColumn,
                TimeRemainingColumn,
            )

            console = Console(stderr=True, no_color=not colour_on(err=True), highlight=False)
            self._bar = Progress(
                TextColumn("{task.description}"), BarColumn(bar_width=30),
                MofNCompleteColumn(), TextColumn("elapsed"), TimeElapsedColumn(),
                TextColumn("ETA"), TimeRemainingColumn(),
                console=console, transient=True, redirect_stdout=False, redirect_stderr=False,
            )
            self._task = self._bar.add_task(migration_id, total=total)
            self._bar.start()
        self._bar.update(self._task, completed=done, description=migration_id[:40])

    def _print(self, line: str) -> None:
        if self._bar is not None and sys.stdout.isatty():
            from rich.text import Text

            self._bar.console.print(Text.from_ansi(line), soft_wrap=True)
        else:
            typer.echo(line)

    def close(self) -> None:
        """Take the bar off the screen (at the end of a run, or when it stops)."""
        if self._bar is not None:
            self._bar.stop()
            self._bar = None

    def elapsed(self) -> float:
        return time.monotonic() - self.started
