"""``mig test`` (plugins/migtest) on SQLite: every planted mistake of tests/data/migtest/ is
found with its precise line, the correct migrations are not flagged, the configured database
is never touched and the scratch database is gone afterwards. The cross-dialect run is in
tests/dialects/test_dialects_migtest.py."""

from __future__ import annotations

import hashlib
import json
import signal
import time
from pathlib import Path
from typing import Any

from mig.config import load_config
from mig.testing import Project
from mig_migtest import Kind, run_roundtrip
from mig_migtest.compare import down_mismatches
from mig_migtest.data import DataCheck
from migtest_planted import CORRECT, SKIPPED, expected, matches, write_planted


def _files(root: Path) -> dict[str, str]:
    """Every file under ``root`` with the SHA-256 of its contents."""
    return {str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(root.rglob("*")) if p.is_file()}


def _run_test(project: Project, tmp_path: Path, *args: str) -> tuple[int, str, str]:
    """``mig test *args`` with its temporary folder (where SQLite's scratch file goes) in
    ``tmp_path/tmp``; checks that the project's files, the configured database among them,
    are unchanged and the temporary folder is empty afterwards."""
    scratch_parent = tmp_path / "tmp"
    scratch_parent.mkdir(exist_ok=True)
    before = _files(project.path)
    result = project.run("test", *args, env={"TMPDIR": str(scratch_parent)}, timeout=300)
    assert _files(project.path) == before, "mig test changed the project's files"
    assert list(scratch_parent.iterdir()) == [], "the scratch database was left behind"
    return result


def test_every_planted_mistake_is_found_and_nothing_else(mig_project: Project,
                                                         tmp_path: Path) -> None:
    write_planted("sqlite", mig_project.migrations_dir)
    mig_project.migrate("003")  # the configured database is in use; mig test leaves it be
    code, out, err = _run_test(mig_project, tmp_path, "--json")
    assert code == 4, err
    report = json.loads(out)
    lines = [f["line"] for f in report["findings"]]
    assert matches(lines, expected("sqlite")), "\n".join(lines)
    assert [(s["migration"], s["reason"]) for s in report["skipped"]] == SKIPPED
    flagged = {f["migration"] for f in report["findings"]}
    assert set(CORRECT) <= set(report["tested"]) and not flagged & set(CORRECT)
    assert not report["ok"] and report["not_reached"] == [] and report["notes"] == []


def test_data_finds_the_rows_a_down_loses(mig_project: Project, tmp_path: Path) -> None:
    write_planted("sqlite", mig_project.migrations_dir)
    code, out, err = _run_test(mig_project, tmp_path, "--data")
    assert code == 4, err
    lines = out.splitlines()
    assert matches(lines[:10], expected("sqlite", data=True)), out
    assert lines[10:] == [
        "011_purge_cancelled_orders: skipped (irreversible: applied without a round trip)",
        "mig test: 15 migration(s) round-tripped, 1 applied without a round trip:"
        " 10 problem(s)",
    ]
    assert not mig_project.db_path.exists()


def test_the_bundled_example_passes(example_project: Project, tmp_path: Path) -> None:
    code, out, err = _run_test(example_project, tmp_path, "--data")
    assert (code, err) == (0, "")
    assert out.splitlines() == [
        "mig test: 5 migration(s) round-tripped, 0 applied without a round trip: ok"]
    assert not example_project.db_path.exists()


def test_target_and_from(mig_project: Project, tmp_path: Path) -> None:
    write_planted("sqlite", mig_project.migrations_dir)
    code, out, _ = _run_test(mig_project, tmp_path, "006", "--from", "4", "--json")
    report = json.loads(out)
    assert code == 4
    assert report["tested"] == ["004_add_user_timezone", "005_index_orders_status_user",
                                "006_active_users_view"]
    assert [s["migration"] for s in report["skipped"]] == [
        "001_create_users", "002_create_orders", "003_create_products"]
    assert matches([f["line"] for f in report["findings"]], expected("sqlite")[:4])


