"""Dependency ordering and graph checks with networkx; also the core's builtin resolver plugin.

networkx costs about 0.1 s to import, which would dominate short commands. When every
dependency points at a lower version (the usual case) the version-sorted list *is* the
lexicographic topological order networkx would give, so networkx is imported only for graphs
that need it, and for ``mig graph``. ``tests/test_graph.py`` checks both paths agree.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from .errors import DependencyError
from .hookspecs import API_VERSION, hookimpl
from .models import Migration
from .suggest import did_you_mean

if TYPE_CHECKING:
    import networkx as nx

MIG_API_VERSION = API_VERSION


def check_dependencies(migrations: Sequence[Migration]) -> dict[str, Migration]:
    """Index migrations by id; an unknown dependency is an error naming file and line."""
    by_id = {m.id: m for m in migrations}
    for m in migrations:
        for dep in m.dependencies:
            if dep not in by_id:
                raise DependencyError(
                    f"unknown dependency {dep!r} of {m.id}{did_you_mean(dep, by_id)}",
                    m.path, m.line_of("dependencies"),
                )
            if dep == m.id:
                raise DependencyError(
                    f"{m.id} depends on itself", m.path, m.line_of("dependencies")
                )
    return by_id


def build_graph(migrations: Sequence[Migration]) -> nx.DiGraph[str]:
    """A directed graph with an edge from each dependency to its dependent."""
    import networkx as nx

    check_dependencies(migrations)
    graph: nx.DiGraph[str] = nx.DiGraph()
    for m in migrations:
        graph.add_node(m.id, migration=m)
    for m in migrations:
        graph.add_edges_from((dep, m.id) for dep in m.dependencies)
    return graph


def order(migrations: Sequence[Migration]) -> list[Migration]:
    """Topological order, lower version first among migrations free at the same time."""
    by_id = check_dependencies(migrations)
    ordered = sorted(migrations, key=lambda m: m.number)
    if all(by_id[d].number < m.number for m in ordered for d in m.dependencies):
        return ordered
    return order_with_networkx(migrations)


def order_with_networkx(migrations: Sequence[Migration]) -> list[Migration]:
    import networkx as nx

    graph = build_graph(migrations)
    try:
        ids = list(
            nx.lexicographical_topological_sort(
                graph, key=lambda n: graph.nodes[n]["migration"].number
            )
        )
    except nx.NetworkXUnfeasible:
        cycle = [edge[0] for edge in nx.find_cycle(graph)]
        first = graph.nodes[cycle[0]]["migration"]
        files = ", ".join(graph.nodes[n]["migration"].path.name for n in cycle)
        chain = " -> ".join([*cycle, cycle[0]])
        raise DependencyError(
            f"dependency cycle {chain} (files: {files})", first.path, first.line_of("dependencies")
        ) from None
    return [graph.nodes[n]["migration"] for n in ids]


def dependents(migrations: Sequence[Migration], migration_id: str) -> set[str]:
    """Ids of every migration that depends on ``migration_id``, directly or not."""
    return Dependents(migrations)(migration_id)


class Dependents:
    """``dependents(id)`` over one set of migrations, with the reverse edges built once."""

    def __init__(self, migrations: Sequence[Migration]) -> None:
        self.children: dict[str, list[str]] = {}
        for m in migrations:
            for dep in m.dependencies:
                self.children.setdefault(dep, []).append(m.id)

    def __call__(self, migration_id: str) -> set[str]:
        seen: set[str] = set()
        stack = [migration_id]
        while stack:
            for child in self.children.get(stack.pop(), ()):
                if child not in seen:
                    seen.add(child)
                    stack.append(child)
        return seen


def closure(by_id: dict[str, Migration], migration_id: str) -> set[str]:
    """``migration_id`` and all its transitive dependencies."""
    seen = {migration_id}
    stack = [migration_id]
    while stack:
        for dep in by_id[stack.pop()].dependencies:
            if dep not in seen:
                seen.add(dep)
                stack.append(dep)
    return seen


def render(migrations: Sequence[Migration], fmt: str, applied: set[str]) -> str:
    """The graph as ``text``, ``dot`` (Graphviz) or ``mermaid``."""
    ordered = order(migrations)
    build_graph(migrations)  # networkx's checks, the same as any resolution
    mark = {True: "applied", False: "pending"}
    if fmt == "dot":
        lines = ["digraph migrations {", "  rankdir=LR;"]
        for m in ordered:
            style = "filled" if m.id in applied else "solid"
            lines.append(f'  "{m.id}" [label="{m.id}\\n{_escape(m.name)}", style={style}];')
        lines += [f'  "{d}" -> "{m.id}";' for m in ordered for d in m.dependencies]
        return "\n".join([*lines, "}"])
    if fmt == "mermaid":
        lines = ["graph LR"]
        for m in ordered:
            lines.append(f'  m{m.version}["{m.id} ({mark[m.id in applied]})"]')
        by_id = {m.id: m for m in ordered}
        lines += [
            f"  m{by_id[d].version} --> m{m.version}" for m in ordered for d in m.dependencies
        ]
        return "\n".join(lines)
    lines = []
    for m in ordered:
        deps = f"  <- {', '.join(m.dependencies)}" if m.dependencies else ""
        lines.append(f"[{'x' if m.id in applied else ' '}] {m.id}{deps}")
    return "\n".join(lines)


def _escape(text: str) -> str:
    return text.replace("\\", "\\\\").replace('"', '\\"')


@hookimpl(trylast=True)
def mig_resolve_order(migrations: Sequence[Migration]) -> list[Migration]:
    return order(migrations)

