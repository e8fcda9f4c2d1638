"""Public names of a package imported on first use (PEP 562), so that importing the package,
as every command does with mig and its plugins, costs nothing until a name is used."""

from __future__ import annotations

import sys
from collections.abc import Callable, Mapping
from importlib import import_module
from typing import Any


def lazy_exports(package: str, origins: Mapping[str, str]) -> Callable[[str], Any]:
    """A module ``__getattr__`` for ``package`` that imports each name of ``origins`` from
    the submodule it maps to (``{"Report": "report"}``), once::

        __getattr__ = lazy_exports(__name__, {"Report": "report"})
    """

    def __getattr__(name: str) -> Any:
        origin = origins.get(name)
        if origin is None:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        value = getattr(import_module(f".{origin}", package), name)
        setattr(sys.modules[package], name, value)
        return value

    return __getattr__
