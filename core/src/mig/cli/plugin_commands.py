"""The names and summaries of plugin commands for ``mig --help``, cached on disk.

Listing plugin commands means loading every plugin (and the database drivers they import),
which costs far more than the 80 ms ``mig --help`` may take. The list is kept in
``$XDG_CACHE_HOME/mig/`` (``~/.cache/mig/``) and rebuilt through the plugin manager when
anything it depends on changes: a folder of ``sys.path`` (installing or removing a package
changes its site-packages folder), a plugin's module or the file defining one of its
commands, a config file that could hold ``[mig.plugins] disable`` (``mig.toml`` or
``pyproject.toml`` here or in a parent folder, ``--config``, ``MIG_CONFIG``), or
``MIG_DISABLE_PLUGIN_AUTOLOAD``. ``MIG_NO_CACHE=1`` turns
the cache off. Running a plugin command never uses the cache: it loads the plugins.
"""

from __future__ import annotations

import json
import os
import sys
import zlib
from collections.abc import Callable
from pathlib import Path
from typing import Any

NO_CACHE_ENV = "MIG_NO_CACHE"
Rows = list[tuple[str, str]]


def cache_file() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    tag = zlib.crc32(sys.prefix.encode()) & 0xFFFFFFFF
    return Path(base) / "mig" / f"plugin-commands-{tag:08x}.json"


def _mtime(path: str) -> int:
    try:
        return os.stat(path).st_mtime_ns
    except OSError:
        return -1


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
        "prefix": sys.prefix,
        "paths": [[p, _mtime(p)] for p in sys.path if p],
        "config": [[p, _mtime(p)] for p in _config_files(explicit)],
        "autoload": os.environ.get("MIG_DISABLE_PLUGIN_AUTOLOAD", ""),
    }


def cached_summaries(load: Callable[[], tuple[Rows, list[str]]], config: str | None) -> Rows:
    """``(name, summary)`` of every plugin command: from the cache while it is fresh, else
    from ``load()`` (which loads the plugins and also returns the files to watch).
    ``config`` is the ``--config`` given, if any."""
    if os.environ.get(NO_CACHE_ENV, "") in ("1", "true"):
        return load()[0]
    path = cache_file()
    key = _key(config)
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        if data["key"] == key and all(_mtime(f) == m for f, m in data["files"]):
            return [(str(name), str(text)) for name, text in data["commands"]]
    except (OSError, ValueError, KeyError, TypeError):
        pass
    rows, files = load()
    record = {"key": key, "files": [[f, _mtime(f)] for f in sorted(set(files))],
              "commands": rows}
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(f"{path.name}.{os.getpid()}.tmp")
        tmp.write_text(json.dumps(record), encoding="utf-8")
        os.replace(tmp, path)
    except OSError:  # a read-only home: no cache, the list is still right
        pass
    return rows
