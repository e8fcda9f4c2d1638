"""``mig new``: names already used are refused, ``version_style = "timestamp"`` and
``--after-heads`` (issue 10, item 7)."""

from __future__ import annotations

import datetime as dt
import re
from pathlib import Path

import pytest
from mig import create_migration_file
from mig.errors import ConfigError
from mig.testing import Project

pytest_plugins = ["mig.testing"]


def headers(path: Path) -> dict[str, str]:
    return dict(re.findall(r"^-- @(\w+): ?(.*)$", path.read_text(), re.MULTILINE))


def test_a_name_already_used_is_refused(tmp_path: Path) -> None:
    first = create_migration_file(tmp_path, "Add users")
    assert first.name == "001_add_users.sql"
    with pytest.raises(ConfigError, match=r"a migration named 'add_users' already exists:"
                                          r" 001_add_users.sql"):
        create_migration_file(tmp_path, "add USERS!")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["001_add_users.sql"]
    assert create_migration_file(tmp_path, "Add users email").name == "002_add_users_email.sql"


def test_timestamp_versions(tmp_path: Path) -> None:
    when = dt.datetime(2026, 3, 4, 5, 6, 7, tzinfo=dt.UTC)
    path = create_migration_file(tmp_path, "one", version_style="timestamp", now=when)
    assert path.name == "20260304050607_one.sql"
    # The same second again: the next free second, never an overwrite.
    again = create_migration_file(tmp_path, "two", version_style="timestamp", now=when)
    assert again.name == "20260304050608_two.sql"
    # Local times are written in UTC.
    local = when.astimezone(dt.timezone(dt.timedelta(hours=2)))
    assert create_migration_file(tmp_path, "three", version_style="timestamp",
                                 now=local).name == "20260304050609_three.sql"
    with pytest.raises(ConfigError, match="version_style must be one of sequence, timestamp"):
        create_migration_file(tmp_path, "four", version_style="date")


def test_cli_timestamp_style_and_duplicate_name(mig_project: Project) -> None:
    mig_project.write_config(version_style="timestamp")
    before = dt.datetime.now(dt.UTC).replace(microsecond=0)
    out = mig_project.ok("new", "Create accounts")
    path = Path(out.strip())
    version = path.name.split("_", 1)[0]
    assert len(version) == 14, path
    stamped = dt.datetime.strptime(version, "%Y%m%d%H%M%S").replace(tzinfo=dt.UTC)
    assert before <= stamped <= dt.datetime.now(dt.UTC) + dt.timedelta(seconds=2)
    code, _, err = mig_project.run("new", "create accounts")
    assert code == 2
    assert err.startswith("mig: error: a migration named 'create_accounts' already exists")
    assert len(list(mig_project.migrations_dir.iterdir())) == 1
    # The timestamped file is a valid migration.
    mig_project.ok("validate")


def test_bad_version_style_is_a_config_error(mig_project: Project) -> None:
    mig_project.write_config(version_style="dates")
    code, _, err = mig_project.run("new", "x")
    assert code == 2
    assert "version_style = 'dates' is not one of sequence, timestamp" in err


def test_after_heads_depends_on_the_graph_sinks(mig_project: Project) -> None:
    mig_project.table_migration("001", "a")
    mig_project.table_migration("002", "b", ["001_create_a"])
    mig_project.table_migration("003", "c", ["001_create_a"])
    path = Path(mig_project.ok("new", "Merge branches", "--after-heads").strip())
    assert path.name == "004_merge_branches.sql"
    assert headers(path)["dependencies"] == '["002_create_b", "003_create_c"]'
    # Now the new one is the only head.
    nxt = Path(mig_project.ok("new", "Next", "--after-heads").strip())
    assert headers(nxt)["dependencies"] == '["004_merge_branches"]'
    mig_project.ok("validate")


def test_after_heads_in_an_empty_project(mig_project: Project) -> None:
    path = Path(mig_project.ok("new", "First", "--after-heads").strip())
    assert headers(path)["dependencies"] == "[]"
