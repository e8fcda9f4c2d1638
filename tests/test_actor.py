"""Who asked: ``MigrationEngine(actor=...)`` is recorded on every execution row its commands
write (apply, rollback, restore), and a ledger written before the column existed gains it."""

from __future__ import annotations

import sqlite3

from mig.testing import Project


def test_actor_is_recorded_on_every_row(mig_project: Project) -> None:
    mig_project.write_config(backup="full")
    mig_project.table_migration("001", "a")
    mig_project.table_migration("002", "b")
    with mig_project.engine(actor="alice") as eng:
        eng.up()
        eng.down(method="down")
        eng.down(method="restore", confirm=True)
        backup = eng.create_backup("full")
        eng.restore_backup(backup.backup_id, confirm=True)
    with mig_project.engine() as eng:
        eng.up()
    rows = mig_project.executions()
    by_alice = [r for r in rows if r["actor"] == "alice"]
    assert {r["operation"] for r in by_alice} == {"apply", "rollback", "restore"}
    assert [r["actor"] for r in rows[len(by_alice):]] == [None, None]
    assert all(e.actor in ("alice", None) for e in mig_project.engine().history())


def test_an_older_ledger_gains_the_column(mig_project: Project) -> None:
    mig_project.table_migration("001", "a")
    mig_project.table_migration("002", "b")
    mig_project.migrate("001")
    with sqlite3.connect(mig_project.db_path) as conn:
        conn.execute("ALTER TABLE mig_migration_executions DROP COLUMN actor")
    assert mig_project.engine().history()[0].actor is None  # read before the upgrade
    with mig_project.engine(actor="bob") as eng:
        eng.up()
    assert mig_project.executions()[-1]["actor"] == "bob"
