"""Rollback by restoring the pre-migration backup, through the CLI on real SQLite files."""

from __future__ import annotations

import json
import shutil


def applied_ids(project) -> list[str]:
    return json.loads(project.run("status", "--json").out)["applied"]


def test_restore_undoes_the_migration_and_every_later_one(example_project):
    example_project.write_config(backup="full")
    assert example_project.run("up").code == 0
    history = json.loads(example_project.run("history", "--json").out)
    target = next(e for e in history if e["migration_id"] == "003_create_orders_table")

    # Not a terminal and no --yes: the later migrations are listed and nothing happens.
    result = example_project.run("rollback", target["execution_id"], "--method", "restore")
    assert result.code == 1
    assert "004_create_trades_table" in result.out and "005_add_user_preferences" in result.out
    assert "--yes" in result.err
    assert "orders" in example_project.tables()

    result = example_project.run("rollback", target["execution_id"], "--method", "restore", "--yes")
    assert result.code == 0, result.err
    assert {"orders", "trades", "user_preferences"}.isdisjoint(example_project.tables())
    assert applied_ids(example_project) == ["001_create_users_table", "002_create_portfolio_table"]
    rows = json.loads(example_project.run("history", "--json").out)
    rolled = {e["migration_id"] for e in rows if e["operation"] == "rollback"}
    assert rolled == {"003_create_orders_table", "004_create_trades_table",
                      "005_add_user_preferences"}
    assert all(e["method"] == "restore" for e in rows if e["operation"] == "rollback")
    assert any(e["operation"] == "restore" for e in rows)
    # The undone migrations are pending again and apply cleanly.
    assert example_project.run("up").code == 0
    assert len(applied_ids(example_project)) == 5


def test_refused_without_a_backup(example_project):
    assert example_project.run("up").code == 0  # backup = "none"
    result = example_project.run("down", "--method", "restore", "--yes")
    assert result.code == 1
    assert "no backup was taken before it" in result.err
    assert "user_preferences" in example_project.tables()


def test_refused_when_the_backup_was_pruned(example_project):
    example_project.write_config(backup="full")
    assert example_project.run("up").code == 0
    newest = json.loads(example_project.run("backup", "list", "--json").out)[-1]
    shutil.rmtree(example_project.path / "backups" / newest["backup_id"])
    before = example_project.db_path.read_bytes()
    result = example_project.run("down", "--method", "restore", "--yes")
    assert result.code == 1
    assert "is not usable" in result.err
    assert example_project.db_path.read_bytes() == before


def test_refused_for_a_data_only_backup(example_project):
    example_project.write_config(backup="data")
    assert example_project.run("up").code == 0
    result = example_project.run("down", "--method", "restore", "--yes")
    assert result.code == 1
    assert "data only" in result.err
    assert "user_preferences" in example_project.tables()


def test_auto_uses_restore_for_an_irreversible_migration(mig_project):
    mig_project.write_config(backup="full")
    mig_project.table_migration("001", "kept")
    mig_project.write_migration(
        "002_irreversible", "CREATE TABLE gone (id INTEGER PRIMARY KEY);", None,
        {"reversible": False},
    )
    assert mig_project.run("up").code == 0
    result = mig_project.run("down", "--method", "down")
    assert result.code == 1 and "reversible" in result.err
    result = mig_project.run("down", "--yes")  # rollback = "auto"
    assert result.code == 0, result.err
    assert "gone" not in mig_project.tables() and "kept" in mig_project.tables()
