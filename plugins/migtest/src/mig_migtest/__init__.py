"""mig-migtest: ``mig test`` proves, on a scratch database, that every DOWN undoes its UP.

Other plugins call :func:`run_roundtrip` with a :class:`mig.config.Config` and get a
:class:`Report` of :class:`Finding` lines.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

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


def __getattr__(name: str) -> Any:
    if name not in _FROM:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    from importlib import import_module

    return getattr(import_module(f".{_FROM[name]}", __name__), name)


__all__ = [
    "Finding",
    "Kind",
    "Report",
    "run_roundtrip",
]
