"""Inputs that used to end in a traceback or the wrong exit code: each is now one line on
stderr with the exit code of SPEC §6 (2 bad usage/config/files, 1 a failed restore)."""

from __future__ import annotations

import hashlib
import json
import os
import sqlite3
from pathlib import Path

import pytest
from mig.scaffold import MAX_SLUG
from mig.testing import Project


def one_line_error(result: tuple[int, str, str], code: int, *needles: str) -> str:
    got, out, err = result
    assert got == code, (got, out, err)
    assert "Traceback" not in out + err
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("mig: error: "), err
    for needle in needles:
        assert needle in lines[0], (needle, lines[0])
    assert len(lines[0]) < 400, lines[0]
    return lines[0]


# -- files and configuration -----------------------------------------------------------------


def test_dependencies_nested_100000_deep(mig_project: Project) -> None:
    mig_project.table_migration("001", "a")
    (mig_project.migrations_dir / "002_b.sql").write_text(
        "-- @name: b\n-- @dependencies: " + "[" * 100_000 + "]" * 100_000
        + "\n-- UP\nSELECT 1;\n-- DOWN\nSELECT 1;\n"
    )
    for command in ("validate", "up", "status"):
        one_line_error(mig_project.run(command), 2, "002_b.sql:2", "nests lists too deeply")
    assert mig_project.applied() == []


def test_dependencies_100000_long(mig_project: Project) -> None:
    mig_project.table_migration("001", "a")
    ids = [f"{i:06d}_m" for i in range(100_000)]
    mig_project.write_migration("002_b", "SELECT 1;", "SELECT 1;", {"dependencies": ids})
    one_line_error(mig_project.run("validate"), 2, "002_b.sql:2", "unknown dependency '000000_m'")
    (mig_project.migrations_dir / "002_b.sql").write_text(
        "-- @name: b\n-- @dependencies: " + json.dumps(list(range(100_000)))
        + "\n-- UP\nSELECT 1;\n-- DOWN\nSELECT 1;\n"
    )
    text = json.dumps(list(range(100_000)))
    one_line_error(mig_project.run("up"), 2, "002_b.sql:2", f"... ({len(text)} characters)")
    # the same list of one existing id is fine
    mig_project.write_migration("002_b", "SELECT 1;", "SELECT 1;",
                                {"dependencies": ["001_create_a"] * 100_000})
    mig_project.ok("up")
    assert mig_project.applied() == ["001_create_a", "002_b"]


def test_config_nested_too_deeply(mig_project: Project) -> None:
    mig_project.config_path.write_text(
        '[mig]\ndatabase = "sqlite:///app.db"\nx = ' + "[" * 100_000 + "]" * 100_000 + "\n"
    )
    one_line_error(mig_project.run("status"), 2, "mig.toml: invalid TOML", "nest too deeply")


def test_new_with_a_300_character_name(mig_project: Project) -> None:
    name = "Add " + "a very long column name " * 12
    assert len(name) > 290
    path = Path(mig_project.ok("new", name).strip())
    assert path.exists() and path.parent == mig_project.migrations_dir
    assert len(path.name) <= len("001_") + MAX_SLUG + len(".sql")
    assert path.name.startswith("001_add_a_very_long_column_name_")
    assert f"-- @name: {name.strip()}" in path.read_text()
    path = Path(mig_project.ok("new", "x" * 300).strip())
    assert path.name == "002_" + "x" * MAX_SLUG + ".sql"
    assert "2 migration(s)" in mig_project.ok("validate")


@pytest.mark.skipif(os.geteuid() == 0, reason="root writes into read-only folders")
def test_new_into_a_read_only_folder(mig_project: Project) -> None:
    mig_project.migrations_dir.chmod(0o500)
    try:
        one_line_error(mig_project.run("new", "x"), 2, "cannot write", "Permission denied")
    finally:
        mig_project.migrations_dir.chmod(0o700)


# -- backups ----------------------------------------------------------------------------------


@pytest.fixture
def backed_up(mig_project: Project) -> Project:
    mig_project.table_migration("001", "a")
    mig_project.ok("up")
    mig_project.query("SELECT 1")
    return mig_project


