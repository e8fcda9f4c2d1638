"""Never leave the backups folder (issue 9, item 5): a symlink in ``backups_dir``, or a key
that resolves outside it, is refused, never followed, whether mig reads, verifies, restores
or deletes."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from mig import BackupError
from mig.testing import Project
from mig_storage_local import LocalStorage


@pytest.fixture
def project(mig_project: Project) -> Project:
    mig_project.write_config(backup="none")
    mig_project.table_migration("001", "accounts")
    mig_project.migrate()
    return mig_project


def victim_folder(tmp_path: Path) -> Path:
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "precious.txt").write_text("keep me", encoding="utf-8")
    return outside


def test_prune_does_not_follow_a_symlinked_backup_folder(project, tmp_path):
    backup_id = project.ok("backup", "create").strip()
    outside = victim_folder(tmp_path)
    real = project.path / "backups" / backup_id
    for part in real.iterdir():
        shutil.copy(part, outside / part.name)
    shutil.rmtree(real)
    real.symlink_to(outside, target_is_directory=True)

    code, out, err = project.run("backup", "prune", "--keep-count", "0", "--keep-days", "0")
    assert code == 0, err
    assert sorted(p.name for p in outside.iterdir()) == ["data", "manifest.json", "precious.txt"]
    rows = json.loads(project.ok("backup", "list", "--json"))
    assert [(r["backup_id"], r["damaged"]) for r in rows] == [(backup_id, True)]
    assert "symlink" in rows[0]["error"]


def test_verify_and_restore_refuse_a_data_symlink(project, tmp_path):
    backup_id = project.ok("backup", "create").strip()
    outside = victim_folder(tmp_path)
    data = project.path / "backups" / backup_id / "data"
    # an identical file outside, so only the link betrays it
    shutil.copy(data, outside / "data")
    data.unlink()
    data.symlink_to(outside / "data")
    code, _, err = project.run("backup", "verify", backup_id)
    assert code == 1 and "symlink" in err, err
    project.table_migration("002", "orders")
    project.migrate()
    code, _, err = project.run("backup", "restore", backup_id, "--yes")
    assert code == 1 and "symlink" in err, err
    assert "orders" in project.tables()
    code, out, _ = project.run("check")
    assert code == 4 and "symlink" in out


def test_the_target_refuses_links_and_keys_outside_its_folder(tmp_path):
    root = tmp_path / "backups"
    outside = victim_folder(tmp_path)
    store = LocalStorage(root, options={})
    (root / "b1").mkdir(parents=True)
    (root / "b1" / "data").symlink_to(outside / "precious.txt")
    (root / "b2").symlink_to(outside, target_is_directory=True)
    for key in ("b1/data", "b2/precious.txt", "b2/x"):
        with pytest.raises(BackupError, match="symlink"):
            store.open(key)
        with pytest.raises(BackupError, match="symlink"):
            store.local_path(key)
        with pytest.raises(BackupError, match="symlink"):
            store.delete(key)
    for key in ("../outside/precious.txt", "b1/../../outside/precious.txt", "/etc/passwd"):
        with pytest.raises(BackupError):
            store.open(key)
    # links are listed (so the core can show them as damaged), never walked into
    assert list(store.keys()) == ["b1/data", "b2"]
    assert list(store.keys("b2/")) == []
    assert (outside / "precious.txt").read_text(encoding="utf-8") == "keep me"


def test_a_linked_backups_dir_itself_is_fine(tmp_path):
    # the configured folder may be a link (a mount point elsewhere): only what is under it
    # must stay under it
    real = tmp_path / "disk" / "backups"
    real.mkdir(parents=True)
    link = tmp_path / "backups"
    link.symlink_to(real, target_is_directory=True)
    store = LocalStorage(link, options={})
    source = tmp_path / "part"
    source.write_bytes(b"data")
    store.put("b1/data", source)
    assert list(store.keys()) == ["b1/data"]
    assert store.open("b1/data").read() == b"data"
    store.delete("b1/data")
    assert list(store.keys()) == []
