"""Dependency ordering (SPEC §3): deterministic, lower version first among free migrations, and
the version-sorted fast path agrees with networkx whenever it is taken."""

from __future__ import annotations

import random
from pathlib import Path

import pytest
from mig import DependencyError, Migration, graph


def make(version: int, deps: tuple[int, ...] = (), width: int = 3) -> Migration:
    mid = f"{version:0{width}d}_m{version}"
    return Migration(
        id=mid, version=f"{version:0{width}d}", name=mid, path=Path(f"{mid}.sql"),
        up_sql="", down_sql="", checksum="x", checksum_version=1,
        dependencies=tuple(f"{d:0{width}d}_m{d}" for d in deps),
    )


def versions(ms: list[Migration]) -> list[int]:
    return [m.number for m in ms]


def is_topological(ms: list[Migration]) -> bool:
    seen: set[str] = set()
    for m in ms:
        if not set(m.dependencies) <= seen:
            return False
        seen.add(m.id)
    return True


def test_lower_version_first_among_free_ones() -> None:
    ms = [make(1), make(2, (4,)), make(3), make(4), make(5, (1,))]
    assert versions(graph.order(ms)) == [1, 3, 4, 2, 5]
    assert versions(graph.order(list(reversed(ms)))) == [1, 3, 4, 2, 5]


def test_versions_compare_as_numbers() -> None:
    ms = [make(10, width=1), make(9, width=1), make(100, width=1)]
    assert versions(graph.order(ms)) == [9, 10, 100]


def test_random_dags_agree_with_networkx() -> None:
    rng = random.Random(20261126)
    for _ in range(200):
        n = rng.randint(1, 40)
        numbers = rng.sample(range(1, 200), n)
        # A random topological order: each migration depends only on earlier ones in it.
        rng.shuffle(numbers)
        ms = []
        for i, v in enumerate(numbers):
            deps = tuple(rng.sample(numbers[:i], k=min(i, rng.randint(0, 3))))
            ms.append(make(v, deps))
        rng.shuffle(ms)
        fast = graph.order(ms)
        slow = graph.order_with_networkx(ms)
        assert [m.id for m in fast] == [m.id for m in slow]
        assert is_topological(fast)
        assert graph.order(list(reversed(ms))) == fast  # input order does not matter


def test_random_dags_pointing_backwards_only() -> None:
    rng = random.Random(7)
    for _ in range(100):
        n = rng.randint(1, 40)
        ms = [make(v, tuple(rng.sample(range(1, v), k=min(v - 1, rng.randint(0, 3)))))
              for v in range(1, n + 1)]
        rng.shuffle(ms)
        assert graph.order(ms) == graph.order_with_networkx(ms)


def test_fast_path_only_when_dependencies_point_lower(monkeypatch: pytest.MonkeyPatch) -> None:
    calls = []
    real = graph.order_with_networkx

    def spy(ms: list[Migration]) -> list[Migration]:
        calls.append(len(ms))
        return real(ms)

    monkeypatch.setattr(graph, "order_with_networkx", spy)
    graph.order([make(1), make(2, (1,)), make(3, (1, 2))])
    assert calls == []
    result = graph.order([make(1), make(2, (3,)), make(3)])
    assert calls == [3]
    assert versions(result) == [1, 3, 2]


def test_cycles_and_unknown_dependencies() -> None:
    with pytest.raises(DependencyError) as info:
        graph.order([make(1, (3,)), make(2, (1,)), make(3, (2,))])
    message = str(info.value)
    assert "cycle" in message
    for name in ("001_m1.sql", "002_m2.sql", "003_m3.sql"):
        assert name in message
    with pytest.raises(DependencyError, match="unknown dependency '009_m9'"):
        graph.order([make(1, (9,))])
    with pytest.raises(DependencyError, match="depends on itself"):
        graph.order([make(1, (1,))])


def test_dependents_and_closure() -> None:
    ms = [make(1), make(2, (1,)), make(3, (2,)), make(4), make(5, (4, 1))]
    assert graph.dependents(ms, "001_m1") == {"002_m2", "003_m3", "005_m5"}
    assert graph.dependents(ms, "003_m3") == set()
    assert graph.closure({m.id: m for m in ms}, "005_m5") == {"001_m1", "004_m4", "005_m5"}


def test_render_is_deterministic() -> None:
    ms = [make(1), make(2, (1,))]
    assert graph.render(ms, "text", {"001_m1"}) == "[x] 001_m1\n[ ] 002_m2  <- 001_m1"
    assert graph.render(ms, "dot", set()) == graph.render(list(reversed(ms)), "dot", set())
    assert "m001 --> m002" in graph.render(ms, "mermaid", set())