def test_a_failing_down_and_a_failing_up(mig_project: Project, tmp_path: Path) -> None:
    p = mig_project
    p.write_migration("001_a", "CREATE TABLE a (id INTEGER PRIMARY KEY);", "DROP TABLE a;")
    p.write_migration("002_b", "CREATE TABLE b (id INTEGER PRIMARY KEY);",
                      "DROP TABLE b;\nDROP TABLE no_such_table;")
    p.write_migration("003_c", "CREATE TABLE c (id INTEGER PRIMARY KEY);", "DROP TABLE c;")
    p.write_migration("004_d", "INSERT INTO nowhere VALUES (1);", "DELETE FROM nowhere;")
    p.write_migration("005_e", "CREATE TABLE e (id INTEGER PRIMARY KEY);", "DROP TABLE e;")
    code, out, _ = _run_test(p, tmp_path, "--json")
    report = json.loads(out)
    assert code == 4
    assert [(f["migration"], f["kind"]) for f in report["findings"]] == [
        ("002_b", "failed"), ("004_d", "failed")]
    assert report["findings"][0]["message"].startswith("DOWN failed: statement 2 (")
    assert "no such table: no_such_table" in report["findings"][0]["message"]
    assert report["findings"][1]["message"].startswith("UP failed: statement 1 (")
    assert report["tested"] == ["001_a", "002_b", "003_c", "004_d"]
    assert report["not_reached"] == ["005_e"]


def test_usage_errors(mig_project: Project, tmp_path: Path) -> None:
    mig_project.write_migration("001_a", "CREATE TABLE a (id INTEGER);", "DROP TABLE a;")
    code, _, err = mig_project.run("test", "--from", "7")
    assert code == 2 and err.startswith("mig: error: no migration '7'")
    mig_project.write_migration("002_b", "CREATE TABLE b (id INTEGER);", "DROP TABLE b;")
    code, _, err = mig_project.run("test", "001", "--from", "2")
    assert (code, err) == (2, "mig: error: --from 2: 002_b is not in the plan up to 001\n")
    mig_project.write_config("[mig]\nmigrations_dir = \"migrations\"\n")
    code, _, err = mig_project.run("test")
    assert code == 2 and "mig test makes a scratch database" in err
    code, out, _ = mig_project.run("test", "--scratch-url",
                                   f"sqlite:///{tmp_path / 'chosen.db'}")
    assert code == 0 and out.endswith(": ok\n")
    assert not (tmp_path / "chosen.db").exists()


def test_the_python_api_and_the_command_list(example_project: Project) -> None:
    report = run_roundtrip(load_config(example_project.config_path), target="002")
    assert report.ok and report.lines() == []
    assert report.tested == ["001_create_users_table", "002_create_portfolio_table"]
    assert report.to_dict()["ok"] is True
    code, out, _ = example_project.run("--help")
    assert code == 0 and "test" in out.split()


# -- the lines, from snapshots alone (no database) ------------------------------------------

def _table(*columns: dict[str, Any], **keys: Any) -> dict[str, Any]:
    return {"columns": list(columns), "primary_key": keys.get("pk", ["id"]),
            "foreign_keys": keys.get("fks", []), "unique": keys.get("unique", []),
            "checks": keys.get("checks", [])}


def _col(name: str, type_: str = "integer", nullable: bool = True,
         default: str | None = None) -> dict[str, Any]:
    return {"name": name, "type": type_, "nullable": nullable, "default": default}


FK = {"columns": ["user_id"], "references": "users", "referenced_columns": ["id"],
      "on_delete": "cascade", "on_update": "no action"}


def test_lines_for_types_keys_checks_triggers_and_objects() -> None:
    before = {
        "tables": {"orders": _table(_col("id"), _col("user_id"), _col("code", "varchar(10)"),
                                    fks=[FK], checks=["code <> ''"])},
        "indexes": {"idx_keep": {"table": "orders", "columns": ["code"], "unique": True,
                                 "where": None}},
        "views": {}, "triggers": {"trg": {"table": "orders", "timing": "after",
                                          "event": "insert", "definition": "A"}},
    }
    applied = {
        "tables": {"orders": _table(_col("id"), _col("user_id"), _col("code", "text"),
                                    unique=[["code"]])},
        "indexes": {"idx_keep": before["indexes"]["idx_keep"]},
        "views": {"v": {"definition": "SELECT 1"}},
        "triggers": {"trg": {**before["triggers"]["trg"], "definition": "B"}},
    }
    after = {
        "tables": {"orders": _table(_col("id"), _col("user_id"), _col("code", "text"),
                                    unique=[["code"]], checks=["code <> ''"]),
                   "made_by_down": _table(_col("id"))},
        "indexes": {"idx_keep": {**before["indexes"]["idx_keep"], "unique": False}},
        "views": {"v": {"definition": "SELECT 1"}},
        "triggers": {"trg": {**before["triggers"]["trg"], "definition": "B"}},
    }
    assert down_mismatches(before, applied, after) == [
        "DOWN creates table made_by_down that did not exist before UP",
        "DOWN restores orders.code as type text (was varchar(10))",
        "DOWN does not restore foreign key orders(user_id) -> users(id) on delete cascade"
        " that UP dropped",
        "DOWN leaves unique constraint orders(code)",
        "DOWN changes index idx_keep to not unique (was UNIQUE), which UP did not change",
        "DOWN leaves view v",
        "DOWN restores trigger trg with another definition",
    ]
    assert down_mismatches(before, applied, before) == []


