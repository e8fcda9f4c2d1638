"""Rollback by DOWN SQL, through the CLI on real SQLite files."""

from __future__ import annotations

import json


def test_down_runs_the_down_section_and_records_it(mig_project):
    mig_project.table_migration("001", "things")
    assert mig_project.run("up").code == 0
    result = mig_project.run("down")
    assert result.code == 0, result.err
    assert "things" not in mig_project.tables()
    rows = json.loads(mig_project.run("history", "--json").out)
    assert [(r["operation"], r["status"], r["method"]) for r in rows] == [
        ("rollback", "COMPLETED", "down"), ("apply", "ROLLED_BACK", None)
    ]


def test_a_failing_down_statement_changes_nothing(mig_project):
    mig_project.write_migration(
        "001_two_tables",
        "CREATE TABLE a (id INTEGER PRIMARY KEY);\nCREATE TABLE b (id INTEGER PRIMARY KEY);",
        "DROP TABLE b;\nDROP TABLE no_such_table;",
    )
    assert mig_project.run("up").code == 0
    result = mig_project.run("down")
    assert result.code == 1
    assert "no such table: no_such_table" in result.err
    assert {"a", "b"} <= mig_project.tables()  # DROP TABLE b was rolled back with the rest
    status = json.loads(mig_project.run("status", "--json").out)
    assert status["applied"] == ["001_two_tables"]


def test_refuses_an_irreversible_migration(mig_project):
    mig_project.write_migration("001_once", "CREATE TABLE once (id INTEGER);", None,
                                {"reversible": False})
    assert mig_project.run("up").code == 0
    result = mig_project.run("down", "--method", "down")
    assert result.code == 1
    assert "@reversible: false" in result.err
    assert "once" in mig_project.tables()
