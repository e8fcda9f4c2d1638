"""Signed manifests (issue 9, item 8): with a backup key set, a backup whose data was replaced
and whose manifest checksums were fixed up is refused by ``verify`` and ``restore``; so are
unsigned backups and ones signed with an unknown key; an old key still verifies during a key
rotation."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pytest
from mig.testing import Project

KEY = {"MIG_BACKUP_KEY": "correct horse battery staple"}


@pytest.fixture()
def project(example_project: Project) -> Project:
    example_project.write_config(backup="none")
    example_project.ok("up", "002")
    return example_project


def forge(project: Project, backup_id: str) -> None:
    """Replace the backup's data with another database and fix up every checksum, as someone
    with write access to the backups folder could."""
    folder = project.path / "backups" / backup_id
    data = folder / "data"
    forged = project.db_path.read_bytes()  # today's database: not what the backup held
    data.write_bytes(forged)
    manifest = json.loads((folder / "manifest.json").read_text())
    digest = hashlib.sha256(forged).hexdigest()
    manifest["parts"]["data"] = {"sha256": digest, "size": len(forged)}
    manifest["checksum"] = digest
    manifest["size_bytes"] = sum(p["size"] for p in manifest["parts"].values())
    (folder / "manifest.json").write_text(json.dumps(manifest, indent=2))


def test_a_forged_backup_passes_checksums_but_not_the_signature(project: Project) -> None:
    backup = project.ok("backup", "create", "--type", "full", env=KEY).strip()
    manifest = json.loads((project.path / "backups" / backup / "manifest.json").read_text())
    assert manifest["signature"]["alg"] == "hmac-sha256"
    assert project.run("backup", "verify", backup, env=KEY).code == 0
    project.ok("up")
    forge(project, backup)
    # Without the key, checksums are all there is, and the forgery passes them.
    assert project.run("backup", "verify", backup).code == 0
    code, _, err = project.run("backup", "verify", backup, env=KEY)
    assert code == 1 and "signature does not match" in err
    before = project.db_path.read_bytes()
    code, _, err = project.run("backup", "restore", backup, "--yes", env=KEY)
    assert code == 1 and "signature does not match" in err
    assert project.db_path.read_bytes() == before


def test_unsigned_and_unknown_keys_are_refused_while_a_key_is_set(project: Project) -> None:
    unsigned = project.ok("backup", "create", "--type", "full").strip()
    code, _, err = project.run("backup", "verify", unsigned, env=KEY)
    assert code == 1 and "is not signed" in err
    other = project.ok("backup", "create", "--type", "full",
                       env={"MIG_BACKUP_KEY": "someone else's"}).strip()
    code, _, err = project.run("backup", "restore", other, "--yes", env=KEY)
    assert code == 1 and "unknown key" in err
    code, _, err = project.run("backup", "verify", env=KEY)  # all of them: both refused
    assert code == 1 and unsigned in err and other in err


def test_key_rotation_keeps_old_backups_verifiable(project: Project, tmp_path: Path) -> None:
    old = project.ok("backup", "create", "--type", "full", env=KEY).strip()
    new_key = tmp_path / "backup.key"
    new_key.write_text("a brand new key\n")
    project.write_config(backup="none", backup_key_file=str(new_key))
    code, _, err = project.run("backup", "verify", old)
    assert code == 1 and "unknown key" in err
    rotated = {"MIG_BACKUP_OLD_KEYS": KEY["MIG_BACKUP_KEY"]}
    assert project.run("backup", "verify", old, env=rotated).code == 0
    new = project.ok("backup", "create", "--type", "full").strip()
    assert project.run("backup", "verify", new).code == 0
    code, _, err = project.run("backup", "restore", old, "--yes", env=rotated)
    assert code == 0, err


def test_a_missing_key_file_is_a_config_error(project: Project, tmp_path: Path) -> None:
    project.write_config(backup="none", backup_key_file=str(tmp_path / "nope.key"))
    code, _, err = project.run("backup", "list")
    assert code == 2 and "backup key file" in err
