"""The ``local`` storage target on real folders, alone and under the engine and the CLI."""

from __future__ import annotations

import errno
import json
import os
import stat
from pathlib import Path

import pytest
from mig import BackupError, ConfigError, MigrationEngine, hookimpl
from mig.plugins import Plugins
from mig.testing import Project
from mig_storage_local import LocalStorage
from mig_storage_local import plugin as storage_plugin

as_root = os.geteuid() == 0


def _unwritable_folder() -> Path | None:
    """An existing folder nobody may create anything in, root included (sysfs), if any."""
    folder = Path("/sys/kernel")
    try:
        (folder / "mig-probe").mkdir()
    except OSError:
        return folder if folder.is_dir() else None
    (folder / "mig-probe").rmdir()
    return None


UNWRITABLE = _unwritable_folder()
needs_unwritable = pytest.mark.skipif(UNWRITABLE is None, reason="no folder refuses root")


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


@pytest.fixture
def loose_umask():
    """A umask that would leave files world-readable, to prove modes are set explicitly."""
    old = os.umask(0)
    yield
    os.umask(old)


def staged(folder: Path, name: str, data: bytes) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / name
    path.write_bytes(data)
    os.chmod(path, 0o666)
    return path


def test_put_moves_the_file_into_place_owner_only(tmp_path, loose_umask):
    root = tmp_path / "backups"
    store = LocalStorage(root, options={})
    source = staged(tmp_path / "staging", "data", b"payload")
    store.put("20260101T000000000000Z-full/data", source)
    target = root / "20260101T000000000000Z-full" / "data"
    assert target.read_bytes() == b"payload"
    assert not source.exists()  # moved, not copied
    assert mode(target) == 0o600
    assert mode(target.parent) == 0o700
    assert mode(root) == 0o700
    assert store.local_path("20260101T000000000000Z-full/data") == target
    assert store.describe("20260101T000000000000Z-full/data") == str(target)
    with store.open("20260101T000000000000Z-full/data") as fh:
        assert fh.read() == b"payload"


def test_put_across_file_systems_copies_then_renames(tmp_path, loose_umask):
    shm = Path("/dev/shm")
    if not shm.is_dir() or shm.stat().st_dev == tmp_path.stat().st_dev:
        pytest.skip("no second file system to copy from")
    source_dir = shm / f"mig-test-{os.getpid()}"
    try:
        source = staged(source_dir, "data", b"x" * 300_000)
        root = tmp_path / "backups"
        LocalStorage(root, options={}).put("b1/data", source)
        target = root / "b1" / "data"
        assert target.read_bytes() == b"x" * 300_000
        assert mode(target) == 0o600
        assert sorted(p.name for p in target.parent.iterdir()) == ["data"]  # no temp file left
    finally:
        for p in source_dir.glob("*"):
            p.unlink()
        source_dir.rmdir()


def test_keys_skip_staging_and_temporary_files(tmp_path):
    root = tmp_path / "backups"
    store = LocalStorage(root, options={})
    for key in ("b2/manifest.json", "b1/data", "b1/manifest.json", "b2/data", "b2/extra"):
        store.put(key, staged(root / ".staging" / "s", key.replace("/", "_"), b"1"))
    (root / "b1" / ".tmp-abc").write_bytes(b"half")
    (root / ".staging" / "leftover").write_bytes(b"x")
    assert list(store.keys()) == [
        "b1/data", "b1/manifest.json", "b2/data", "b2/extra", "b2/manifest.json"
    ]
    assert list(store.keys("b2/")) == ["b2/data", "b2/extra", "b2/manifest.json"]
    assert list(store.keys("b1/m")) == ["b1/manifest.json"]
    assert list(store.keys("b3/")) == []


def test_delete_removes_the_file_then_the_empty_backup_folder(tmp_path):
    root = tmp_path / "backups"
    store = LocalStorage(root, options={})
    store.put("b1/data", staged(tmp_path / "s", "a", b"1"))
    store.put("b1/manifest.json", staged(tmp_path / "s", "b", b"2"))
    store.delete("b1/manifest.json")
    assert (root / "b1").is_dir()
    store.delete("b1/data")
    assert not (root / "b1").exists()
    assert root.is_dir()  # never the root itself
    store.delete("b1/data")  # missing is fine
    store.delete("nothing/here")


def test_a_missing_root_lists_nothing_and_is_not_created(tmp_path):
    store = LocalStorage(tmp_path / "not-yet", options={})
    assert list(store.keys()) == []
    assert not (tmp_path / "not-yet").exists()
    with pytest.raises(FileNotFoundError):
        store.open("b1/data")


@pytest.mark.parametrize("key", ["", "/abs", "a/../b", "a//b", ".staging/x", "a/.tmp-1", "a\\b"])
def test_keys_that_would_leave_the_folder_are_refused(tmp_path, key):
    with pytest.raises(BackupError, match="invalid backup storage key"):
        LocalStorage(tmp_path, options={}).local_path(key)


def test_options_are_refused(tmp_path):
    with pytest.raises(ConfigError, match="mig.options.local"):
        LocalStorage(tmp_path, options={"compress": True})


