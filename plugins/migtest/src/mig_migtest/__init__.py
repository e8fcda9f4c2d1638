"""mig-migtest: ``mig test`` proves, on a scratch database, that every DOWN undoes its UP.

Other plugins call :func:`run_roundtrip` with a :class:`mig.config.Config` and get a
:class:`Report` of :class:`Finding` lines.
"""

from __future__ import annotations

from .report import Finding, Kind, Report
from .roundtrip import run_roundtrip

__all__ = ["Finding", "Kind", "Report", "run_roundtrip"]
