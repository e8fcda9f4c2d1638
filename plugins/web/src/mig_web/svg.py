"""The dependency graph as SVG, drawn on the server: one row per topological generation
(``networkx.topological_generations``), each migration a box coloured by its state."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from html import escape
from urllib.parse import quote

from mig.graph import build_graph
from mig.models import Migration

BOX_W, BOX_H, GAP_X, GAP_Y, MARGIN = 210, 30, 24, 34, 12
#: state -> (fill, stroke)
COLOURS = {
    "applied": ("#d4f4dd", "#1e7b34"),
    "pending": ("#eef1f5", "#67717d"),
    "failed": ("#fbd9d7", "#b3261e"),
    "drift": ("#fff1c2", "#a06b00"),
}


def layers(migrations: Sequence[Migration]) -> list[list[str]]:
    """Migration ids by topological generation, each generation in version order."""
    import networkx as nx

    graph = build_graph(migrations)
    number = {m.id: m.number for m in migrations}
    return [sorted(gen, key=lambda i: (number[i], i))
            for gen in nx.topological_generations(graph)]


def render(migrations: Sequence[Migration], states: Mapping[str, str],
           link: str = "/migrations/") -> str:
    """An ``<svg>`` element; ``states`` maps an id to a key of :data:`COLOURS`."""
    rows = layers(migrations)
    width = max((len(r) for r in rows), default=0)
    pos: dict[str, tuple[int, int]] = {}
    for y, row in enumerate(rows):
        for x, mid in enumerate(row):
            pos[mid] = (MARGIN + x * (BOX_W + GAP_X), MARGIN + y * (BOX_H + GAP_Y))
    total_w = MARGIN * 2 + max(width, 1) * (BOX_W + GAP_X) - GAP_X
    total_h = MARGIN * 2 + max(len(rows), 1) * (BOX_H + GAP_Y) - GAP_Y
    out = [f'<svg xmlns="http://www.w3.org/2000/svg" class="graph" width="{total_w}"'
           f' height="{total_h}" viewBox="0 0 {total_w} {total_h}" role="img"'
           f' aria-label="dependency graph of {len(migrations)} migrations">']
    out.append('<defs><marker id="arrow" viewBox="0 0 10 10" refX="10" refY="5"'
               ' markerWidth="6" markerHeight="6" orient="auto-start-reverse">'
               '<path d="M 0 0 L 10 5 L 0 10 z" fill="#67717d"/></marker></defs>')
    out.append('<g class="edges" fill="none" stroke="#8a939e" stroke-width="1.2">')
    for m in migrations:
        x2, y2 = pos[m.id]
        for dep in m.dependencies:
            x1, y1 = pos[dep]
            sx, sy, ex, ey = x1 + BOX_W // 2, y1 + BOX_H, x2 + BOX_W // 2, y2
            bend = (sy + ey) // 2
            out.append(f'<path d="M{sx},{sy} C{sx},{bend} {ex},{bend} {ex},{ey}"'
                       ' marker-end="url(#arrow)"/>')
    out.append("</g><g class=\"nodes\" font-family=\"sans-serif\" font-size=\"12\">")
    for m in migrations:
        x, y = pos[m.id]
        state = states.get(m.id, "pending")
        fill, stroke = COLOURS.get(state, COLOURS["pending"])
        label = m.id if len(m.id) <= 30 else m.id[:29] + "…"
        out.append(
            f'<a href="{escape(link + quote(m.id))}" class="node {state}" data-id="{escape(m.id)}">'
            f"<title>{escape(m.id)}: {state}</title>"
            f'<rect x="{x}" y="{y}" width="{BOX_W}" height="{BOX_H}" rx="5" fill="{fill}"'
            f' stroke="{stroke}" stroke-width="1.5"/>'
            f'<text x="{x + 8}" y="{y + 19}" fill="#1b1f24">{escape(label)}</text></a>')
    out.append("</g></svg>")
    return "".join(out)
