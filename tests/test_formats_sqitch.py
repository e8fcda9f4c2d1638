"""mig-formats' ``sqitch`` format on real SQLite files: the plan's changes in plan order with
their dependencies in mig's graph (a rollback with dependents is refused), reworked changes,
scripts that commit their own transaction, and every plan error naming its line."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from format_folders import write
from mig import MigrationFileError
from mig.plugins import Plugins
from mig.testing import Project
from mig_formats import detect, load_folder
from sqitch_project import COUNT_PER_SHELF, FILES, IDS, WHO

HEAD = "%syntax-version=1.0.0\n%project=library\n\n"


def load(path: Path) -> list:
    found = load_folder(path, "sqitch")
    assert found is not None
    return Plugins().load().resolve_order(found[1])


def plan_folder(tmp_path: Path, plan: str, scripts: dict[str, str] | None = None) -> Path:
    """A project with ``plan`` and a deploy script for each name in ``scripts`` (default: one
    per change line of the plan)."""
    if scripts is None:
        names = [re.match(r"\+?([^\s\[]+)", line).group(1)  # type: ignore[union-attr]
                 for line in plan.split("\n") if line.strip() and not line.startswith("@")]
        scripts = {f"deploy/{n}.sql": f"SELECT '{n}';\n" for n in names}
    return write(tmp_path / "m", {"sqitch.plan": HEAD + plan, **scripts})


def test_plan_changes_become_migrations_in_plan_order(tmp_path: Path) -> None:
    path = write(tmp_path / "library", FILES)
    assert detect(path) == "sqitch"
    ms = load(path)
    assert [m.id for m in ms] == IDS
    assert [m.version for m in ms] == ["1", "2", "3", "4"]
    shelves, books, old_count, count = ms
    assert books.dependencies == ("shelves",)
    assert old_count.dependencies == ("books",)
    # the rework requires the earlier version as of its tag, and books
    assert count.dependencies == ("book_count@v1.1", "books")
    assert shelves.path == path / "deploy" / "shelves.sql"
    assert shelves.up_sql == FILES["deploy/shelves.sql"]
    assert shelves.down_sql == FILES["revert/shelves.sql"] and shelves.reversible
    # a script that commits its own transaction runs as written; the others in mig's
    assert not shelves.transactional and books.transactional
    assert count.up_sql.endswith(COUNT_PER_SHELF) and old_count.metadata["sqitch_tags"] == "v1.1"
    assert shelves.metadata["sqitch_note"] == "Shelves for the books."
    assert shelves.metadata["sqitch_verify"] == "verify/shelves.sql"
    assert books.metadata["sqitch_verify"] == ""


def test_sqitch_project_runs_with_up_status_and_down(mig_project: Project) -> None:
    write(mig_project.migrations_dir, FILES)
    mig_project.write_config(migrations_format="auto")
    mig_project.ok("up", "book_count@v1.1")
    state = json.loads(mig_project.ok("status", "--json"))
    assert [p["id"] if isinstance(p, dict) else p for p in state["pending"]] == ["book_count"]
    assert mig_project.query("SELECT n FROM book_count") == [(2,)]
    mig_project.ok("up")
    assert mig_project.applied() == IDS
    assert mig_project.query("SELECT shelf_id, n FROM book_count") == [(1, 2)]
    assert mig_project.query("SELECT label FROM shelves") == [("fiction; new",)]
    # The plan's dependencies are mig's: shelves cannot go while books needs it.
    executions = {r["migration_id"]: r["execution_id"] for r in mig_project.executions()}
    refused = mig_project.run("rollback", executions["shelves"], "--method", "down")
    assert refused.code == 1 and "books" in refused.err
    assert mig_project.applied() == IDS
    # down runs the revert scripts: the reworked view goes back to its first version
    mig_project.ok("down")
    assert mig_project.query("SELECT n FROM book_count") == [(2,)]
    assert "current version: 3" in mig_project.ok("status")
    mig_project.ok("down", "--all", "--yes")
    assert {t for t in mig_project.tables() if not t.startswith("mig_")} == set()


@pytest.mark.parametrize("plan, line, message", [
    (f"a 2024-01-01T00:00:00Z {WHO}\nb [a] {WHO} # no timestamp\n", 5,
     "not a Sqitch change or tag line"),
    (f"a [nope] 2024-01-01T00:00:00Z {WHO}\n", 4, "requires nope: the plan has no change nope"),
    (f"a [b] 2024-01-01T00:00:00Z {WHO}\nb [a] 2024-01-01T00:00:00Z {WHO}\n", 4,
     "a requires b: b is planned after it .*cycle"),
    (f"a [a] 2024-01-01T00:00:00Z {WHO}\n", 4, "cannot require itself"),
    (f"a [a@v1] 2024-01-01T00:00:00Z {WHO}\n", 4, "no tag @v1 before line 4"),
    (f"a 2024-01-01T00:00:00Z {WHO}\na 2024-01-01T00:00:00Z {WHO}\n", 5,
     "duplicates the one on line 4 .*needs a tag"),
    (f"a [{'ab' * 20}] 2024-01-01T00:00:00Z {WHO}\n", 4, "by change id"),
    (f"@v1 2024-01-01T00:00:00Z {WHO}\n", 4, "comes before any change"),
    (f"-a 2024-01-01T00:00:00Z {WHO}\n", 4, "planned for revert"),
    (f"a [b!] 2024-01-01T00:00:00Z {WHO}\n", 4, "not a valid Sqitch dependency"),
])
def test_plan_errors_name_the_plan_line(
    tmp_path: Path, plan: str, line: int, message: str
) -> None:
    path = plan_folder(tmp_path, plan, {})
    with pytest.raises(MigrationFileError, match=message) as info:
        load(path)
    assert info.value.line == line and info.value.path == path / "sqitch.plan"


def test_missing_scripts_and_pragmas(tmp_path: Path) -> None:
    plan = f"a 2024-01-01T00:00:00Z {WHO}\nb [a] 2024-01-01T00:00:00Z {WHO}\n"
    with pytest.raises(MigrationFileError, match="deploy script deploy/b.sql does not exist") as e:
        load(plan_folder(tmp_path / "1", plan, {"deploy/a.sql": "SELECT 1;\n"}))
    assert e.value.line == 5
    reworked = (f"a 2024-01-01T00:00:00Z {WHO}\n@v1 2024-01-01T00:00:00Z {WHO}\n"
                f"a [a@v1] 2024-01-01T00:00:00Z {WHO}\n")
    with pytest.raises(MigrationFileError, match=r"reworked on line 6.*deploy/a@v1.sql") as e:
        load(plan_folder(tmp_path / "2", reworked, {"deploy/a.sql": "SELECT 1;\n"}))
    assert e.value.line == 4
    no_project = write(tmp_path / "3", {"sqitch.plan": f"%syntax-version=1.0.0\n\na {WHO}\n"})
    with pytest.raises(MigrationFileError, match="no %project pragma"):
        load(no_project)
    no_blank = write(tmp_path / "4", {"sqitch.plan": "%project=x\na 2024-01-01T00:00:00Z"
                                                     f" {WHO}\n"})
    with pytest.raises(MigrationFileError, match="blank line must come between") as e:
        load(no_blank)
    assert e.value.line == 2


def test_other_projects_conflicts_and_tag_dependencies(tmp_path: Path) -> None:
    plan = (f"a 2024-01-01T00:00:00Z {WHO}\n@v1 2024-01-01T00:00:00Z {WHO}\n"
            f"+b [@v1 library:a other:users !legacy] 2024-01-01T00:00:00Z {WHO} # note # more\n"
            f"c[b]2024-01-01T00:00:00Z {WHO}\n")
    a, b, c = load(plan_folder(tmp_path, plan))
    assert b.dependencies == ("a",) and c.dependencies == ("b",)
    # another project's change cannot be checked by mig; it is kept, not followed
    assert b.metadata["sqitch_external_requires"] == "other:users"
    assert b.metadata["sqitch_conflicts"] == "!legacy"
    assert b.metadata["sqitch_note"] == "note # more"
    assert not c.reversible  # no revert script


def test_convert_names_deploy_and_revert_scripts(mig_project: Project) -> None:
    write(mig_project.migrations_dir, FILES)
    mig_project.write_config(migrations_format="sqitch")
    report = json.loads(mig_project.ok("import", "--convert", "out", "--json"))
    assert len(report["converted"]) == 4
    out = mig_project.path / "out"
    first = (out / report["converted"][0]).read_text()
    assert "-- @source: deploy/shelves.sql, revert/shelves.sql\n" in first
    assert "-- @transactional: false" in first
    last = (out / report["converted"][3]).read_text()
    assert '-- @dependencies: ["3_book_count_v1_1", "2_books"]' in last
    mig_project.write_config(migrations_dir="out", migrations_format="mig")
    mig_project.migrate()
    assert mig_project.query("SELECT shelf_id, n FROM book_count") == [(1, 2)]
