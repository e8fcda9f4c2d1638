"""SQLite's incremental backup formats and settings, without a database: page hashes, page
deltas and ``[mig.options.incremental]``. Whole backups and restores through the CLI are in
mig-backup-incremental's tests."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from mig import BackupError, ConfigError
from mig_sqlite.backup import pages
from mig_sqlite.backup.options import Options


def test_options_are_checked() -> None:
    assert Options.from_table({}) == Options()
    with pytest.raises(ConfigError, match="unknown key 'max_chains'"):
        Options.from_table({"max_chains": 3})
    with pytest.raises(ConfigError, match="max_chain"):
        Options.from_table({"max_chain": 0})
    with pytest.raises(ConfigError, match="hash"):
        Options.from_table({"hash": "md5"})
    with pytest.raises(ConfigError, match="check"):
        Options.from_table({"check": "none"})


def test_hashing_with_threads_matches_one_thread(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    image = tmp_path / "image"
    image.write_bytes(os.urandom(4096 * 700))
    fd = os.open(image, os.O_RDONLY)
    try:
        monkeypatch.setattr(pages, "CHUNK", 4096 * 64)
        one = pages.hash_pages(fd, 4096, 700, "sha256", 1)
        many = pages.hash_pages(fd, 4096, 700, "sha256", 4)
    finally:
        os.close(fd)
    assert one == many and len(one) == 700 * 16
    old = pages.Index("sha256", 4096, 690, one[: 690 * 16])
    changed = bytearray(one)
    changed[5 * 16] ^= 1
    assert pages.changed_pages(old, bytes(changed), 16) == [6, *range(691, 701)]
    assert list(pages.runs([1, 2, 3, 7, 9, 10])) == [(1, 3), (7, 1), (9, 2)]


def test_delta_with_pages_out_of_range_is_refused(tmp_path: Path) -> None:
    source = tmp_path / "source"
    source.write_bytes(os.urandom(4096 * 4))
    delta = tmp_path / "delta"
    fd = os.open(source, os.O_RDONLY)
    try:
        pages.write_delta(fd, delta, 4096, 4, [2, 4], "test")
    finally:
        os.close(fd)
    assert pages.Delta.open(delta, "test").pages == [2, 4]
    raw = bytearray(delta.read_bytes())
    raw[pages.DELTA_HEADER.size + 4: pages.DELTA_HEADER.size + 8] = (9).to_bytes(4, "little")
    delta.write_bytes(bytes(raw))
    with pytest.raises(BackupError, match="out of order or range"):
        pages.Delta.open(delta, "test")
    delta.write_bytes(bytes(raw[:-10]))
    with pytest.raises(BackupError, match="header says"):
        pages.Delta.open(delta, "test")
