"""Copying the first ``size`` bytes of a file at the speed of ``cp``.

Imports nothing but the standard library (``os``, ``errno``, ``sys``), so ``python -P
<this file> SRC DST SIZE`` starts quickly: a WAL-mode database is copied from such a child
process (see :mod:`mig_sqlite.backup.full` for why). The file is run as a script, not with
``-m``, so that the child imports neither ``mig_sqlite`` nor ``mig``.
"""

from __future__ import annotations

import errno
import os
import sys

_CHUNK = 1 << 20
#: copy_file_range is not available everywhere (old kernels, some file system pairs).
_NO_CFR = {errno.EXDEV, errno.ENOSYS, errno.EINVAL, errno.EOPNOTSUPP, errno.EPERM}


def copy_range(src_fd: int, dst_fd: int, size: int) -> None:
    """Copy ``size`` bytes from the start of ``src_fd`` to ``dst_fd`` (both at offset 0), in the
    kernel where it can; a file shorter than ``size`` is an error."""
    done = 0
    use_cfr = hasattr(os, "copy_file_range")
    while done < size:
        want = min(size - done, 1 << 30)
        if use_cfr:
            try:
                n = os.copy_file_range(src_fd, dst_fd, want)
            except OSError as exc:
                if exc.errno not in _NO_CFR or done:
                    raise
                use_cfr = False
                continue
        else:
            chunk = os.read(src_fd, min(want, _CHUNK))
            n = len(chunk)
            view = memoryview(chunk)
            while view:
                view = view[os.write(dst_fd, view):]
        if n == 0:
            raise OSError(errno.EIO, f"the file ended after {done} of {size} bytes")
        done += n


def copy_file(src: str, dst: str, size: int) -> None:
    """Copy the first ``size`` bytes of ``src`` into a new file ``dst`` (0600). Not synced:
    whoever keeps the copy syncs it once, where it ends up."""
    src_fd = os.open(src, os.O_RDONLY)
    try:
        dst_fd = os.open(dst, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        try:
            copy_range(src_fd, dst_fd, size)
        finally:
            os.close(dst_fd)
    finally:
        os.close(src_fd)


def main(argv: list[str]) -> int:
    """Exit 0 when copied; 3 with the errno on stdout when the copy failed."""
    try:
        copy_file(argv[0], argv[1], int(argv[2]))
    except OSError as exc:
        print(exc.errno or 0)
        return 3
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
