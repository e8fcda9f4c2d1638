"""SQL highlighted on the server with Pygments (classes, styled by /highlight.css)."""

from __future__ import annotations

from functools import cache

from markupsafe import Markup
from pygments import highlight
from pygments.formatters import HtmlFormatter
from pygments.lexers import SqlLexer

_FORMATTER = HtmlFormatter(cssclass="sql", linenos=False)


def sql_html(sql: str) -> Markup:
    """``sql`` as highlighted HTML (Pygments escapes the text)."""
    return Markup(highlight(sql or "-- (empty)\n", SqlLexer(), _FORMATTER))  # noqa: S704


@cache
def css() -> str:
    return str(_FORMATTER.get_style_defs(".sql"))  # type: ignore[no-untyped-call]
