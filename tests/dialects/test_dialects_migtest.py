"""``mig test`` on every dialect: the planted mistakes of tests/data/migtest/ are found with
their precise lines, rows lost by a DOWN too (``--data``), the correct migrations and the
bundled example are not flagged, the configured database is untouched and the scratch
database is gone afterwards."""

from __future__ import annotations

import json
from pathlib import Path

from dialect_targets import DialectTarget
from migtest_planted import CORRECT, SKIPPED, expected, matches, write_planted


def _scratch_databases(target: DialectTarget, like: str) -> list[str]:
    """Databases on the target's server whose names match the LIKE pattern ``like``."""
    if target.name == "postgres":
        sql = "SELECT datname FROM pg_database WHERE datname LIKE %s"
    else:
        sql = "SELECT SCHEMA_NAME FROM information_schema.SCHEMATA WHERE SCHEMA_NAME LIKE %s"
    return [name for (name,) in target.query(sql, (like,))]


def _state(target: DialectTarget) -> tuple[object, object]:
    return target.objects(), target.contents(bookkeeping=True)


def test_planted_mistakes_and_lost_rows(dialect: DialectTarget, tmp_path: Path) -> None:
    project = dialect.project(tmp_path / "p")
    write_planted(dialect.name, project.migrations_dir)
    project.migrate("002")  # the configured database is in use; mig test leaves it be
    before = _state(dialect)
    temp = tmp_path / "tmp"
    temp.mkdir()
    code, out, err = project.run("test", "--data", "--json", env={"TMPDIR": str(temp)},
                                 timeout=600)
    assert code == 4, err
    report = json.loads(out)
    lines = [f["line"] for f in report["findings"]]
    assert matches(lines, expected(dialect.name, data=True)), "\n".join(lines)
    assert [(s["migration"], s["reason"]) for s in report["skipped"]] == SKIPPED
    assert set(CORRECT) <= set(report["tested"])
    assert not {f["migration"] for f in report["findings"]} & set(CORRECT)
    assert report["notes"] == []  # every table could be filled
    assert _state(dialect) == before
    assert list(temp.iterdir()) == []
    if dialect.name != "sqlite":
        database = dialect.url.rsplit("/", 1)[-1]
        assert _scratch_databases(dialect, f"{database[:40]}\\_mig\\_scratch\\_%") == []


def test_the_example_passes_in_a_named_scratch_database(dialect: DialectTarget,
                                                        tmp_path: Path) -> None:
    project = dialect.project(tmp_path / "p", example=True)
    if dialect.name == "sqlite":
        scratch = f"sqlite:///{tmp_path / 'chosen.db'}"
    else:
        scratch = f"{dialect.url}_chosen"
    code, out, err = project.run("test", "--scratch-url", scratch, timeout=600)
    assert (code, err) == (0, ""), out
    assert out.endswith("5 migration(s) round-tripped, 0 applied without a round trip: ok\n")
    assert dialect.user_tables() == set()
    if dialect.name == "sqlite":
        assert not (tmp_path / "chosen.db").exists()
    else:
        assert _scratch_databases(dialect, scratch.rsplit("/", 1)[-1]) == []
