"""Hook implementations of the ``storage_s3`` plugin."""

from __future__ import annotations

from typing import TYPE_CHECKING

from mig import hookimpl

from .storage import S3Storage

if TYPE_CHECKING:
    from mig.protocols import StorageTarget

MIG_API_VERSION = 1


@hookimpl
def mig_register_storage_targets() -> list[type[StorageTarget]]:
    return [S3Storage]