@pytest.mark.parametrize("count", [1, 2])
def test_an_empty_backup_id_names_no_backup(backed_up: Project, count: int) -> None:
    for _ in range(count):
        backed_up.ok("backup", "create", "--type", "full")
    before = backed_up.executions()
    for args in (("backup", "restore", "", "--yes"), ("backup", "verify", ""),
                 ("backup", "restore", "  ", "--yes")):
        one_line_error(backed_up.run(*args), 2, "a backup id cannot be empty")
    assert backed_up.executions() == before


def forge_data(project: Project, backup_id: str) -> None:
    """Replace a backup's data part by random bytes and fix its manifest's checksums, as
    someone with write access to the backups folder could."""
    folder = project.path / "backups" / backup_id
    data = folder / "data"
    data.write_bytes(os.urandom(data.stat().st_size))
    digest = hashlib.sha256(data.read_bytes()).hexdigest()
    manifest = json.loads((folder / "manifest.json").read_text())
    manifest["parts"]["data"] = {"sha256": digest, "size": data.stat().st_size}
    manifest["checksum"] = digest
    (folder / "manifest.json").write_text(json.dumps(manifest))


@pytest.mark.parametrize("backup_type", ["full", "incremental"])
def test_restoring_a_backup_that_is_not_a_database(backed_up: Project, backup_type: str) -> None:
    backup_id = backed_up.ok("backup", "create", "--type", backup_type).strip()
    forge_data(backed_up, backup_id)
    backed_up.ok("backup", "verify", backup_id)  # the checksums fit: only opening it tells
    before = (backed_up.db_path.read_bytes(), backed_up.executions())
    line = one_line_error(
        backed_up.run("backup", "restore", backup_id, "--yes"), 1,
        f"backup {backup_id} does not restore to a SQLite database", "file is not a database",
    )
    assert "mig-restore" not in line and str(backed_up.path) not in line
    assert (backed_up.db_path.read_bytes(), backed_up.executions()) == before
    assert not [p for p in backed_up.path.iterdir() if "mig-restore" in p.name]


# A database disk that fills up while the backup is catalogued: SQLite's max_page_count,
# set on mig's own connections to app.db, makes any growth of the file fail with SQLite's
# real "database or disk is full".
SITECUSTOMIZE = """\
import os, sqlite3

_connect = sqlite3.connect

def connect(database, *args, **kwargs):
    conn = _connect(database, *args, **kwargs)
    if str(database).split("?")[0].endswith(os.environ["MIG_TEST_FULL_DB"]):
        pages = conn.execute("PRAGMA page_count").fetchone()[0]
        conn.execute(f"PRAGMA max_page_count = {max(pages, 1)}")
    return conn

sqlite3.connect = connect
"""


def test_a_full_database_while_cataloguing_keeps_no_backup(
    backed_up: Project, tmp_path: Path
) -> None:
    # Enough applied migrations that the manifest (which lists them) needs new pages.
    for i in range(2, 300):
        backed_up.write_migration(f"{i:03d}_step", "SELECT 1;", "SELECT 1;")
    backed_up.ok("up")
    site = tmp_path / "site"
    site.mkdir()
    (site / "sitecustomize.py").write_text(SITECUSTOMIZE)
    env = {"PYTHONPATH": str(site), "MIG_TEST_FULL_DB": "app.db"}
    catalogue = backed_up.query("SELECT count(*) FROM mig_backup_info")
    for _ in range(3):  # every retry fails the same way and leaves nothing behind
        line = one_line_error(
            backed_up.run("backup", "create", "--type", "full", env=env), 2,
            "was not kept: recording it in the database failed", "database or disk is full",
        )
        assert "-full" in line
        stored = [p for p in (backed_up.path / "backups").iterdir() if p.name != ".staging"]
        assert stored == []
        assert backed_up.query("SELECT count(*) FROM mig_backup_info") == catalogue
    assert not list((backed_up.path / "backups" / ".staging").iterdir())
    # with room again, backups work and are catalogued
    backup_id = backed_up.ok("backup", "create", "--type", "full").strip()
    assert backed_up.query("SELECT backup_id FROM mig_backup_info") == [(backup_id,)]
    assert sqlite3.connect(backed_up.db_path).execute("PRAGMA integrity_check").fetchone() == (
        "ok",
    )
