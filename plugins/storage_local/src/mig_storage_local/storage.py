"""Backups as files under ``backups_dir``: key ``<backup id>/data`` is the file
``<backups_dir>/<backup id>/data``.

Everything this target creates is owner-only (folders 0700, files 0600, set explicitly rather
than left to the umask), and every object appears whole or not at all: it is written (or moved)
under its final name only after its bytes are on disk, and the folder is synced after the
rename so the name survives a crash too. Names starting with a dot are never keys: the core's
``.staging`` folder and this target's temporary files live beside the backups.

Nothing here ever leaves ``backups_dir``: a symlink anywhere under it (a backup folder or a
part) is refused, not followed, whether a key is read, verified, restored or deleted, and so
is a key that resolves outside the folder. ``backups_dir`` itself may be a link (a mount
elsewhere). Links are still listed by :meth:`LocalStorage.keys` (never what they point to), so
that the core can show the backup they sit in as damaged instead of hiding it.
"""

from __future__ import annotations

import errno
import os
import shutil
import tempfile
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any, BinaryIO, ClassVar

from mig import BackupError, ConfigError
from mig.protocols import StorageTarget

_TEMP_PREFIX = ".tmp-"
_CHUNK = 1 << 20


class LocalStorage(StorageTarget):
    """The ``local`` storage target: a directory on this machine (``backups_dir``)."""

    name: ClassVar[str] = "local"

    def __init__(self, location: Path, *, options: Mapping[str, Any]) -> None:
        if options:
            raise ConfigError(
                f"unknown key {sorted(options)[0]!r} in [mig.options.local] (it takes none)"
            )
        self.root = Path(location)

    def __repr__(self) -> str:
        return f"LocalStorage({str(self.root)!r})"

    # -- writing ------------------------------------------------------------------------------

    def put(self, key: str, source: Path) -> None:
        target = self._path(key)
        self._make_folders(target.parent)
        source = Path(source)
        try:
            _sync_file(source, mode=0o600)
            os.replace(source, target)
        except OSError as exc:
            if exc.errno != errno.EXDEV:
                raise
            self._copy_into_place(source, target)  # another file system: copy, then rename
        _sync_folder(target.parent)

    def put_folder(self, prefix: str, folder: Path) -> None:
        """Store every file of the local folder ``folder`` under ``<prefix>/<its name>``, all
        at once: the files and the folder are synced, then the folder is renamed into place
        and its parent synced. A backup of a few small parts so costs one rename and two
        folder syncs, not one of each per part. ``folder`` is the target's to take; nothing
        may be stored under ``prefix`` yet."""
        target = self._path(prefix)
        files = sorted(folder.iterdir())
        for path in files:
            _check_key(f"{prefix}/{path.name}")  # inside a new folder: no link to look for
        self._make_folders(target.parent)
        if target.exists() or target.is_symlink():
            raise BackupError(f"cannot store {prefix}: {target} already exists")
        for path in files:
            _sync_file(path, mode=0o600)
        os.chmod(folder, 0o700)
        _sync_folder(folder)
        try:
            os.rename(folder, target)
        except OSError as exc:
            if exc.errno != errno.EXDEV:
                raise
            for path in files:  # another file system: one object at a time
                self.put(f"{prefix}/{path.name}", path)
            return
        _sync_folder(target.parent)

    def _copy_into_place(self, source: Path, target: Path) -> None:
        fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=_TEMP_PREFIX)
        try:
            os.fchmod(fd, 0o600)
            with os.fdopen(fd, "wb") as out, source.open("rb") as src:
                shutil.copyfileobj(src, out, _CHUNK)
                out.flush()
                os.fsync(out.fileno())
            os.replace(tmp, target)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
        source.unlink(missing_ok=True)

    def _make_folders(self, folder: Path) -> None:
        """Create ``folder`` and its missing parents, each 0700."""
        missing = []
        for path in (folder, *folder.parents):
            if path.is_dir():
                break
            missing.append(path)
        try:
            for path in reversed(missing):
                try:
                    path.mkdir(mode=0o700)
                except FileExistsError:
                    if not path.is_dir():
                        raise NotADirectoryError(errno.ENOTDIR, "not a folder", str(path)) from None
                    continue  # made by someone else meanwhile
                os.chmod(path, 0o700)
            if missing:
                _sync_folder(missing[-1].parent)
            if not os.access(folder, os.W_OK | os.X_OK):
                raise PermissionError(errno.EACCES, "Permission denied", str(folder))
        except OSError as exc:
            raise BackupError(
                f"cannot write backups to {self.root}: {exc.strerror or exc}"
                + (f" ({exc.filename})" if exc.filename and Path(exc.filename) != self.root
                   else "")
            ) from exc

    def delete(self, key: str) -> None:
        path = self._path(key)
        path.unlink(missing_ok=True)
        # Remove the folders the key leaves empty, never the root itself.
        for folder in path.parents:
            if folder == self.root or self.root not in folder.parents:
                break
            try:
                folder.rmdir()
            except OSError:
                break  # not empty (or gone)

    # -- reading ------------------------------------------------------------------------------

    def open(self, key: str) -> BinaryIO:
        path = self._path(key)
        try:  # O_NOFOLLOW: a link swapped in after the check is refused too
            fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC)
        except OSError as exc:
            if exc.errno == errno.ELOOP:
                raise _link_refused(path) from None
            raise
        return os.fdopen(fd, "rb")

    def local_path(self, key: str) -> Path | None:
        return self._path(key)

    def keys(self, prefix: str = "") -> Iterator[str]:
        # Start below the prefix's folder so listing one backup does not walk them all.
        start = self.root.joinpath(*prefix.split("/")[:-1]) if "/" in prefix else self.root
        if not start.is_dir() or (start != self.root and self._link_in(start) is not None):
            return
        try:
            found = sorted(self._walk(start))
        except PermissionError as exc:
            raise BackupError(f"cannot read backups in {self.root}: {exc.strerror}") from exc
        for key in found:
            if key.startswith(prefix):
                yield key

    def _walk(self, folder: Path) -> Iterator[str]:
        def fail(exc: OSError) -> None:
            raise exc

        for dirpath, dirnames, filenames in os.walk(folder, onerror=fail):
            base = Path(dirpath).relative_to(self.root)
            # A linked folder is listed as a key (reading it is refused), never walked into.
            links = [d for d in dirnames if not d.startswith(".")
                     and os.path.islink(os.path.join(dirpath, d))]
            dirnames[:] = [d for d in dirnames if not d.startswith(".") and d not in links]
            for name in [*filenames, *links]:
                if not name.startswith("."):
                    yield (base / name).as_posix()

    def describe(self, key: str) -> str:
        return str(self._path(key))

    # -- helpers ------------------------------------------------------------------------------

    def _path(self, key: str) -> Path:
        """The file of ``key``, after making sure no link under the root leads there and that
        it resolves inside the root."""
        path = self.root.joinpath(*_check_key(key))
        link = self._link_in(path)
        if link is not None:
            raise _link_refused(link)
        root = os.path.realpath(self.root)
        if os.path.commonpath([root, os.path.realpath(path)]) != root:
            raise BackupError(
                f"refusing backup storage key {key!r}: it resolves outside {self.root}"
            )
        return path

    def _link_in(self, path: Path) -> Path | None:
        """The first symlink on the way from the root down to ``path`` (itself included)."""
        node = self.root
        for part in path.relative_to(self.root).parts:
            node = node / part
            if node.is_symlink():
                return node
        return None


def _check_key(key: str) -> list[str]:
    """The parts of a well-formed key: none empty, none hidden (a dot first), no backslash."""
    parts = key.split("/")
    if not key or any(not p or p.startswith(".") or "\\" in p for p in parts):
        raise BackupError(f"invalid backup storage key {key!r}")
    return parts


def _link_refused(link: Path) -> BackupError:
    return BackupError(
        f"refusing {link}: it is a symlink inside the backups folder (mig never follows links"
        " there; replace it with the real file or folder)"
    )


def _sync_file(path: Path, mode: int) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fchmod(fd, mode)
        os.fsync(fd)
    finally:
        os.close(fd)


def _sync_folder(folder: Path) -> None:
    fd = os.open(folder, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
