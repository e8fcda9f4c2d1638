"""mig-migtest: ``mig test`` proves, on a scratch database, that every DOWN undoes its UP.

Other plugins call :func:`run_roundtrip` with a :class:`mig.config.Config` and get a
:class:`Report` of :class:`Finding` lines.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from mig.lazy import lazy_exports

if TYPE_CHECKING:
    from .report import Finding, Kind, Report
    from .roundtrip import run_roundtrip

# Imported on first use: the plugin's entry module imports this package with every command.
_FROM = {
    "Finding": "report",
    "Kind": "report",
    "Report": "report",
    "run_roundtrip": "roundtrip",
}

__getattr__ = lazy_exports(__name__, _FROM)


__all__ = [
    "Finding",
    "Kind",
    "Report",
    "run_roundtrip",
]
