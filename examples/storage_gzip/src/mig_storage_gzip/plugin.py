"""A storage target that keeps each backup object gzip-compressed in a directory."""

from __future__ import annotations

import contextlib
import gzip
import os
import shutil
import tempfile
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any, BinaryIO, ClassVar

from mig import BackupError, ConfigError, hookimpl
from mig.protocols import StorageTarget

MIG_API_VERSION = 1

_SUFFIX = ".gz"


class GzipStorage(StorageTarget):
    """Objects live at ``<directory>/<key>.gz``, owner-only, written atomically."""

    name: ClassVar[str] = "gzip"

    def __init__(self, location: Path, *, options: Mapping[str, Any]) -> None:
        unknown = set(options) - {"directory", "level"}
        if unknown:
            raise ConfigError(f"[mig.options.gzip]: unknown key {sorted(unknown)[0]!r}")
        directory = options.get("directory", str(Path(location).parent / "backups-gzip"))
        level = options.get("level", 6)
        if not isinstance(level, int) or not 1 <= level <= 9:
            raise ConfigError("[mig.options.gzip] level must be an integer from 1 to 9")
        # The core resolves backups_dir against the config file; do the same for ours.
        # (``directory`` comes from the TOML table untyped: the annotation keeps Any out.)
        self.root: Path = (Path(location).parent / directory).resolve()
        self.level = level

    def _path(self, key: str) -> Path:
        return self.root / (key + _SUFFIX)

    def put(self, key: str, source: Path) -> None:
        target = self._path(key)
        try:
            for folder in (self.root, target.parent):
                folder.mkdir(mode=0o700, parents=True, exist_ok=True)
                os.chmod(folder, 0o700)
            fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=".tmp-")
        except OSError as exc:
            raise BackupError(f"cannot write backups to {self.root}: {exc.strerror}") from exc
        try:
            with os.fdopen(fd, "wb") as raw, gzip.GzipFile(
                filename="", mode="wb", fileobj=raw, compresslevel=self.level, mtime=0
            ) as out, source.open("rb") as src:
                shutil.copyfileobj(src, out, 1 << 20)
            os.chmod(tmp, 0o600)
            with open(tmp, "rb") as fh:
                os.fsync(fh.fileno())
            os.replace(tmp, target)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise

    def open(self, key: str) -> BinaryIO:
        # A GzipFile is a binary stream, but typeshed does not derive it from typing.BinaryIO
        # (a class, not a protocol).
        return gzip.open(self._path(key), "rb")  # type: ignore[return-value]

    def local_path(self, key: str) -> Path | None:
        return None  # compressed: the core must read through open()

    def delete(self, key: str) -> None:
        path = self._path(key)
        path.unlink(missing_ok=True)
        with contextlib.suppress(OSError):  # not empty, or already gone
            path.parent.rmdir()

    def keys(self, prefix: str = "") -> Iterator[str]:
        if not self.root.is_dir():
            return
        for path in sorted(self.root.rglob("*" + _SUFFIX)):
            key = path.relative_to(self.root).as_posix()[: -len(_SUFFIX)]
            if not path.name.startswith(".tmp-") and key.startswith(prefix):
                yield key

    def describe(self, key: str) -> str:
        return str(self._path(key))


@hookimpl
def mig_register_storage_targets() -> list[type[StorageTarget]]:
    return [GzipStorage]
