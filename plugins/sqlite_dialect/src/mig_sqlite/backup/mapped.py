"""A read-only memory map of a database file, for hashing its pages without copying them.

Python's :mod:`mmap` cannot be used: it keeps a duplicate of the descriptor and closes it with
the map, and closing any descriptor of a file drops every POSIX lock the process holds on it,
the backup's read transaction and SQLite's own included. So the map is made through libc's
``mmap``/``munmap``, on the descriptor as it is, which closes nothing.

The caller holds the read transaction that keeps the file from shrinking while it is mapped
(no writer can commit, no checkpoint can write past the snapshot); the length is checked
against the file's size before mapping. Where libc has no ``mmap`` (or mapping fails), the
caller reads the file instead.
"""

from __future__ import annotations

import contextlib
import ctypes
import ctypes.util
import mmap
import os
from collections.abc import Iterator
from functools import cache
from typing import Any

from mig import BackupError


@cache
def _libc() -> Any:
    """libc's ``mmap`` and ``munmap`` with their C types; None where there are none."""
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c"), use_errno=True)
        map_, unmap = libc.mmap, libc.munmap
    except (OSError, AttributeError, TypeError):
        return None
    map_.restype = ctypes.c_void_p
    map_.argtypes = [ctypes.c_void_p, ctypes.c_size_t, ctypes.c_int, ctypes.c_int,
                     ctypes.c_int, ctypes.c_long]
    unmap.restype = ctypes.c_int
    unmap.argtypes = [ctypes.c_void_p, ctypes.c_size_t]
    return libc


@contextlib.contextmanager
def mapped(fd: int, length: int, what: str) -> Iterator[memoryview | None]:
    """The first ``length`` bytes of ``fd`` as a read-only memoryview, valid until the block
    ends (no view of it may outlive the block); None when the file cannot be mapped."""
    if os.fstat(fd).st_size < length:
        raise BackupError(f"{what} ended early: the file is shorter than its page count says")
    libc = _libc() if length > 0 else None
    address = None if libc is None else libc.mmap(
        None, length, mmap.PROT_READ, mmap.MAP_SHARED, fd, 0)
    if libc is None or address in (None, ctypes.c_void_p(-1).value):
        yield None
        return
    view = memoryview((ctypes.c_char * length).from_address(address)).cast("B")
    try:
        yield view
    finally:
        view.release()
        libc.munmap(address, length)
