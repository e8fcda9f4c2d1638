"""mig-storage-local: the ``local`` backup storage target (a directory on this machine)."""

from __future__ import annotations

from .storage import LocalStorage

__all__ = ["LocalStorage"]
