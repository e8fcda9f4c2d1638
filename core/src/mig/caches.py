"""Small JSON caches in ``$XDG_CACHE_HOME/mig/`` (``~/.cache/mig/``) that keep start-up
cheap: the help text and plugin commands (:mod:`mig.launcher`) and the ``mig`` entry points
(:mod:`mig.plugins`).

A cached value carries a key (the interpreter, the folders of ``sys.path`` with their
modification times, and whatever else its user adds) and a list of files with theirs; it is
used only while both still match. Installing or removing a package changes its
site-packages folder, so a new or removed plugin is seen at once. ``MIG_NO_CACHE=1`` turns
every cache off; a cache that cannot be read or written is simply not used.
"""

from __future__ import annotations

import json
import os
import sys
import zlib
from typing import Any

NO_CACHE_ENV = "MIG_NO_CACHE"


def enabled() -> bool:
    return os.environ.get(NO_CACHE_ENV, "") not in ("1", "true")


def cache_dir() -> str:
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return os.path.join(base, "mig")


def _cache_file(kind: str) -> str:
    tag = zlib.crc32(sys.prefix.encode()) & 0xFFFFFFFF
    return os.path.join(cache_dir(), f"{kind}-{tag:08x}.json")


def mtime(path: str) -> int:
    try:
        return os.stat(path).st_mtime_ns
    except OSError:
        return -1


def paths_key() -> dict[str, Any]:
    """What every cached value depends on: the interpreter and the folders it imports from."""
    return {"prefix": sys.prefix, "paths": [[p, mtime(p)] for p in sys.path if p]}


def read(kind: str, key: dict[str, Any]) -> Any:
    """The cached record of ``kind`` if its key matches and none of its files changed."""
    try:
        with open(_cache_file(kind), encoding="utf-8") as fh:
            data = json.load(fh)
        if data["key"] == key and all(mtime(f) == m for f, m in data.get("files", ())):
            return data
    except (OSError, ValueError, KeyError, TypeError):
        pass
    return None


def write(kind: str, record: dict[str, Any]) -> None:
    """Keep ``record`` (with its ``key`` and ``files``) as the cached ``kind``."""
    path = _cache_file(kind)
    try:
        os.makedirs(os.path.dirname(path), exist_ok=True)
        tmp = f"{path}.{os.getpid()}.tmp"
        with open(tmp, "w", encoding="utf-8") as fh:
            json.dump(record, fh)
        os.replace(tmp, path)
    except OSError:  # a read-only home: no cache, the output is still right
        pass


def entry_points(group: str) -> list[tuple[str, str, str | None, str | None]]:
    """``(name, value, distribution, version)`` of the installed entry points of ``group``,
    as :func:`importlib.metadata.entry_points` finds them (which scans every installed
    distribution and imports the email package: about 50 ms of each command's start-up)."""
    key = paths_key()
    data = read(f"entry-points-{group}", key) if enabled() else None
    if data is not None:
        return [(str(n), str(v), d, ver) for n, v, d, ver in data["entry_points"]]
    from importlib.metadata import entry_points as scan

    found = []
    for ep in scan(group=group):
        dist = getattr(ep, "dist", None)
        found.append((ep.name, ep.value, dist.name if dist else None,
                      dist.version if dist else None))
    if enabled():
        write(f"entry-points-{group}", {"key": key, "entry_points": found})
    return found
