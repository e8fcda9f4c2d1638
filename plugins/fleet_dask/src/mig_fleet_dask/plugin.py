"""Hook implementations of the ``fleet_dask`` plugin (``distributed`` is imported only when
a fleet runs on it)."""

from __future__ import annotations

from typing import Any

from mig import hookimpl

MIG_API_VERSION = 1


@hookimpl
def mig_register_fleet_runners() -> list[Any]:
    from .runner import DaskRunner

    return [DaskRunner]
