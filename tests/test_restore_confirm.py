"""Nothing is restored without saying what it loses (SPEC §10): a restore, and a rollback that
restores (``--method restore``, or ``auto`` choosing it for an irreversible migration), names
the backup, its age, every migration it undoes and the tables written since; it asks on a
terminal, refuses without one unless ``--yes``, and the Python API needs ``confirm=True``."""

from __future__ import annotations

import os
import pty
import sqlite3
import subprocess

import pytest
from mig import RollbackRefused
from mig.testing import Project


@pytest.fixture()
def project(mig_project: Project) -> Project:
    """001 reversible, 002 irreversible, full backups before each, ``rollback = "auto"``."""
    mig_project.write_config(backup="full", rollback="auto")
    mig_project.write_migration("001_t1", "CREATE TABLE t1 (a INTEGER);", "DROP TABLE t1;")
    mig_project.write_migration("002_t2", "CREATE TABLE t2 (b INTEGER);", "",
                                {"reversible": False, "dependencies": ["001_t1"]})
    mig_project.ok("up")
    return mig_project


def write_a_row(project: Project) -> None:
    conn = sqlite3.connect(project.db_path)
    with conn:
        conn.execute("INSERT INTO t1 VALUES (42)")
    conn.close()


def test_down_that_restores_says_what_it_loses_and_needs_yes(project: Project) -> None:
    write_a_row(project)
    before = project.db_path.read_bytes()
    code, out, err = project.run("down")
    assert code == 1 and "--yes" in err
    backup = [r for r in project.executions("002_t2") if r["operation"] == "apply"][0]["backup_id"]
    assert f"restores backup {backup} (full, taken" in out and " ago)" in out
    assert "it undoes: 002_t2" in out
    assert "tables written since: t1" in out
    assert project.db_path.read_bytes() == before
    assert project.query("SELECT a FROM t1") == [(42,)]

    code, out, err = project.run("down", "--yes")
    assert code == 0, err
    assert "t2" not in project.tables()
    assert project.query("SELECT a FROM t1") == []  # the row written after the backup is lost


def test_a_restore_that_undoes_several_says_each_and_json_stays_json(project: Project) -> None:
    import json

    project.write_migration("003_t3", "CREATE TABLE t3 (c INTEGER);", "DROP TABLE t3;",
                            {"dependencies": ["002_t2"]})
    project.ok("up")
    # One restore, of the backup taken before 002, undoes both.
    code, out, err = project.run("down", "--steps", "2", "--method", "restore", "--yes")
    assert code == 0, err
    # Newest first, in the order the notice names them and a rollback undoes them.
    assert out.index("rolled back  003_t3") < out.index("rolled back  002_t2")
    assert "it undoes: 003_t3, 002_t2" in out
    assert "rolled back 2 migration(s)" in out
    project.ok("up")
    code, out, err = project.run("down", "--steps", "2", "--method", "restore", "--yes",
                                 "--json")
    assert code == 0, err
    assert "restores backup" in err  # the notice goes to stderr: stdout is the JSON alone
    assert [e["migration_id"] for e in json.loads(out)["executions"]] == ["003_t3", "002_t2"]


def test_rollback_by_restore_asks_even_for_one_migration(project: Project) -> None:
    [ex] = [r for r in project.executions("002_t2") if r["operation"] == "apply"]
    code, out, err = project.run("rollback", ex["execution_id"], "--method", "restore")
    # t2 did not exist when the backup was taken: 002_t2 created it since
    assert code == 1 and "restores backup" in out and "tables written since: t2" in out
    assert "t2" in project.tables()


def test_backup_restore_names_what_it_undoes(project: Project) -> None:
    backup = project.ok("backup", "create").strip()
    project.ok("down", "--yes")
    code, out, err = project.run("backup", "restore", backup)
    assert code == 1 and f"restores backup {backup}" in out
    assert "it undoes: no migration" in out
    first = [r for r in project.executions("001_t1") if r["operation"] == "apply"][0]
    older = first["backup_id"]
    code, out, _ = project.run("backup", "restore", older)
    assert code == 1 and "it undoes: 001_t1" in out


def run_on_a_terminal(project: Project, answer: str, *args: str) -> tuple[int, str]:
    """Run mig with a pseudo-terminal as its standard input and type ``answer``."""
    leader, follower = pty.openpty()
    proc = subprocess.Popen(project.command(*args), cwd=project.path, env=project.env(),
                            stdin=follower, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                            text=True)
    os.close(follower)
    os.write(leader, answer.encode() + b"\n")
    out, _ = proc.communicate(timeout=60)
    os.close(leader)
    return proc.returncode, out


def test_on_a_terminal_no_changes_nothing_and_is_not_an_error(project: Project) -> None:
    write_a_row(project)
    before = project.db_path.read_bytes()
    code, out = run_on_a_terminal(project, "n", "down")
    assert code == 0 and "Restore and lose those writes?" in out
    assert "cancelled; nothing was changed" in out
    assert project.db_path.read_bytes() == before
    code, out = run_on_a_terminal(project, "y", "down")
    assert code == 0, out
    assert "t2" not in project.tables()


def test_the_api_needs_confirm(project: Project) -> None:
    backup = project.ok("backup", "create").strip()
    with project.engine() as engine:
        with pytest.raises(RollbackRefused, match="confirm=True"):
            engine.down()
        with pytest.raises(RollbackRefused, match="confirm=True"):
            engine.restore_backup(backup)
        assert "t2" in project.tables()
        [done] = engine.down(confirm=True)
        assert done.migration_id == "002_t2" and done.method == "restore"
    assert "t2" not in project.tables()
    with project.engine() as engine:
        engine.restore_backup(backup, confirm=True)
    assert "t2" in project.tables()
