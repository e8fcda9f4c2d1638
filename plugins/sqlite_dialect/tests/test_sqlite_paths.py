"""One file, one database: the lock, restores and temporary files follow the real path of the
database, whatever link or spelling the URL reaches it by (issue 9, item 3)."""

from __future__ import annotations

from pathlib import Path

import pytest
from mig import LockTimeout
from mig.testing import Project
from mig_sqlite import SQLiteDialect


@pytest.fixture
def linked(mig_project: Project) -> tuple[Project, Path]:
    """A project whose ``app.db`` is a symlink to ``data/real.db``."""
    real = mig_project.path / "data" / "real.db"
    real.parent.mkdir()
    mig_project.db_path.symlink_to(real)
    mig_project.write_config(lock_timeout=0.5)
    mig_project.table_migration("001", "accounts")
    mig_project.table_migration("002", "orders", ["001_create_accounts"])
    return mig_project, real


def test_two_paths_to_one_database_share_one_lock(linked):
    project, real = linked
    holder = SQLiteDialect(f"sqlite:///{real}", base_dir=project.path, options={})
    with holder.lock(1):
        # up through the link must wait for (and here time out on) the holder's lock,
        # not run beside it and fail inside SQLite with a FAILED row
        code, _, err = project.run("up")
        assert code == 3, err
        assert "locked by another mig process" in err
        linked_dialect = SQLiteDialect("sqlite:///app.db", base_dir=project.path, options={})
        with pytest.raises(LockTimeout), linked_dialect.lock(0.1):
            pass
    assert project.executions() == []
    assert not (project.path / "app.db.miglock").exists()
    assert (real.parent / "real.db.miglock").exists()
    project.ok("up")
    assert project.applied() == ["001_create_accounts", "002_create_orders"]


def test_the_dialect_names_the_real_file(linked, tmp_path):
    project, real = linked
    other = SQLiteDialect("sqlite:///./data/../app.db", base_dir=project.path, options={})
    assert other.path == real
    assert other.lock_path == real.with_name("real.db.miglock")
    assert other.display_url() == "sqlite:///./data/../app.db"  # shown as the user wrote it


@pytest.mark.parametrize("backup_type", ["incremental", "full", "schema", "data"])
def test_a_restore_through_a_link_replaces_the_real_file(linked, backup_type):
    project, real = linked
    project.write_config(backup="none", lock_timeout=5)
    project.migrate("001_create_accounts")
    project.ok("backup", "create", "--type", backup_type)  # (an incremental's base)
    with project.engine() as eng:
        eng.dialect.connect()
        eng.dialect.execute("INSERT INTO accounts (note) VALUES ('kept')")
    backup_id = project.ok("backup", "create", "--type", backup_type).strip()
    project.migrate()
    code, _, err = project.run("backup", "restore", backup_id, "--yes")
    assert code == 0, err
    assert project.db_path.is_symlink() and project.db_path.resolve() == real
    # a data-only restore keeps the schema as it is
    assert ("orders" in project.tables()) == (backup_type == "data")
    if backup_type != "schema":
        assert project.query("SELECT note FROM accounts") == [("kept",)]
    leftovers = [p.name for p in project.path.iterdir() if "mig-restore" in p.name]
    leftovers += [p.name for p in real.parent.iterdir() if "mig-restore" in p.name]
    assert leftovers == []
