"""Checksums of backup parts: SHA-256 of the whole part, or, for a part bigger than one chunk,
SHA-256 of each :data:`CHUNK` bytes hashed on a thread pool.

One SHA-256 pass over a part runs at about 2 GB/s on one core and cannot be split, so for a
big part it was what a backup and a restore waited for. A chunked part's manifest entry keeps
every chunk's digest (``chunks``, with ``chunk_size``); its ``sha256`` is then the SHA-256 of
those digests (raw bytes, in order), which still changes with any byte of the part. hashlib
and ``os.pread`` release the GIL, so the chunks are hashed on as many cores as there are.
A damaged part is reported with the chunk that fails, and entries without ``chunks`` (written
before chunks, or of small parts) are checked whole as before.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Callable
from concurrent.futures import Executor, ThreadPoolExecutor
from pathlib import Path
from typing import Any, BinaryIO

#: Bytes per chunk of a chunked part.
CHUNK = 8 << 20
#: Bytes read at a time.
_READ = 1 << 20


def threads() -> int:
    """Workers that hash chunks: the cores there are, at most 8."""
    return max(1, min(8, os.cpu_count() or 1))


def _hash_range(fd: int, offset: int, length: int) -> tuple[bytes, int]:
    """The SHA-256 of ``length`` bytes of ``fd`` from ``offset``, and how many were there."""
    digest = hashlib.sha256()
    done = 0
    buf = bytearray(min(_READ, length))
    view = memoryview(buf)
    while done < length:
        got = os.preadv(fd, [view[:min(_READ, length - done)]], offset + done)
        if got == 0:
            break
        digest.update(view[:got])
        done += got
    return digest.digest(), done


def submit(fd: int, size: int, pool: Executor) -> Callable[[], dict[str, Any]]:
    """Start hashing a part of ``size`` bytes open as ``fd`` on ``pool``; the function
    returned waits for its manifest entry: ``sha256`` and ``size``, and for a part bigger
    than one chunk ``chunk_size`` and ``chunks``."""
    jobs = [pool.submit(_hash_range, fd, offset, min(CHUNK, size - offset))
            for offset in range(0, max(size, 1), CHUNK)]

    def entry() -> dict[str, Any]:
        results = [job.result() for job in jobs]
        done = sum(n for _, n in results)
        if len(results) == 1:
            return {"sha256": results[0][0].hex(), "size": done}
        digests = [digest for digest, _ in results]
        return {
            "sha256": hashlib.sha256(b"".join(digests)).hexdigest(),
            "size": done,
            "chunk_size": CHUNK,
            "chunks": [digest.hex() for digest in digests],
        }

    return entry


def summarize(fd: int, size: int) -> dict[str, Any]:
    """The manifest entry of a part (see :func:`submit`), hashed now."""
    if size <= CHUNK:
        digest, done = _hash_range(fd, 0, size)
        return {"sha256": digest.hex(), "size": done}
    with ThreadPoolExecutor(threads()) as pool:
        return submit(fd, size, pool)()


def summarize_file(path: Path) -> dict[str, Any]:
    fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
    try:
        return summarize(fd, os.fstat(fd).st_size)
    finally:
        os.close(fd)


def problem(fd: int, expected: dict[str, Any]) -> str | None:
    """What is wrong with the part open as ``fd`` against its manifest entry, or None."""
    size = os.fstat(fd).st_size
    if size != expected.get("size"):
        return (f"has {size} bytes, the manifest says {expected.get('size')}"
                " (truncated or altered)")
    chunks = expected.get("chunks")
    if not isinstance(chunks, list):
        digest, _ = _hash_range(fd, 0, size)
        return None if digest.hex() == expected.get("sha256") else "fails its SHA-256 check"
    chunk = expected.get("chunk_size")
    if not isinstance(chunk, int) or chunk < 1 or len(chunks) != -(-size // chunk):
        return "has a chunk list that does not fit its size"
    root = hashlib.sha256(b"".join(bytes.fromhex(str(c)) for c in chunks)).hexdigest()
    if root != expected.get("sha256"):
        return "has a chunk list that fails its SHA-256 check"
    with ThreadPoolExecutor(threads()) as pool:
        found = pool.map(lambda o: _hash_range(fd, o, min(chunk, size - o))[0],
                         range(0, size, chunk))
        for i, (digest, want) in enumerate(zip(found, chunks, strict=True)):
            if digest.hex() != want:
                start = i * chunk
                return (f"fails its SHA-256 check in chunk {i + 1} of {len(chunks)}"
                        f" (bytes {start}-{min(size, start + chunk) - 1})")
    return None


def problem_in_stream(stream: BinaryIO, expected: dict[str, Any]) -> str | None:
    """:func:`problem` for a part only readable as a stream (a remote storage target)."""
    chunk = expected.get("chunk_size") if isinstance(expected.get("chunks"), list) else None
    step = chunk if isinstance(chunk, int) and chunk > 0 else _READ
    whole, digests, size = hashlib.sha256(), [], 0
    while data := _read_full(stream, step):
        size += len(data)
        if chunk:
            digests.append(hashlib.sha256(data).digest())
        else:
            whole.update(data)
    if size != expected.get("size"):
        return (f"has {size} bytes, the manifest says {expected.get('size')}"
                " (truncated or altered)")
    if not chunk:
        return None if whole.hexdigest() == expected.get("sha256") else "fails its SHA-256 check"
    chunks = expected["chunks"]
    for i, digest in enumerate(digests):
        if i >= len(chunks) or digest.hex() != chunks[i]:
            return f"fails its SHA-256 check in chunk {i + 1} of {len(chunks)}"
    if len(digests) != len(chunks) or hashlib.sha256(b"".join(digests)).hexdigest() != (
            expected.get("sha256")):
        return "has a chunk list that fails its SHA-256 check"
    return None


def _read_full(stream: BinaryIO, size: int) -> bytes:
    """``size`` bytes of ``stream``, fewer only at its end (a stream may return less per
    read, which would shift the chunks)."""
    data = stream.read(size)
    if len(data) in (0, size):
        return data
    pieces = [data]
    got = len(data)
    while got < size and (more := stream.read(size - got)):
        pieces.append(more)
        got += len(more)
    return b"".join(pieces)
