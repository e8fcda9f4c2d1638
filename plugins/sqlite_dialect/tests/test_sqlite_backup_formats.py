"""SQLite's incremental backup formats and settings, without a database: page hashes, page
deltas and ``[mig.options.incremental]``. Whole backups and restores through the CLI are in
mig-backup-incremental's tests."""

from __future__ import annotations

import contextlib
import os
import sqlite3
import subprocess
import sys
from collections.abc import Iterator
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
        one = pages.hash_pages(fd, 4096, 700, "sha256", 1).pages
        many = pages.hash_pages(fd, 4096, 700, "sha256", 4).pages
    finally:
        os.close(fd)
    assert one == many and len(one) == 700 * 16
    old = pages.Index("sha256", 4096, 690, one[: 690 * 16])
    changed = bytearray(one)
    changed[5 * 16] ^= 1
    assert pages.changed_pages(old, bytes(changed), 16) == [6, *range(691, 701)]
    assert list(pages.runs([1, 2, 3, 7, 9, 10])) == [(1, 3), (7, 1), (9, 2)]


@pytest.mark.parametrize("hash_name", ["xxh3", "sha256"])
def test_hashing_from_the_previous_block_digests_finds_every_changed_page(
    tmp_path: Path, hash_name: str
) -> None:
    """An increment hashes page by page only the blocks whose digest changed: its page
    digests must equal hashing every page again, whatever changed (a page in the middle, the
    last page of a shorter file, pages added at the end)."""
    image = tmp_path / "image"
    image.write_bytes(os.urandom(4096 * 100))
    fd = os.open(image, os.O_RDWR)
    try:
        before = pages.hash_pages(fd, 4096, 98, hash_name, 1, seed=7)
        for offset in (4096 * 40 + 100, 4096 * 97 + 5):  # page 41; page 98, in the last
            # (partial) block before. Flipped, not overwritten: a random byte may already
            # be the one written.
            os.pwrite(fd, bytes([os.pread(fd, 1, offset)[0] ^ 0xFF]), offset)
        after = pages.hash_pages(fd, 4096, 100, hash_name, 1, seed=7, previous=before)
        fresh = pages.hash_pages(fd, 4096, 100, hash_name, 1, seed=7)
    finally:
        os.close(fd)
    assert after == fresh
    old = pages.Index(hash_name, 4096, 98, before.pages)
    assert pages.changed_pages(old, after.pages, 16) == [41, 98, 99, 100]


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
    raw[pages.DELTA_HEADER.size + 4: pages.DELTA_HEADER.size + 8] = (4).to_bytes(4, "little")
    delta.write_bytes(bytes(raw[:-10]))  # small deltas are compressed: found when inflated
    truncated = pages.Delta.open(delta, "test")
    assert truncated.compressed
    out = os.open(tmp_path / "image", os.O_RDWR | os.O_CREAT)
    try:
        with pytest.raises(BackupError, match="compressed pages are damaged"):
            truncated.apply(out)
    finally:
        os.close(out)


def test_compressed_delta_replays_the_pages_exactly(tmp_path: Path) -> None:
    """A small delta is stored compressed; replayed, it writes its pages byte for byte."""
    source = tmp_path / "source"
    content = os.urandom(4096 * 3) + bytes(4096 * 3)  # random pages and empty ones
    source.write_bytes(content)
    delta = tmp_path / "delta"
    fd = os.open(source, os.O_RDONLY)
    try:
        pages.write_delta(fd, delta, 4096, 6, [1, 2, 4, 5, 6], "test")
    finally:
        os.close(fd)
    opened = pages.Delta.open(delta, "test")
    assert opened.compressed and delta.stat().st_size < 4096 * 4
    image = tmp_path / "image"
    image.write_bytes(b"x" * 4096 * 6)
    out = os.open(image, os.O_RDWR)
    try:
        opened.apply(out)
    finally:
        os.close(out)
    got = image.read_bytes()
    for page in (1, 2, 4, 5, 6):
        assert got[(page - 1) * 4096:page * 4096] == content[(page - 1) * 4096:page * 4096]
    assert got[2 * 4096:3 * 4096] == b"x" * 4096


def test_hashing_through_the_map_matches_reading(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    image = tmp_path / "image"
    image.write_bytes(os.urandom(4096 * 300))
    fd = os.open(image, os.O_RDONLY)
    try:
        mapped = pages.hash_pages(fd, 4096, 300, "xxh3", 2, seed=3)

        @contextlib.contextmanager
        def unmappable(fd: int, length: int, what: str) -> Iterator[None]:
            yield None  # as where libc has no mmap: the pages are read instead

        monkeypatch.setattr(pages, "mapped", unmappable)
        read = pages.hash_pages(fd, 4096, 300, "xxh3", 2, seed=3)
    finally:
        os.close(fd)
    assert mapped == read and len(mapped.pages) == 300 * 16


def test_hashing_a_file_shorter_than_its_page_count_is_refused(tmp_path: Path) -> None:
    image = tmp_path / "image"
    image.write_bytes(os.urandom(4096 * 10))
    fd = os.open(image, os.O_RDONLY)
    try:
        with pytest.raises(BackupError, match="ended early"):
            pages.hash_pages(fd, 4096, 11, "xxh3", 1)
    finally:
        os.close(fd)


def test_hashing_keeps_the_read_transactions_lock(tmp_path: Path) -> None:
    """Closing any descriptor of a file drops every POSIX lock the process holds on it
    (Python's mmap closes a duplicate of its own): hashing the pages must leave the read
    transaction's lock in place, so that no other process can commit meanwhile."""
    db = tmp_path / "app.db"
    conn = sqlite3.connect(db, isolation_level=None)
    conn.execute("CREATE TABLE t (x)")
    conn.executemany("INSERT INTO t VALUES (?)", [(os.urandom(500),) for _ in range(2000)])
    conn.execute("BEGIN")
    conn.execute("SELECT count(*) FROM t").fetchone()  # SHARED lock held
    fd = os.open(db, os.O_RDONLY)
    try:
        page_count = conn.execute("PRAGMA page_count").fetchone()[0]
        pages.hash_pages(fd, 4096, page_count, "xxh3", 1)
        writer = subprocess.run(
            [sys.executable, "-c", "import sqlite3, sys; c = sqlite3.connect(sys.argv[1],"
             " timeout=0, isolation_level=None); c.execute('DELETE FROM t')", str(db)],
            capture_output=True, text=True, timeout=60)
    finally:
        os.close(fd)
        conn.execute("COMMIT")
        conn.close()
    assert writer.returncode != 0 and "database is locked" in writer.stderr
