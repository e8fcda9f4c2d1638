"""Page images, page-hash indexes and page deltas: the file formats of incremental backups.

Nothing here knows a database: a database is an array of ``page_count`` pages of
``page_size`` bytes read from a file descriptor.

``index`` part of a base (and of increments written by format 1)::

    header  "<8s12sHHIQ"  magic b"MIGPIDX1", hash name (NUL padded), digest size, pages
                          per block (0: no block digests, as format 1 and 2 wrote),
                          page size, page count
    body    page_count digests, page 1 first; then, with pages per block set, the digest of
            every block of that many pages of the image (the last may be shorter)

``index`` part of an increment (format 3): the same header with magic b"MIGPIDXP" and, as
body, the numbers of the pages its delta stores (little-endian uint32, ascending), their
digests in the same order, then the block digests of its whole image. (Format 2 wrote magic
b"MIGPIDXS" and only the digests: its page numbers are read from the delta.) The whole index
of an increment is its parent's, cut or grown to the new page count, with those digests put
in (:meth:`Index.updated`), so an increment costs its changed pages and a digest per
:data:`BLOCK` bytes, not a digest per page of the database; a chain's whole index is built
from its index parts alone. The block digests let the next increment, made by any process,
hash page by page only the blocks whose digest changed.

``data`` part of an increment::

    header  "<8sIIQQ"     magic b"MIGPDLT1", page size, flags, page count after the
                          change, number of pages stored
    body    that many little-endian uint32 page numbers (1-based, ascending), then the
            pages themselves in the same order; with flag 1 the pages are one zlib stream
            (small deltas only, up to :data:`COMPRESS_MAX` bytes of pages: a migration's
            pages are mostly free space and compress several times)

The ``data`` part of a base is the page image itself, byte for byte (a usable database file).
"""

from __future__ import annotations

import hashlib
import os
import struct
import sys
import threading
import zlib
from array import array
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

from mig import BackupError

from .mapped import mapped

INDEX_MAGIC = b"MIGPIDX1"
SPARSE_MAGIC = b"MIGPIDXP"
#: The sparse index of format 2, without page numbers.
SPARSE_MAGIC_2 = b"MIGPIDXS"
DELTA_MAGIC = b"MIGPDLT1"
INDEX_HEADER = struct.Struct("<8s12sHHIQ")
DELTA_HEADER = struct.Struct("<8sIIQQ")



def _sha256_pages(buf: memoryview, page_size: int, seed: int) -> bytes:
    sha = hashlib.sha256
    return b"".join([sha(buf[o:o + page_size]).digest()[:16]
                     for o in range(0, len(buf), page_size)])


def _blake2b_pages(buf: memoryview, page_size: int, seed: int) -> bytes:
    blake = hashlib.blake2b
    return b"".join([blake(buf[o:o + page_size], digest_size=16).digest()
                     for o in range(0, len(buf), page_size)])


def _xxh3_pages(buf: memoryview, page_size: int, seed: int) -> bytes:
    import xxhash

    xxh3 = xxhash.xxh3_128_digest
    return b"".join([xxh3(buf[o:o + page_size], seed) for o in range(0, len(buf), page_size)])


#: Hash name -> (digest size, function of a buffer of whole pages returning their digests).
#: The page hashes only find the pages that changed: what a backup stores is checked by the
#: SHA-256 of its parts (in the signed manifest), so the default is XXH3-128, several times
#: faster than SHA-256 (measured: 20 MiB of pages in 13 ms against 85 ms) with the same
#: negligible chance of two different pages sharing a digest by accident. XXH3 is not a
#: cryptographic hash, so each chain hashes with a random seed of its own (kept in the
#: manifests, which only the owner can read): page contents crafted to collide would have to
#: be made without knowing it. ``sha256`` (or ``blake2b``) leaves no such doubt, and the seed
#: unused.
HASHES: dict[str, tuple[int, Callable[[memoryview, int, int], bytes]]] = {
    "xxh3": (16, _xxh3_pages),
    "sha256": (16, _sha256_pages),
    "blake2b": (16, _blake2b_pages),
}

