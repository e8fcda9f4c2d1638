"""mig-storage-s3: the ``s3`` backup storage target (an S3-compatible bucket)."""

from __future__ import annotations

from .storage import S3Storage

__all__ = ["S3Storage"]
