"""Big backup parts are checksummed in chunks (issue 9, item 10): the manifest keeps each
chunk's SHA-256, verify and restore check them and name the chunk that fails, and manifests
written before chunks (a whole-file SHA-256 only) still verify and restore. Real files, real
SQLite, the CLI."""

from __future__ import annotations

import hashlib
import json
import sqlite3
from pathlib import Path

import pytest
from mig.testing import Project

CHUNK = 8 << 20


@pytest.fixture
def project(mig_project: Project) -> Project:
    """A database of about 20 MiB: its full backup is three chunks."""
    mig_project.write_config(backup="full")
    conn = sqlite3.connect(mig_project.db_path, isolation_level=None)
    conn.execute("CREATE TABLE blobs (id INTEGER PRIMARY KEY, body BLOB NOT NULL)")
    conn.execute("WITH RECURSIVE n(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM n"
                 " WHERE x < 20000) INSERT INTO blobs SELECT x, randomblob(1000) FROM n")
    conn.close()
    return mig_project


def manifest_path(project: Project, backup_id: str) -> Path:
    return project.path / "backups" / backup_id / "manifest.json"


def execute(project: Project, sql: str) -> None:
    conn = sqlite3.connect(project.db_path, isolation_level=None)
    conn.execute(sql)
    conn.close()


def count(project: Project) -> int:
    conn = sqlite3.connect(project.db_path)
    try:
        return int(conn.execute("SELECT count(*) FROM blobs").fetchone()[0])
    finally:
        conn.close()


def test_a_flipped_byte_in_one_chunk_is_reported_by_verify_and_refused_by_restore(
    project: Project,
) -> None:
    backup_id = project.ok("backup", "create", "--type", "full").strip()
    data = project.path / "backups" / backup_id / "data"
    entry = json.loads(manifest_path(project, backup_id).read_text())["parts"]["data"]
    size = data.stat().st_size
    assert entry["chunk_size"] == CHUNK
    assert len(entry["chunks"]) == -(-size // CHUNK) == 3
    assert entry["sha256"] == hashlib.sha256(
        b"".join(bytes.fromhex(c) for c in entry["chunks"])).hexdigest()
    assert project.run("backup", "verify", backup_id).code == 0

    with data.open("r+b") as fh:  # one byte in the second chunk
        fh.seek(CHUNK + 12345)
        byte = fh.read(1)
        fh.seek(CHUNK + 12345)
        fh.write(bytes([byte[0] ^ 0xFF]))
    code, _, err = project.run("backup", "verify", backup_id)
    assert code == 1
    assert backup_id in err and "chunk 2 of 3" in err

    execute(project, "DELETE FROM blobs WHERE id > 10")
    before = project.db_path.read_bytes()
    code, _, err = project.run("backup", "restore", backup_id, "--yes")
    assert code != 0
    assert backup_id in err and "chunk 2 of 3" in err
    assert project.db_path.read_bytes() == before
    assert count(project) == 10


def test_a_manifest_without_chunks_still_verifies_and_restores(project: Project) -> None:
    """As written before chunks: the data part's whole-file SHA-256 only."""
    backup_id = project.ok("backup", "create", "--type", "full").strip()
    data = project.path / "backups" / backup_id / "data"
    path = manifest_path(project, backup_id)
    manifest = json.loads(path.read_text())
    whole = hashlib.sha256(data.read_bytes()).hexdigest()
    manifest["parts"]["data"] = {"sha256": whole, "size": data.stat().st_size}
    manifest["checksum"] = whole
    path.write_text(json.dumps(manifest, indent=2))

    assert project.run("backup", "verify", backup_id).code == 0
    execute(project, "DELETE FROM blobs")
    project.ok("backup", "restore", backup_id, "--yes")
    assert count(project) == 20000

    with data.open("r+b") as fh:  # and a damaged one is still refused
        fh.seek(100)
        fh.write(b"\xff\xfe")
    code, _, err = project.run("backup", "verify", backup_id)
    assert code == 1 and backup_id in err and "SHA-256" in err
