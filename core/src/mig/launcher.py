"""The ``mig`` executable's entry point, and the caches that keep ``mig --help`` fast.

``mig``, ``mig -h`` and ``mig --help`` print a help text kept in ``$XDG_CACHE_HOME/mig/``
(``~/.cache/mig/``), so they need neither typer nor the plugins: typer alone takes most of
the 80 ms that ``mig --help`` may. Every other command line goes to :mod:`mig.cli`.

The help lists plugin commands, which means loading every plugin (and the database drivers
they import). Their names and summaries are cached too (:func:`cached_summaries`). Both
caches are rebuilt, through typer and the plugin manager, when anything they depend on
changes: a folder of ``sys.path`` (installing or removing a package changes its
site-packages folder), a plugin's module or the file defining one of its commands, mig's own
command-line modules, a config file that could hold ``[mig.plugins] disable`` (``mig.toml``
or ``pyproject.toml`` here or in a parent folder, ``MIG_CONFIG``), the terminal's width, or
``MIG_DISABLE_PLUGIN_AUTOLOAD``. ``MIG_NO_CACHE=1`` turns every cache of :mod:`mig.caches` off.
Running a plugin
command never uses them: it loads the plugins.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable
from typing import Any

from .caches import enabled, mtime, paths_key, read, write

HELP_ARGS = ((), ("-h",), ("--help",))
Rows = list[tuple[str, str]]


def main() -> None:
    """Run ``mig``: the help from the cache when that is all that was asked, else the CLI."""
    if tuple(sys.argv[1:]) in HELP_ARGS and enabled():
        text = _cached_help()
        if text is not None:
            sys.stdout.write(text)
            sys.stdout.flush()
            return
    from .cli import main as cli_main

    cli_main()


def _config_files(explicit: str | None) -> list[str]:
    """Every file the configuration (and so its disabled plugins) may come from, found
    without reading any: cheaper than parsing TOML on every ``mig --help``."""
    found = [explicit] if explicit else []
    if os.environ.get("MIG_CONFIG"):
        found.append(os.environ["MIG_CONFIG"])
    folder = os.getcwd()
    while True:
        found += [os.path.join(folder, "mig.toml"), os.path.join(folder, "pyproject.toml")]
        parent = os.path.dirname(folder)
        if parent == folder:
            return found
        folder = parent


def _key(explicit: str | None) -> dict[str, Any]:
    return {
        **paths_key(),
        "config": [[p, mtime(p)] for p in _config_files(explicit)],
        "autoload": os.environ.get("MIG_DISABLE_PLUGIN_AUTOLOAD", ""),
    }


def cached_summaries(load: Callable[[], tuple[Rows, list[str]]], config: str | None) -> Rows:
    """``(name, summary)`` of every plugin command: from the cache while it is fresh, else
    from ``load()`` (which loads the plugins and also returns the files to watch).
    ``config`` is the ``--config`` given, if any."""
    if not enabled():
        return load()[0]
    key = _key(config)
    data = read("plugin-commands", key)
    if data is not None:
        return [(str(name), str(text)) for name, text in data["commands"]]
    rows, files = load()
    write("plugin-commands", {"key": key, "commands": rows,
                               "files": [[f, mtime(f)] for f in sorted(set(files))]})
    return rows


def _width() -> int:
    """The terminal width the help is wrapped to, as click computes it (at most 80)."""
    try:
        columns = int(os.environ.get("COLUMNS", "0"))
    except ValueError:
        columns = 0
    if columns <= 0:
        try:
            columns = os.get_terminal_size(sys.__stdout__.fileno()).columns  # type: ignore[union-attr]
        except (AttributeError, ValueError, OSError):
            columns = 80
    columns = columns if columns > 0 else 80
    return max(min(columns, 80) - 2, 50)


def _help_key(prog: str) -> dict[str, Any]:
    return {**_key(None), "width": _width(), "prog": prog}


def _cached_help() -> str | None:
    data = read("help", _help_key(os.path.basename(sys.argv[0])))
    return str(data["text"]) if data is not None else None


def remember_help(text: str, prog: str) -> None:
    """Keep the root help the CLI just printed, for the next ``mig --help``; it goes stale
    with the plugin commands it lists and with mig's own command-line modules."""
    if not enabled():
        return
    from pathlib import Path

    cli = Path(__file__).parent / "cli"
    files = [str(p) for p in cli.glob("*.py")] + [str(Path(__file__).parent / "__init__.py")]
    plugins = read("plugin-commands", _key(None))
    if plugins is not None:
        files += [f for f, _ in plugins["files"]]
    write("help", {"key": _help_key(prog), "text": text,
                    "files": [[f, mtime(f)] for f in sorted(set(files))]})
