"""Drift (an applied migration edited) and out-of-order migrations (SPEC §10)."""

from __future__ import annotations

import json

from mig.testing import Project


def status(project: Project) -> dict:
    code, out, err = project.run("status", "--json")
    assert code == 0, err
    return json.loads(out)


def applied_two(project: Project) -> None:
    project.table_migration("001", "a", description="first")
    project.table_migration("002", "b")
    project.migrate()


def test_editing_up_is_drift(mig_project: Project) -> None:
    applied_two(mig_project)
    path = mig_project.migrations_dir / "001_create_a.sql"
    path.write_text(path.read_text().replace("note TEXT", "note TEXT, extra TEXT"))
    mig_project.table_migration("003", "c")
    assert status(mig_project)["drift"] == ["001_create_a"]
    code, out, _ = mig_project.run("status")
    assert code == 0 and "DRIFT" in out and "001_create_a" in out
    code, out, _ = mig_project.run("check")
    assert code == 4 and "001_create_a" in out
    code, _, err = mig_project.run("up")
    assert code == 4
    assert "001_create_a" in err and "--allow-drift" in err and "Traceback" not in err
    assert mig_project.run("up", "--dry-run").code == 4  # a dry run refuses the same way
    assert "would apply 003" in mig_project.ok("up", "--dry-run", "--allow-drift")
    assert "c" not in mig_project.tables()
    code, _, err = mig_project.run("up", "--allow-drift")
    assert code == 0, err
    assert "c" in mig_project.tables()
    # Still drifted: allowing it once does not bless the edit.
    assert status(mig_project)["drift"] == ["001_create_a"]


def test_editing_down_is_drift(mig_project: Project) -> None:
    applied_two(mig_project)
    path = mig_project.migrations_dir / "002_create_b.sql"
    path.write_text(path.read_text().replace("DROP TABLE b;", "DROP TABLE IF EXISTS b;"))
    assert status(mig_project)["drift"] == ["002_create_b"]


def test_header_edits_and_line_endings_are_not_drift(mig_project: Project) -> None:
    applied_two(mig_project)
    path = mig_project.migrations_dir / "001_create_a.sql"
    text = path.read_text()
    assert "-- @description: first" in text
    edited = text.replace("-- @description: first", "-- @description: reworded entirely")
    edited = edited.replace("-- @name: create a", "-- @name: Create table A")
    path.write_bytes(edited.replace("\n", "\r\n").encode())
    other = mig_project.migrations_dir / "002_create_b.sql"
    other.write_bytes(b"\xef\xbb\xbf" + other.read_bytes())  # a BOM is not drift either
    assert status(mig_project)["drift"] == []
    mig_project.ok("check")
    mig_project.table_migration("003", "c")
    mig_project.migrate()


def test_crlf_file_applied_then_converted_is_not_drift(mig_project: Project) -> None:
    path = mig_project.table_migration("001", "a")
    path.write_bytes(path.read_bytes().replace(b"\n", b"\r\n"))
    mig_project.migrate()
    path.write_bytes(path.read_bytes().replace(b"\r\n", b"\n"))
    assert status(mig_project)["drift"] == []


def test_out_of_order_is_listed_and_applied_by_default(mig_project: Project) -> None:
    mig_project.table_migration("001", "a")
    mig_project.table_migration("003", "c")
    mig_project.ok("up")
    mig_project.table_migration("002", "b")
    st = status(mig_project)
    assert st["out_of_order"] == ["002_create_b"] and st["pending"] == ["002_create_b"]
    code, out, _ = mig_project.run("status")
    assert "out of order" in out
    code, _, err = mig_project.run("up")
    assert code == 0, err
    assert "b" in mig_project.tables()
    st = status(mig_project)
    assert st["out_of_order"] == [] and st["current_version"] == "003"


def test_out_of_order_error_refuses(mig_project: Project) -> None:
    mig_project.write_config(out_of_order="error")
    mig_project.table_migration("001", "a")
    mig_project.table_migration("003", "c")
    mig_project.migrate()
    mig_project.table_migration("002", "b")
    assert status(mig_project)["out_of_order"] == ["002_create_b"]
    code, _, err = mig_project.run("up")
    assert code == 2
    assert "002_create_b" in err and "out_of_order" in err and "Traceback" not in err
    assert mig_project.run("up", "--dry-run").code == 2
    assert "b" not in mig_project.tables()
    mig_project.table_migration("004", "d")
    assert mig_project.run("up").code == 2
    assert "d" not in mig_project.tables()
