"""A run's pre-migration backups are entered in the catalogue once, at the end of the run or
before anything reads the catalogue (issue 9, item 2): every backup is still in it, also
when a failed migration was undone by a restore in the middle of the run. Real SQLite, the
CLI."""

from __future__ import annotations

import json
import sqlite3

from mig.testing import Project


def catalogue(project: Project) -> list[str]:
    conn = sqlite3.connect(project.db_path)
    try:
        return [r[0] for r in conn.execute(
            "SELECT backup_id FROM mig_backup_info ORDER BY backup_id")]
    finally:
        conn.close()


def stored(project: Project) -> list[str]:
    return sorted(b["backup_id"] for b in json.loads(project.ok("backup", "list", "--json")))


def test_every_backup_of_a_run_is_in_the_catalogue(mig_project: Project) -> None:
    mig_project.write_config(backup="incremental")
    for i in range(1, 6):
        mig_project.table_migration(f"00{i}", f"t{i}")
    code, out, err = mig_project.run("up")
    assert code == 0 and "backups: 5 taken" in out + err
    assert len(stored(mig_project)) == 5
    assert catalogue(mig_project) == stored(mig_project)
    assert mig_project.run("check").code == 0


def test_a_restore_in_the_middle_of_a_run_keeps_the_catalogue_whole(
    mig_project: Project,
) -> None:
    """The third migration is not transactional and fails after its first statement
    committed: mig restores the backup taken before it, in the same run. The restored
    database's catalogue holds the three backups the run took."""
    mig_project.write_config(backup="incremental")
    mig_project.table_migration("001", "a")
    mig_project.table_migration("002", "b")
    mig_project.write_migration(
        "003_half", "CREATE TABLE c (id INTEGER PRIMARY KEY);\nINSERT INTO nowhere VALUES (1);",
        "DROP TABLE c;", {"transactional": False},
    )
    code, _, err = mig_project.run("up")
    assert code != 0 and "restored from backup" in err
    assert len(stored(mig_project)) == 3
    assert catalogue(mig_project) == stored(mig_project)
    conn = sqlite3.connect(mig_project.db_path)
    try:
        tables = {r[0] for r in conn.execute("SELECT name FROM sqlite_master")}
    finally:
        conn.close()
    assert {"a", "b"} <= tables and "c" not in tables