def test_lines_for_columns_and_defaults() -> None:
    before = {"tables": {"t": _table(_col("id"), _col("a", default="'x'"), _col("b"),
                                     _col("c", nullable=False))}}
    applied = {"tables": {"t": _table(_col("id"), _col("b"), _col("c", nullable=False),
                                      _col("new"))}}
    after = {"tables": {"t": _table(_col("id"), _col("c"), _col("b"), _col("a"),
                                    _col("other"))}}
    assert down_mismatches(before, applied, after) == [
        "DOWN changes t.c to NULL-able (was NOT NULL), which UP did not change",
        "DOWN restores t.a without its default (was 'x')",
        "DOWN adds column t.other that did not exist before UP",
        "DOWN restores table t with its columns in another order (id, c, b, a; was id, a, b,"
        " c)",
    ]
    gone = {"tables": {"t": _table(_col("id"), _col("c", nullable=False))}}
    assert down_mismatches(before, applied, gone) == [
        "DOWN does not restore column t.a that UP dropped",
        "DOWN drops column t.b that UP did not create",
    ]
    assert str(Kind.SCHEMA) == "schema"


def test_lost_rows_and_values_from_rows_alone() -> None:
    check = DataCheck()
    users = _table(_col("id"), _col("email"), _col("note"))
    before = {"tables": {"users": users, "tags": _table(_col("id"), _col("label")),
                         "logs": _table(_col("msg"), pk=[])}}
    applied = {"tables": {"users": _table(_col("id"), _col("email")),  # UP drops note
                          "labels": before["tables"]["tags"],  # UP renames tags
                          "logs": before["tables"]["logs"]}}
    rows_before = {"users": (["id", "email", "note"], [(1, "a", "x"), (2, "b", "y")]),
                   "tags": (["id", "label"], [(1, "red"), (2, "blue")]),
                   "logs": (["msg"], [("m",), ("m",)])}
    rows_applied = {"users": (["id", "email"], [(1, "a"), (2, "b")]),
                    "labels": (["id", "label"], [(1, "red"), (2, "blue")]),
                    "logs": (["msg"], [("m",), ("m",)])}
    # A DOWN that puts everything back: the dropped column's values do not count.
    rows_after = {"users": (["id", "email", "note"], [(1, "a", None), (2, "b", None)]),
                  "tags": (["id", "label"], [(2, "blue"), (1, "red")]),
                  "logs": (["msg"], [("m",), ("m",)])}
    assert check.losses(before, applied, before, rows_before, rows_applied, rows_after) == []
    # One that loses a tag, one user's email and one of two equal log rows.
    rows_after = {"users": (["id", "email", "note"], [(1, "a", None), (2, None, None)]),
                  "tags": (["id", "label"], [(1, "red")]),
                  "logs": (["msg"], [("m",)])}
    assert check.losses(before, applied, before, rows_before, rows_applied, rows_after) == [
        "DOWN loses 1 of 2 row(s) of logs",
        "DOWN loses 1 of 2 row(s) of tags",
        "DOWN loses the values of users.email in 1 of 2 row(s)",
    ]
    # Rows UP deleted itself, and a table UP dropped (its rows go with it).
    gone = {"tables": {"users": users}}
    rows_applied = {"users": (["id", "email", "note"], [(1, "a", "x")])}
    rows_after = {"users": (["id", "email", "note"], [(1, "a", "x")])}
    assert check.losses(before, gone, before, rows_before, rows_applied, rows_after) == [
        "UP deletes 1 of 2 row(s) of users and DOWN does not bring them back"]


def test_a_killed_run_removes_its_scratch_database(mig_project: Project,
                                                   tmp_path: Path) -> None:
    write_planted("sqlite", mig_project.migrations_dir)
    scratch_parent = tmp_path / "tmp"
    scratch_parent.mkdir()
    proc = mig_project.popen("test", env={"TMPDIR": str(scratch_parent)})
    deadline = time.monotonic() + 60
    while not list(scratch_parent.glob("*/scratch.db")) and time.monotonic() < deadline:
        time.sleep(0.02)
    assert list(scratch_parent.glob("*/scratch.db")), "mig test made no scratch database"
    proc.send_signal(signal.SIGTERM)
    proc.communicate(timeout=60)
    assert proc.returncode == 128 + signal.SIGTERM
    assert list(scratch_parent.iterdir()) == []