#: Deltas of at most this many bytes of pages are compressed (flag 1).
COMPRESS_MAX = 4 << 20
#: Below this many bytes one thread hashes (starting workers costs more than they save).
THREADED_HASH = 64 << 20
#: Bytes one worker reads and hashes at a time.
CHUNK = 4 << 20
#: Bytes per copy_file_range call: one call for a whole large file was slower (measured).
COPY_STEP = 64 << 20


@dataclass
class Index:
    """The digests of every page of one page image."""

    hash_name: str
    page_size: int
    page_count: int
    digests: bytes
    #: The digest of each block of :attr:`per_block` pages (empty: not kept, formats 1-2).
    blocks: bytes = b""
    per_block: int = 0
    #: A sparse index's stored pages (1-based, ascending), whose digests ``digests`` holds.
    stored: list[int] | None = None

    @property
    def digest_size(self) -> int:
        return HASHES[self.hash_name][0]

    def write(self, path: Path, pages: list[int] | None = None) -> None:
        """Write the whole index, or (``pages``, an increment's stored pages) only those
        pages and their digests: a sparse index."""
        size = self.digest_size
        body = self.digests if pages is None else _uint32_le(pages) + b"".join(
            self.digests[(page - 1) * size:page * size] for page in pages
        )
        header = INDEX_HEADER.pack(
            INDEX_MAGIC if pages is None else SPARSE_MAGIC, self.hash_name.encode(), size,
            self.per_block if self.blocks else 0, self.page_size, self.page_count,
        )
        with path.open("wb") as fh:
            fh.write(header)
            fh.write(body)
            fh.write(self.blocks)

    @classmethod
    def read(cls, path: Path, what: str, pages: list[int] | None = None) -> Index:
        """A whole index, or a sparse one as read (its ``digests`` those of its ``stored``
        pages; a sparse index of format 2 holds no page numbers: ``pages``, its delta's,
        must be given for it)."""
        data = path.read_bytes()
        try:
            magic, name, size, per_block, page_size, page_count = INDEX_HEADER.unpack_from(data)
        except struct.error:
            raise BackupError(f"{what}: the page index is truncated") from None
        hash_name = name.rstrip(b"\0").decode("ascii", "replace")
        if (magic not in (INDEX_MAGIC, SPARSE_MAGIC, SPARSE_MAGIC_2) or hash_name not in HASHES
                or HASHES[hash_name][0] != size):
            raise BackupError(f"{what}: not a page index of this format")
        blocks = -(-page_count // per_block) if per_block else 0
        body = data[INDEX_HEADER.size:]
        stored: list[int] | None = None
        if magic == SPARSE_MAGIC:
            n, extra = divmod(len(body) - blocks * size, 4 + size)
            if n < 0 or extra:
                raise BackupError(f"{what}: the page index is truncated")
            stored = _uint32_list(body[:4 * n])
            body = body[4 * n:]
            if pages is not None and pages != stored:
                raise BackupError(f"{what}: the page index does not list its delta's pages")
        elif magic == SPARSE_MAGIC_2:
            if pages is None:
                raise BackupError(f"{what}: a sparse page index needs its delta")
            stored = pages
        expected = page_count if stored is None else len(stored)
        if len(body) != (expected + blocks) * size:
            raise BackupError(f"{what}: the page index holds {len(body) // size} digests,"
                              f" its header says {expected} pages and {blocks} blocks")
        cut = expected * size
        return cls(hash_name, page_size, page_count, body[:cut], body[cut:], per_block, stored)

    @staticmethod
    def kind(path: Path) -> str:
        """``whole``, ``sparse`` (page numbers kept) or ``sparse-2`` (they are in the delta)."""
        with path.open("rb") as fh:
            magic = fh.read(len(INDEX_MAGIC))
        return {SPARSE_MAGIC: "sparse", SPARSE_MAGIC_2: "sparse-2"}.get(magic, "whole")

    def updated(self, sparse: Index, what: str) -> Index:
        """The whole index of an increment: this (its parent's) cut or grown to the
        increment's page count, with the digests of its stored pages put in."""
        size = self.digest_size
        pages = sparse.stored or []
        if (sparse.hash_name, sparse.page_size) != (self.hash_name, self.page_size):
            raise BackupError(f"{what}: its page index does not fit its parent's")
        digests = bytearray(self.digests[:sparse.page_count * size])
        digests.extend(bytes(sparse.page_count * size - len(digests)))
        for i, page in enumerate(pages):
            digests[(page - 1) * size:page * size] = sparse.digests[i * size:(i + 1) * size]
        return Index(self.hash_name, self.page_size, sparse.page_count, bytes(digests),
                     sparse.blocks, sparse.per_block)

    def hashed(self) -> Hashed | None:
        """The page and block digests as :func:`hash_pages` gives them, for the next
        increment; None when the blocks are not kept or are not of :data:`BLOCK` bytes."""
        if not self.blocks or self.per_block != max(1, BLOCK // self.page_size):
            return None
        return Hashed(self.digests, self.blocks, self.page_count)


def _per_span(page_size: int) -> int:
    """Pages read at a time: about :data:`CHUNK` bytes, whole blocks."""
    per_block = max(1, BLOCK // page_size)
    return max(1, CHUNK // page_size // per_block) * per_block


def _ranges(page_count: int, page_size: int) -> list[tuple[int, int]]:
    """Page ranges ``[first, end)`` of about :data:`CHUNK` bytes each (0-based), each
    starting on a block."""
    per = _per_span(page_size)
    return [(first, min(page_count, first + per)) for first in range(0, page_count, per)]


def _read_exact(fd: int, buf: memoryview, offset: int, what: str) -> None:
    done = 0
    while done < len(buf):
        got = os.preadv(fd, [buf[done:]], offset + done)
        if got == 0:
            raise BackupError(f"{what} ended early: the file is shorter than its page count says")
        done += got


#: Bytes per block of the block digests kept in memory between the backups of one process:
#: an increment hashes page by page only the blocks whose digest changed.
BLOCK = 256 << 10


#: Per thread, the read buffer of :func:`hash_pages` (a new one each call cost a run of small
#: migrations a 4 MiB allocation and its page faults per backup).
_BUFFERS = threading.local()


@dataclass
class Hashed:
    """The digests of an image's pages, and of its blocks of :data:`BLOCK` bytes (the last
    may be shorter), kept in memory for the next increment."""

    pages: bytes
    blocks: bytes
    page_count: int


def hash_pages(
    fd: int,
    page_size: int,
    page_count: int,
    hash_name: str,
    threads: int,
    *,
    what: str = "the database",
    seed: int = 0,
    previous: Hashed | None = None,
) -> Hashed:
    """The digests of pages 1..page_count of ``fd`` and of its blocks. With ``previous``
    (the same file's digests at the parent backup, hashed with the same hash and seed), a
    block whose digest is unchanged takes its pages' digests from there: one hash call per
    block instead of one per page. hashlib releases the GIL on buffers of a page or more,
    so ``threads`` workers use that many cores."""
    size, digest = HASHES[hash_name]
    per_block = max(1, BLOCK // page_size)
    out = bytearray(page_count * size)
    blocks = bytearray(-(-page_count // per_block) * size)
    buffers = _BUFFERS  # one read buffer per worker thread, reused by every call
    spans = _ranges(page_count, page_size)
    # Hashed in place through a memory map (see .mapped: never Python's mmap), else read
    # into a buffer: the copy out of the page cache cost as much as the hashing.
    with mapped(fd, page_count * page_size, what) as view:

        def work(span: tuple[int, int]) -> None:
            first, end = span
            if view is not None:
                _blocks(view[first * page_size:end * page_size], first, end, page_size, size,
                        digest, seed, per_block, out, blocks, previous)
                return
            want = _per_span(page_size) * page_size
            whole = getattr(buffers, "buf", None)
            if whole is None or len(whole) < want:
                whole = buffers.buf = memoryview(bytearray(want))
            buf = whole[:(end - first) * page_size]
            _read_exact(fd, buf, first * page_size, what)
            _blocks(buf, first, end, page_size, size, digest, seed, per_block, out, blocks,
                    previous)

        if threads <= 1 or len(spans) <= 1 or page_count * page_size < THREADED_HASH:
            for span in spans:
                work(span)
        else:
            with ThreadPoolExecutor(min(threads, len(spans))) as pool:
                for _ in pool.map(work, spans):
                    pass
    return Hashed(bytes(out), bytes(blocks), page_count)


def _blocks(
    buf: memoryview, first: int, end: int, page_size: int, size: int,
    digest: Callable[[memoryview, int, int], bytes], seed: int, per_block: int,
    out: bytearray, blocks: bytearray, previous: Hashed | None,
) -> None:
    """Hash pages ``[first, end)`` held in ``buf`` (from page ``first`` on) block by block
    into ``blocks`` and ``out`` (see :func:`hash_pages`)."""
    for start in range(first, end, per_block):  # spans start on a block
        stop = min(end, start + per_block)
        b = start // per_block
        piece = buf[(start - first) * page_size:(stop - first) * page_size]
        block = digest(piece, len(piece), seed)
        blocks[b * size:(b + 1) * size] = block
        if (previous is not None and stop <= previous.page_count
                and previous.blocks[b * size:(b + 1) * size] == block):
            out[start * size:stop * size] = previous.pages[start * size:stop * size]
        else:
            out[start * size:stop * size] = digest(piece, page_size, seed)


def digests_of(fd: int, page_size: int, pages: list[int], hash_name: str,
               seed: int = 0) -> bytes:
    """The digests of the given pages (1-based, ascending) of ``fd``, in that order."""
    digest = HASHES[hash_name][1]
    out = []
    max_run = max(1, CHUNK // page_size)
    for first, count in runs(pages):
        while count:
            n = min(count, max_run)
            buf = memoryview(bytearray(n * page_size))
            _read_exact(fd, buf, (first - 1) * page_size, "the restored database")
            out.append(digest(buf, page_size, seed))
            first += n
            count -= n
    return b"".join(out)


def changed_pages(old: Index, new: bytes, digest_size: int) -> list[int]:
    """1-based numbers of the pages whose digest differs from ``old`` (or that ``old`` does
    not have). Compares blocks of digests first, so an unchanged region costs one memcmp."""
    changed: list[int] = []
    common = min(len(old.digests), len(new))
    before, after = memoryview(old.digests), memoryview(new)
    block, row = 4096 * digest_size, 16 * digest_size
    for start in range(0, common, block):
        end = min(common, start + block)
        if before[start:end] == after[start:end]:
            continue
        for first in range(start, end, row):  # then 16 digests at a time, then one by one
            last = min(end, first + row)
            if before[first:last] == after[first:last]:
                continue
            for offset in range(first, last, digest_size):
                if before[offset:offset + digest_size] != after[offset:offset + digest_size]:
                    changed.append(offset // digest_size + 1)
    changed.extend(range(common // digest_size + 1, len(new) // digest_size + 1))
    return changed


def runs(pages: list[int]) -> Iterator[tuple[int, int]]:
    """Ascending page numbers grouped into runs ``(first, count)`` of consecutive pages."""
    if not pages:
        return
    first = previous = pages[0]
    for page in pages[1:]:
        if page != previous + 1:
            yield first, previous - first + 1
            first = page
        previous = page
    yield first, previous - first + 1


def _uint32_list(raw: bytes) -> list[int]:
    numbers = array("I")
    if numbers.itemsize != 4:  # pragma: no cover
        numbers = array("L")
    numbers.frombytes(raw)
    if sys.byteorder == "big":  # pragma: no cover
        numbers.byteswap()
    return numbers.tolist()


def _uint32_le(pages: list[int]) -> bytes:
    numbers = array("I", pages)
    if numbers.itemsize != 4:  # pragma: no cover - no such platform today
        numbers = array("L", pages)
    if sys.byteorder == "big":  # pragma: no cover
        numbers.byteswap()
    return numbers.tobytes()


def write_delta(
    fd: int, path: Path, page_size: int, page_count: int, pages: list[int], what: str
) -> int:
    """Write the delta of ``pages`` (1-based, ascending) read from ``fd``; returns its size."""
    compress = len(pages) * page_size <= COMPRESS_MAX
    with path.open("wb") as out:
        out.write(DELTA_HEADER.pack(DELTA_MAGIC, page_size, int(compress), page_count,
                                    len(pages)))
        out.write(_uint32_le(pages))
        if compress:
            raw = bytearray()
            for first, count in runs(pages):
                buf = memoryview(bytearray(count * page_size))
                _read_exact(fd, buf, (first - 1) * page_size, what)
                raw += buf
            out.write(zlib.compress(raw, 1))
            return out.tell()
        max_run = max(1, CHUNK // page_size)
        for first, count in runs(pages):
            while count:
                n = min(count, max_run)
                buf = memoryview(bytearray(n * page_size))
                _read_exact(fd, buf, (first - 1) * page_size, what)
                out.write(buf)
                first += n
                count -= n
        return out.tell()


@dataclass
class Delta:
    """A page delta, opened for replay."""

    path: Path
    page_size: int
    page_count: int
    pages: list[int]
    body_offset: int
    compressed: bool = False

    @classmethod
    def open(cls, path: Path, what: str) -> Delta:
        with path.open("rb") as fh:
            head = fh.read(DELTA_HEADER.size)
            try:
                magic, page_size, flags, page_count, n = DELTA_HEADER.unpack(head)
            except struct.error:
                raise BackupError(f"{what}: the page delta is truncated") from None
            if magic != DELTA_MAGIC or flags not in (0, 1):
                raise BackupError(f"{what}: not a page delta of this format")
            pages = _uint32_list(fh.read(4 * n))
        body = DELTA_HEADER.size + 4 * n
        expected = body + n * page_size
        actual = path.stat().st_size
        if flags:  # the pages are compressed: their length is checked when inflated
            expected = max(actual, body)
        if len(pages) != n or actual != expected:
            raise BackupError(f"{what}: the page delta has {actual} bytes, its header says"
                              f" {expected}")
        if any(b <= a for a, b in zip(pages, pages[1:], strict=False)) or (
            pages and (pages[0] < 1 or pages[-1] > page_count)
        ):
            raise BackupError(f"{what}: the page delta's page numbers are out of order or range")
        return cls(path, page_size, page_count, pages, body, bool(flags))

    def apply(self, fd: int) -> None:
        """Write the delta's pages into the page image open as ``fd``."""
        if self.compressed:
            with self.path.open("rb") as src:
                src.seek(self.body_offset)
                try:
                    raw = zlib.decompress(src.read())
                except zlib.error as exc:
                    raise BackupError(f"{self.path}: the compressed pages are damaged: {exc}")\
                        from None
            if len(raw) != len(self.pages) * self.page_size:
                raise BackupError(f"{self.path}: the compressed pages do not fill the delta")
            position = 0
            for first, count in runs(self.pages):
                length = count * self.page_size
                os.pwrite(fd, raw[position:position + length], (first - 1) * self.page_size)
                position += length
            return
        max_run = max(1, CHUNK // self.page_size)
        with self.path.open("rb", buffering=0) as src:
            position = self.body_offset
            for first, count in runs(self.pages):
                while count:
                    n = min(count, max_run)
                    length = n * self.page_size
                    copy_range(src.fileno(), position, fd, (first - 1) * self.page_size, length)
                    position += length
                    first += n
                    count -= n


def copy_range(src: int, src_offset: int, dst: int, dst_offset: int, length: int) -> None:
    """Copy ``length`` bytes between files at the given offsets, in the kernel when it can."""
    while length:
        try:
            done = os.copy_file_range(src, dst, min(length, COPY_STEP), src_offset, dst_offset)
        except OSError:
            done = 0
        if done <= 0:
            buf = os.pread(src, min(length, CHUNK), src_offset)
            if not buf:
                raise BackupError("a backup part ended early while it was being replayed")
            done = os.pwrite(dst, buf, dst_offset)
        src_offset += done
        dst_offset += done
        length -= done


def copy_file(src: Path, dst_fd: int, length: int) -> None:
    """Copy the first ``length`` bytes of ``src`` to the start of ``dst_fd``."""
    with src.open("rb", buffering=0) as fh:
        copy_range(fh.fileno(), 0, dst_fd, 0, length)
