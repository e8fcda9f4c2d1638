"""``mig baseline`` and ``mig repair`` on every dialect (SQLite, PostgreSQL, MariaDB/MySQL):
the ledger transitions they write hold on each database."""

from __future__ import annotations

from pathlib import Path

from dialect_targets import DialectTarget
from mig.testing import Project


def table(project: Project, version: str, name: str, **headers: object) -> None:
    project.write_migration(f"{version}_{name}", f"CREATE TABLE {name} (id INTEGER);",
                            f"DROP TABLE {name};", dict(headers))


def state(project: Project) -> dict:
    with project.engine() as eng:
        st = eng.status()
        return {"applied": [e.migration_id for e in st.applied],
                "baselined": [e.migration_id for e in st.baselined],
                "attention": [e.execution_id for e in st.attention],
                "drift": [m.id for m in st.drift], "version": st.current_version}


def test_baseline_then_up_and_down(dialect: DialectTarget, tmp_path: Path) -> None:
    project = dialect.project(tmp_path / "p")
    for version, name in (("001", "t_a"), ("002", "t_b"), ("003", "t_c")):
        table(project, version, name)
    dialect.execute("CREATE TABLE t_a (id INTEGER)", "CREATE TABLE t_b (id INTEGER)")
    with project.engine() as eng:
        [failed] = eng.up()
        assert failed.status.value == "FAILED", failed
    assert "baseline" in project.ok("baseline", "002", "--dry-run")
    assert "mig_migration_executions" not in dialect.tables() or all(
        e["status"] != "COMPLETED" for e in dialect.executions())
    project.ok("baseline", "002")
    assert state(project)["baselined"] == ["001_t_a", "002_t_b"]
    assert dialect.current_version() == "002"
    # what is in effect already is not recorded twice
    assert "baselined 0 migration(s)" in project.ok("baseline", "001")
    assert state(project)["baselined"] == ["001_t_a", "002_t_b"]
    project.migrate()
    assert dialect.user_tables() == {"t_a", "t_b", "t_c"}
    with project.engine() as eng:  # 003 by mig, 002 baselined: both by their DOWN
        assert [e.migration_id for e in eng.down(steps=2)] == ["003_t_c", "002_t_b"]
        assert eng.validate_database_integrity().ok
    assert dialect.user_tables() == {"t_a"}
    assert state(project)["applied"] == ["001_t_a"] and dialect.current_version() == "001"


def test_repair_accepts_drift_and_resolves_attention(dialect: DialectTarget,
                                                     tmp_path: Path) -> None:
    project = dialect.project(tmp_path / "p")
    table(project, "001", "t_a")
    project.write_migration("002_half", "CREATE TABLE t_h (id INTEGER);"
                            " CREATE TABLE t_a (id INTEGER);", "DROP TABLE t_h;",
                            {"transactional": False})
    with project.engine() as eng:
        assert eng.up()[-1].status.value == "FAILED"
    path = project.migrations_dir / "001_t_a.sql"
    path.write_text(path.read_text() + "-- edited\n")
    before = state(project)
    assert before["drift"] == ["001_t_a"] and len(before["attention"]) == 1

    project.ok("repair")  # the drift; attention waits for --resolve
    after = state(project)
    assert after["drift"] == [] and after["attention"] == before["attention"]

    dialect.execute("DROP TABLE t_h")
    project.ok("repair", "--resolve", before["attention"][0], "--as", "rolled-back")
    assert state(project)["attention"] == []
    project.write_migration("002_half", "CREATE TABLE t_h (id INTEGER);", "DROP TABLE t_h;",
                            {"transactional": False})
    project.migrate()
    final = state(project)
    assert final["applied"] == ["001_t_a", "002_half"] and final["version"] == "002"
    assert dialect.user_tables() == {"t_a", "t_h"}
    with project.engine() as eng:
        assert eng.validate_database_integrity().ok
