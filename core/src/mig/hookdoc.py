"""The hook reference of ``docs/plugins.md``, generated from :mod:`mig.hookspecs`.

``python -m mig.hookdoc docs/plugins.md`` rewrites the part of the file between the
``<!-- hooks:start -->`` and ``<!-- hooks:end -->`` markers; a test checks it is up to date,
so the documentation cannot drift from the docstrings.
"""

from __future__ import annotations

import inspect
import sys
from pathlib import Path

from . import hookspecs

START = "<!-- hooks:start -->"
END = "<!-- hooks:end -->"


def _combine(spec: object) -> str:
    opts = getattr(spec, "mig_spec", {})
    if opts.get("firstresult"):
        return "implementations are called until one returns non-None; that result wins"
    if inspect.signature(spec).return_annotation in ("None", None):  # type: ignore[arg-type]
        return "every implementation is called; return values are ignored"
    return "every implementation is called and the non-None results are collected in a list"


def render() -> str:
    """The hook reference in Markdown, in the order the hooks are declared."""
    out = [
        f"_Generated from `mig/hookspecs.py` (plugin API version {hookspecs.API_VERSION}) by "
        "`python -m mig.hookdoc docs/plugins.md`. Do not edit by hand._",
        "",
    ]
    for name, func in hookspecs.all_hooks().items():
        signature = str(inspect.signature(func)).replace("'", "")
        doc = inspect.cleandoc(func.__doc__ or "")
        out += [
            f"### `{name}`",
            "",
            "```python",
            f"def {name}{signature}",
            "```",
            "",
            f"*Combination:* {_combine(func)}.",
            "",
            doc,
            "",
        ]
    return "\n".join(out).rstrip() + "\n"


def rewrite(path: Path) -> bool:
    """Put the current reference into ``path``; True when the file changed."""
    text = path.read_text(encoding="utf-8")
    head, rest = text.split(START, 1)
    _, tail = rest.split(END, 1)
    new = f"{head}{START}\n{render()}{END}{tail}"
    if new != text:
        path.write_text(new, encoding="utf-8")
        return True
    return False


def section(path: Path) -> str:
    """The generated part of ``path`` as it stands."""
    text = path.read_text(encoding="utf-8")
    return text.split(START, 1)[1].split(END, 1)[0].lstrip("\n")


if __name__ == "__main__":  # pragma: no cover - a developer's tool
    changed = rewrite(Path(sys.argv[1]))
    print("updated" if changed else "up to date")
