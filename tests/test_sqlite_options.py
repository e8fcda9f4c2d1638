"""``[mig.options.sqlite]``: foreign_keys, journal_mode and synchronous, validated when the
config is read and applied on every connection (issue 10, item 8)."""

from __future__ import annotations

import re
import sqlite3

import pytest
from mig.errors import ConfigError
from mig.testing import Project

pytest_plugins = ["mig.testing"]

PARENT_CHILD = ("CREATE TABLE parent (id INTEGER PRIMARY KEY);"
                " CREATE TABLE child (id INTEGER PRIMARY KEY,"
                " parent_id INTEGER REFERENCES parent(id));")
#: The rebuild of a referenced table that applications written with foreign keys off do.
REBUILD = ("INSERT INTO parent VALUES (1); INSERT INTO child VALUES (1, 1);"
           " CREATE TABLE parent_new (id INTEGER PRIMARY KEY, note TEXT);"
           " INSERT INTO parent_new (id) SELECT id FROM parent;"
           " DROP TABLE parent; ALTER TABLE parent_new RENAME TO parent;"
           " INSERT INTO child VALUES (2, 99);")


def options(project: Project, **values: object) -> None:
    project.write_config(options={"sqlite": values})


def setup(project: Project) -> None:
    project.write_migration("001_tables", PARENT_CHILD, "DROP TABLE child; DROP TABLE parent;")
    project.write_migration("002_rebuild", REBUILD, "DELETE FROM child;")


def test_foreign_keys_stay_on_by_default(mig_project: Project) -> None:
    setup(mig_project)
    code, _, err = mig_project.run("up")
    assert code == 1, err
    assert "FOREIGN KEY constraint failed" in err
    assert mig_project.applied() == ["001_tables"]


def test_foreign_keys_off_runs_migrations_written_for_it(mig_project: Project) -> None:
    options(mig_project, foreign_keys=False)
    setup(mig_project)
    mig_project.ok("up")
    assert mig_project.applied() == ["001_tables", "002_rebuild"]
    assert mig_project.query("SELECT id, parent_id FROM child ORDER BY id") == [(1, 1), (2, 99)]
    # `check` still reports the orphan row, whatever the setting.
    code, out, _ = mig_project.run("check")
    assert code == 4 and "sqlite.foreign_key" in out, out


def test_foreign_keys_accepts_on_and_off_words(mig_project: Project) -> None:
    options(mig_project, foreign_keys="off")
    setup(mig_project)
    mig_project.ok("up")
    options(mig_project, foreign_keys="ON")
    with mig_project.engine() as eng:
        eng.db.writer()
        assert eng.dialect.query("PRAGMA foreign_keys") == [(1,)]


def test_journal_mode_and_synchronous_are_applied(mig_project: Project) -> None:
    options(mig_project, journal_mode="wal", synchronous="normal")
    mig_project.table_migration("001", "t")
    mig_project.ok("up")
    conn = sqlite3.connect(mig_project.db_path)
    try:  # wal is kept in the file itself
        assert conn.execute("PRAGMA journal_mode").fetchone() == ("wal",)
    finally:
        conn.close()
    with mig_project.engine() as eng:
        eng.db.writer()
        assert eng.dialect.query("PRAGMA synchronous") == [(1,)]  # NORMAL
        eng.db.close()
        eng.db.reader()  # read-only connections get synchronous too, no journal change
        assert eng.dialect.query("PRAGMA synchronous") == [(1,)]


def test_journal_mode_delete_turns_wal_back_off(mig_project: Project) -> None:
    options(mig_project, journal_mode="wal")
    mig_project.table_migration("001", "t")
    mig_project.migrate()
    options(mig_project, journal_mode="delete")
    mig_project.table_migration("002", "u")
    mig_project.migrate()
    assert mig_project.query("PRAGMA journal_mode") == [("delete",)]
    assert not (mig_project.path / "app.db-wal").exists()


def test_a_full_backup_and_restore_work_in_wal_mode(mig_project: Project) -> None:
    mig_project.write_config(backup="full", options={"sqlite": {"journal_mode": "wal"}})
    mig_project.table_migration("001", "t")
    mig_project.ok("up")
    backup_id = mig_project.ok("backup", "create").strip()
    mig_project.table_migration("002", "u")
    mig_project.ok("up")
    mig_project.ok("backup", "restore", backup_id, "--yes")
    assert mig_project.tables() >= {"t"} and "u" not in mig_project.tables()


@pytest.mark.parametrize(("values", "message"), [
    ({"journal_mode": "fast"}, "sqlite.journal_mode must be one of delete, truncate"),
    ({"synchronous": 2}, "sqlite.synchronous must be one of off, normal, full, extra"),
    ({"foreign_keys": "maybe"}, "sqlite.foreign_keys must be true/false"),
    ({"foreign_keys": 1}, "sqlite.foreign_keys must be true/false"),
    ({"busy_timeout": -1}, "sqlite.busy_timeout must be a non-negative number"),
    ({"jurnal_mode": "wal"}, "unknown key 'jurnal_mode' in [mig.options.sqlite]"),
])
def test_bad_values_are_configuration_errors(mig_project: Project, values: dict[str, object],
                                             message: str) -> None:
    options(mig_project, **values)
    mig_project.table_migration("001", "t")
    with pytest.raises(ConfigError, match=re.escape(message)), mig_project.engine() as eng:
        eng.validate()
    assert not mig_project.db_path.exists()


def test_a_bad_value_stops_every_command_with_exit_2(mig_project: Project) -> None:
    options(mig_project, journal_mode="fast")
    mig_project.table_migration("001", "t")
    for command in (("validate",), ("up",)):
        code, _, err = mig_project.run(*command)
        assert code == 2, (command, err)
        assert err.startswith("mig: error:") and "sqlite.journal_mode" in err, err
    assert not mig_project.db_path.exists()
