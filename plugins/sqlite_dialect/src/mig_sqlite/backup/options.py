"""``[mig.options.incremental]``: the settings of incremental backups, checked up front."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, fields
from typing import Any

from mig import ConfigError

from .pages import HASHES

#: Version of the parts' layout, kept in every manifest's ``extra``: 2 keeps a sparse page
#: index in increments, 3 the block digests in every index (see :mod:`.pages`); chains of
#: formats 1 and 2 are still read and built on.
FORMAT = 3
READABLE_FORMATS = (1, 2, 3)
CHECKS = ("quick_check", "integrity_check", "pages")


@dataclass(frozen=True)
class Options:
    #: The most increments on one base; the next backup starts a new chain.
    max_chain: int = 50
    #: Page hash: ``xxh3`` (XXH3-128), ``sha256`` or ``blake2b`` (both kept to 128 bits).
    hash: str = "xxh3"
    #: Threads that hash pages (hashlib releases the GIL, so each can use a core).
    threads: int = min(4, os.cpu_count() or 1)
    #: When more than this share of the pages changed, a new base is cheaper to keep.
    rebase_ratio: float = 0.5
    #: What checks a rebuilt database before it replaces the old one, on top of comparing
    #: every page the increments wrote with the page index: nothing more (``pages``: the
    #: parts' SHA-256 and the index already prove the file is, byte for byte, the database as
    #: it was backed up), or SQLite's ``quick_check`` or ``integrity_check`` as well.
    check: str = "pages"

    @classmethod
    def from_table(cls, table: Mapping[str, Any]) -> Options:
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(table) - known)
        if unknown:
            raise ConfigError(f"unknown key {unknown[0]!r} in [mig.options.incremental]"
                              f" (known: {', '.join(sorted(known))})")
        options = cls(**table)
        _positive_int("max_chain", options.max_chain)
        _positive_int("threads", options.threads)
        if options.hash not in HASHES:
            raise ConfigError(f"incremental.hash must be one of {', '.join(HASHES)},"
                              f" not {options.hash!r}")
        ratio = options.rebase_ratio
        if isinstance(ratio, bool) or not isinstance(ratio, int | float) or ratio <= 0:
            raise ConfigError(f"incremental.rebase_ratio must be a positive number, not {ratio!r}")
        if options.check not in CHECKS:
            raise ConfigError(f"incremental.check must be one of {', '.join(CHECKS)},"
                              f" not {options.check!r}")
        return options


def _positive_int(key: str, value: Any) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ConfigError(f"incremental.{key} must be a whole number of at least 1, not {value!r}")
