"""Rolling back: down, --steps, down TARGET, rollback EXECUTION_ID, --cascade, --method."""

from __future__ import annotations

import pytest
from mig.testing import Project


def apply_id(project: Project, migration_id: str) -> str:
    rows = [r for r in project.executions(migration_id) if r["operation"] == "apply"]
    return rows[-1]["execution_id"]


@pytest.fixture
def chain(mig_project: Project) -> Project:
    """a <- b <- c, and d independent of them; all applied."""
    mig_project.table_migration("001", "a")
    mig_project.table_migration("002", "b", deps=["001_create_a"])
    mig_project.table_migration("003", "c", deps=["002_create_b"])
    mig_project.table_migration("004", "d")
    mig_project.migrate()
    return mig_project


def test_down_rolls_back_the_newest(chain: Project) -> None:
    code, out, err = chain.run("down")
    assert code == 0, err
    assert "004_create_d" in out and "version 003" in out
    assert "d" not in chain.tables() and "c" in chain.tables()
    rows = chain.executions("004_create_d")
    assert [(r["operation"], r["status"], r["method"]) for r in rows] == [
        ("apply", "ROLLED_BACK", None), ("rollback", "COMPLETED", "down")
    ]
    assert rows[0]["rolled_back_by"] == rows[1]["execution_id"]


def test_down_steps(chain: Project) -> None:
    code, _, err = chain.run("down", "--steps", "2")
    assert code == 0, err
    assert chain.applied() == ["001_create_a", "002_create_b"]
    assert chain.query("SELECT current_version FROM mig_schema_version") == [("002",)]
    chain.ok("down", "--steps", "0")
    assert chain.applied() == ["001_create_a", "002_create_b"]


def test_down_to_a_target_keeps_the_target(chain: Project) -> None:
    code, _, err = chain.run("down", "002")
    assert code == 0, err
    assert chain.applied() == ["001_create_a", "002_create_b"]
    assert {"a", "b"} <= chain.tables() and not {"c", "d"} & chain.tables()
    code, out, _ = chain.run("down", "002")
    assert code == 0 and "nothing" in out
    code, _, err = chain.run("down", "003")
    assert code == 1 and "not applied" in err


def test_rollback_an_execution(chain: Project) -> None:
    code, out, err = chain.run("rollback", apply_id(chain, "003_create_c"))
    assert code == 0, err
    assert "003_create_c" in out
    assert chain.applied() == ["001_create_a", "002_create_b", "004_create_d"]
    # A prefix of the id is enough when it is unique.
    code, _, err = chain.run("rollback", apply_id(chain, "004_create_d")[:8])
    assert code == 0, err
    assert chain.applied() == ["001_create_a", "002_create_b"]
    # Rolling back the same execution again: nothing is left to undo.
    code, out, err = chain.run("rollback", apply_id(chain, "004_create_d"))
    assert code == 0, err
    assert "nothing to undo" in out


def test_dependents_need_cascade(chain: Project) -> None:
    before = chain.db_path.read_bytes()
    code, _, err = chain.run("rollback", apply_id(chain, "001_create_a"))
    assert code == 1
    assert "--cascade" in err and "002_create_b" in err and "003_create_c" in err
    assert "Traceback" not in err
    assert chain.db_path.read_bytes() == before
    code, _, err = chain.run("down", "--steps", "3")  # d, c, b: b's dependent c is included
    assert code == 0, err
    assert chain.applied() == ["001_create_a"]


def test_cascade_rolls_back_dependents_first(chain: Project) -> None:
    code, out, err = chain.run("rollback", "--cascade", apply_id(chain, "001_create_a"))
    assert code == 0, err
    assert chain.applied() == ["004_create_d"]
    rollbacks = [
        r["migration_id"] for r in chain.executions() if r["operation"] == "rollback"
    ]
    assert rollbacks == ["003_create_c", "002_create_b", "001_create_a"]


def test_down_method_on_an_irreversible_migration_is_refused(mig_project: Project) -> None:
    mig_project.table_migration("001", "keep")
    mig_project.write_migration("002_oneway", "CREATE TABLE oneway (id INTEGER);", down=None,
                                headers={"reversible": False})
    mig_project.migrate()
    before = mig_project.db_path.read_bytes()
    code, _, err = mig_project.run("down", "--method", "down")
    assert code == 1
    assert "002_oneway" in err and "reversible" in err and "Traceback" not in err
    assert mig_project.db_path.read_bytes() == before
    execution = apply_id(mig_project, "002_oneway")
    code, _, err = mig_project.run("rollback", "--method", "down", execution)
    assert code == 1
    assert len(mig_project.applied()) == 2


def test_rollback_of_a_failed_execution_is_a_no_op(mig_project: Project) -> None:
    mig_project.table_migration("001", "a")
    mig_project.write_migration("002_bad", "SELECT * FROM missing;", "SELECT 1;")
    assert mig_project.run("up").code == 1
    failed = mig_project.executions("002_bad")[0]
    assert failed["status"] == "FAILED"
    code, out, err = mig_project.run("rollback", failed["execution_id"])
    assert code == 0, err
    assert "nothing to undo" in out
    assert mig_project.applied() == ["001_create_a"]


def test_rollback_of_a_rollback_row_is_refused(chain: Project) -> None:
    chain.ok("down")
    rollback_row = chain.executions("004_create_d")[-1]
    assert rollback_row["operation"] == "rollback"
    code, _, err = chain.run("rollback", rollback_row["execution_id"])
    assert code == 2 and "only applied migrations" in err


def test_down_all_then_up_again(chain: Project) -> None:
    chain.ok("down", "--all")
    assert chain.applied() == []
    chain.ok("up")
    assert chain.applied() == ["001_create_a", "002_create_b", "003_create_c", "004_create_d"]
    code, _, _ = chain.run("down", "--all", "--steps", "1")
    assert code == 2
