"""Schema snapshots through whole mig runs, on every dialect: mig's own tables never show, DOWN
that undoes UP gives back the snapshot of before, and so does restoring a backup."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from dialect_targets import EXAMPLE_TABLES, DialectTarget
from mig.schema import Snapshot, changes, fingerprint


def _dialect_class(name: str) -> Any:
    if name == "sqlite":
        from mig_sqlite import SQLiteDialect

        return SQLiteDialect
    if name == "postgres":
        from mig_postgres import PostgresDialect

        return PostgresDialect
    from mig_mysql import MySQLDialect

    return MySQLDialect


def snapshot(target: DialectTarget, tmp_path: Path) -> Snapshot:
    dialect = _dialect_class(target.name)(target.url, base_dir=tmp_path, options={})
    dialect.connect(readonly=True)
    try:
        snap: Snapshot = dialect.schema_snapshot()
        return snap
    finally:
        dialect.close()


def test_up_and_down_of_the_example(dialect: DialectTarget, tmp_path: Path) -> None:
    project = dialect.project(tmp_path / "p", example=True)
    project.ok("up", "001")  # creates the bookkeeping tables
    project.ok("down", "--all", "--yes")
    empty = snapshot(dialect, tmp_path)
    assert all(objects == {} for objects in empty.values())  # mig's own objects never show
    project.ok("up")
    applied = snapshot(dialect, tmp_path)
    assert set(applied["tables"]) == EXAMPLE_TABLES
    names = [name for objects in applied.values() for name in objects]
    assert not any(name.lower().startswith("mig_") for name in names)
    project.ok("down", "--all", "--yes")
    assert changes(empty, snapshot(dialect, tmp_path)) == []
    project.ok("up")
    assert fingerprint(snapshot(dialect, tmp_path)) == fingerprint(applied)


@pytest.mark.parametrize("kind", ["full", "schema"])
def test_a_restored_backup_has_the_same_snapshot(
    dialect: DialectTarget, tmp_path: Path, kind: str
) -> None:
    project = dialect.project(tmp_path / "p", example=True)
    project.ok("up")
    before = snapshot(dialect, tmp_path)
    backup_id = project.ok("backup", "create", "--type", kind).strip()
    dialect.execute("CREATE TABLE made_outside (id INTEGER PRIMARY KEY)")
    changed = snapshot(dialect, tmp_path)
    assert changes(before, changed) == ["table made_outside added"]
    project.ok("backup", "restore", backup_id, "--yes")
    after = snapshot(dialect, tmp_path)
    assert changes(before, after) == []
    assert fingerprint(after) == fingerprint(before)


def test_scratch_database_is_empty_separate_and_removed(dialect: DialectTarget,
                                                        tmp_path: Path) -> None:
    """``mig test`` and ``mig diff`` work in a scratch database: new, empty, on the same
    server, gone afterwards, and the configured database is never touched."""
    dialect.execute("CREATE TABLE keep_me (id INTEGER PRIMARY KEY)")
    cls = _dialect_class(dialect.name)
    owner = cls(dialect.url, base_dir=tmp_path, options={})
    with owner.scratch() as url:
        assert url != dialect.url
        scratch = cls(url, base_dir=tmp_path, options={})
        scratch.connect()
        try:
            assert scratch.schema_snapshot()["tables"] == {}
            scratch.execute("CREATE TABLE only_here (id INTEGER PRIMARY KEY)")
            assert set(scratch.schema_snapshot()["tables"]) == {"only_here"}
        finally:
            scratch.close()
    assert not cls(url, base_dir=tmp_path, options={}).exists()
    assert "keep_me" in dialect.user_tables() and "only_here" not in dialect.user_tables()