def test_a_backups_dir_that_cannot_be_created_names_the_folder(tmp_path):
    (tmp_path / "blocker").write_text("a file where a folder should be")
    root = tmp_path / "blocker" / "backups"
    with pytest.raises(BackupError) as info:
        LocalStorage(root, options={}).put("b1/data", staged(tmp_path / "s", "d", b"1"))
    message = str(info.value)
    assert str(root) in message and "\n" not in message


@pytest.mark.skipif(as_root, reason="root writes into read-only folders")
def test_a_read_only_backups_dir_names_the_folder(tmp_path):
    root = tmp_path / "backups"
    root.mkdir()
    root.chmod(0o500)
    try:
        with pytest.raises(BackupError, match=f"cannot write backups to {root}: Permission"):
            LocalStorage(root, options={}).put("b1/data", staged(tmp_path / "s", "d", b"1"))
    finally:
        root.chmod(0o700)


@needs_unwritable
def test_a_folder_that_refuses_writes_names_the_folder_even_for_root(tmp_path):
    assert UNWRITABLE is not None
    with pytest.raises(BackupError) as info:
        LocalStorage(UNWRITABLE, options={}).put("b1/data", staged(tmp_path / "s", "d", b"1"))
    assert str(info.value).startswith(f"cannot write backups to {UNWRITABLE}: ")


def test_the_plugin_registers_the_local_target(register_plugin):
    plugins = register_plugin(storage_plugin)
    assert plugins.storage_targets()["local"] is LocalStorage


# -- under the engine and the CLI ---------------------------------------------------------------


def _state(project: Project) -> tuple[set[str], list[tuple]]:
    return project.tables(), project.query(
        "SELECT migration_id, status FROM mig_migration_executions ORDER BY seq"
    )


def test_an_unwritable_backups_dir_stops_up_before_anything_is_applied(example_project):
    example_project.write_config(backup="full", backups_dir="blocked/backups")
    (example_project.path / "blocked").write_text("not a folder")
    code, out, err = example_project.run("up")
    assert code == 1
    assert "Traceback" not in err
    assert err.count("\n") == 1 and "cannot write backups to" in err
    assert str(example_project.path / "blocked" / "backups") in err
    assert example_project.applied() == []
    assert not example_project.tables() & {"users", "portfolio"}


@pytest.mark.skipif(as_root, reason="root writes into read-only folders")
def test_a_read_only_backups_dir_stops_up_before_anything_is_applied(example_project):
    example_project.write_config(backup="full")
    backups = example_project.path / "backups"
    backups.mkdir(mode=0o500)
    try:
        code, _, err = example_project.run("up")
    finally:
        backups.chmod(0o700)
    assert code == 1 and "cannot write backups to" in err and str(backups) in err
    assert example_project.applied() == []


@needs_unwritable
def test_an_unwritable_backups_dir_stops_up_even_for_root(example_project):
    assert UNWRITABLE is not None
    backups = UNWRITABLE / "mig-backups"
    example_project.write_config(backup="full", backups_dir=str(backups))
    code, _, err = example_project.run("up")
    assert code == 1 and "Traceback" not in err
    assert err.startswith(f"mig: error: cannot write backups to {backups}: ")
    assert example_project.applied() == []


class FullDiskStorage(LocalStorage):
    """A third party's target on a disk that fills up while the data part is written."""

    name = "fulldisk"

    def put(self, key: str, source: Path) -> None:
        if key.endswith("/data"):
            target = self.root / key
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(source.read_bytes()[:100])  # a partial object under the key
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), str(target))
        super().put(key, source)

    def put_folder(self, prefix: str, folder: Path) -> None:
        target = self.root / prefix
        target.mkdir(parents=True)
        (target / "data").write_bytes((folder / "data").read_bytes()[:100])  # partial
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), str(target / "data"))


class FullDiskPlugin:
    @hookimpl
    def mig_register_storage_targets(self):
        return [FullDiskStorage]


def test_a_full_disk_during_a_backup_leaves_no_partial_backup(example_project, register_plugin):
    example_project.migrate("001")
    with example_project.db_path.open("rb") as fh:
        before = fh.read()
    plugins = register_plugin(FullDiskPlugin(), plugins=Plugins())
    engine = MigrationEngine(
        config=example_project.engine().config, plugins=plugins
    )
    engine.config.storage = "fulldisk"
    engine.config.backup = "full"
    with pytest.raises(BackupError, match="No space left on device"):
        engine.create_backup("full")
    with pytest.raises(BackupError, match="No space left on device"):
        engine.up()
    engine.close()
    assert example_project.db_path.read_bytes() == before
    assert example_project.applied() == ["001_create_users_table"]
    assert engine.get_backup_history() == []
    leftovers = [p for p in (example_project.path / "backups").rglob("*")
                 if ".staging" not in p.parts]
    assert leftovers == []
    listed = json.loads(example_project.ok("backup", "list", "--json"))
    assert listed == []
    assert example_project.query("SELECT count(*) FROM mig_backup_info") == [(0,)]
