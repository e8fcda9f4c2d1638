"""What a person sees at a terminal (issue 10, item 5): mig runs under a real
pseudo-terminal (pexpect) and the tests read the screen's byte stream.

The slow migrations build a table of ``MIG_TEST_SLOW_ROWS`` rows (default 600000, a few
tenths of a second each); raise it on a fast machine if the progress bar or the ^C test
finishes before they can look.
"""

from __future__ import annotations

import os
import re
import sys

import pytest
from mig.testing import Project

pexpect = pytest.importorskip("pexpect")

pytest_plugins = ["mig.testing"]

LAUNCHER = "import sys; sys.argv[0] = 'mig'; from mig.launcher import main; main()"
ANSI = re.compile(r"\x1b\[[0-9;]*m")
ROWS = int(os.environ.get("MIG_TEST_SLOW_ROWS", "600000"))


def spawn(project: Project, *args: str, env: dict[str, str] | None = None) -> pexpect.spawn:
    full = {k: v for k, v in os.environ.items()
            if k not in ("MIG_DATABASE", "MIG_CONFIG", "NO_COLOR")}
    full.update({"TERM": "xterm-256color", **(env or {})})
    return pexpect.spawn(sys.executable, ["-c", LAUNCHER, *args], cwd=str(project.path),
                         env=full, encoding="utf-8", dimensions=(40, 120), timeout=60)


def finish(child: pexpect.spawn) -> tuple[str, int]:
    """Everything the terminal showed until mig exited, and its exit status."""
    child.expect(pexpect.EOF)
    child.close()
    status = child.exitstatus if child.exitstatus is not None else 128 + child.signalstatus
    return child.before, status


def slow_migrations(project: Project, count: int) -> None:
    for i in range(1, count + 1):
        project.write_migration(
            f"{i:03d}_slow{i}",
            f"CREATE TABLE slow{i} AS WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL"
            f" SELECT x + 1 FROM c WHERE x < {ROWS}) SELECT x FROM c;",
            f"DROP TABLE slow{i};",
        )


def test_colour_on_a_terminal_only(mig_project: Project) -> None:
    mig_project.table_migration("001", "users")
    mig_project.write_migration("002_bad", "INSERT INTO nowhere VALUES (1);", "SELECT 1;")
    out, code = finish(spawn(mig_project, "up"))
    assert code == 1
    assert ANSI.search(out), out  # green "applied", red error
    assert "\x1b[31" in out or "\x1b[91" in out  # the failure in red
    for env, args in (({"NO_COLOR": "1"}, ("up",)), ({}, ("--no-color", "up"))):
        out, code = finish(spawn(mig_project, *args, env=env))
        assert code == 1
        assert "002_bad failed" in out
        assert not ANSI.search(out), out
    # piped: no colour either
    assert not ANSI.search(mig_project.run("status").out)


def test_progress_shows_count_elapsed_and_eta(mig_project: Project) -> None:
    slow_migrations(mig_project, 4)
    out, code = finish(spawn(mig_project, "up"))
    assert code == 0, out
    text = ANSI.sub("", out)
    assert re.search(r"\b[0-3]/4 elapsed \d+:\d\d:\d\d ETA \d+:\d\d:\d\d", text), text
    assert "applied 4 migration(s)" in out
    assert all(f"applied      {i:03d}_slow{i}" in text for i in range(1, 5))


def test_interrupted_run_says_where_it_stopped(mig_project: Project) -> None:
    slow_migrations(mig_project, 5)
    child = spawn(mig_project, "up")
    child.expect(r"applied.{0,20}001_slow1")
    child.sendintr()  # ^C, as a person would: SIGINT to the foreground process group
    out, code = finish(child)
    assert code == 130, out
    text = ANSI.sub("", out)
    found = re.search(r"interrupted: (\d) of 5 applied(?:; (\d{3}_slow\d) was rolled back)?",
                      text)
    assert found, text
    applied = int(found.group(1))
    assert applied >= 1
    assert mig_project.applied() == [f"{i:03d}_slow{i}" for i in range(1, applied + 1)]
    tables = mig_project.tables()
    if found.group(2):  # the one that was running left nothing behind
        assert found.group(2).split("_")[1] not in tables
        assert int(found.group(2)[:3]) == applied + 1


def test_answering_no_at_a_prompt_is_not_an_error(mig_project: Project) -> None:
    mig_project.write_config(backup="full")
    mig_project.table_migration("001", "users")
    mig_project.ok("up")
    backup_id = mig_project.ok("backup", "list", "--json").split('"backup_id": "')[1].split('"')[0]
    mig_project.table_migration("002", "posts")
    mig_project.ok("up")
    child = spawn(mig_project, "backup", "restore", backup_id)
    child.expect(r"Replace the database with this backup\? \[y/N\]")
    child.sendline("n")
    out, code = finish(child)
    assert code == 0, out
    assert "cancelled; nothing was changed" in out
    assert "posts" in mig_project.tables()
