"""The ``s3`` storage target end to end: the real CLI on the bundled example, its backups in a
bucket of the local S3 emulator (moto)."""

from __future__ import annotations

import json
from typing import Any

import pytest
from s3_helpers import object_keys

ALL = [
    "001_create_users_table", "002_create_portfolio_table", "003_create_orders_table",
    "004_create_trades_table", "005_add_user_preferences",
]


@pytest.fixture
def project(example_project, s3_options):
    example_project.write_config(storage="s3", options={"s3": s3_options})
    return example_project


def manifests(s3: Any, bucket: str) -> list[str]:
    return [k for k in object_keys(s3, bucket) if k.endswith("/manifest.json")]


def one_line_error(err: str) -> str:
    assert "Traceback" not in err
    assert err.count("\n") == 1, err
    return err


def test_backup_create_list_verify_restore(project, s3, bucket):
    project.migrate("002")
    backup_id = project.ok("backup", "create").strip()
    assert object_keys(s3, bucket) == [
        f"mig/app/{backup_id}/data", f"mig/app/{backup_id}/manifest.json"
    ]
    # nothing of it stays on this machine
    local = project.path / "backups"
    assert not local.exists() or [p for p in local.rglob("*") if ".staging" not in p.parts] == []

    listed = json.loads(project.ok("backup", "list", "--json"))
    assert [b["backup_id"] for b in listed] == [backup_id]
    assert listed[0]["backup_path"] == f"s3://{bucket}/mig/app/{backup_id}/data"
    assert "OK" in project.ok("backup", "verify", backup_id)
    assert "1 backup(s): OK" in project.ok("backup", "verify")

    project.ok("up")
    assert project.applied() == ALL
    out = project.ok("backup", "restore", backup_id, "--yes")
    assert f"restored {backup_id}" in out
    assert project.applied() == ALL[:2]
    assert "orders" not in project.tables()
    history = json.loads(project.ok("history", "--json"))
    assert any(r["operation"] == "restore" and r["backup_id"] == backup_id for r in history)


def test_up_with_pre_migration_backups_then_down_by_restore_and_prune(
    example_project, s3_options, s3, bucket
):
    project = example_project
    project.write_config(backup="full", storage="s3", options={"s3": s3_options})
    project.ok("up")
    assert project.applied() == ALL
    stored = manifests(s3, bucket)
    assert len(stored) == 5
    backups = json.loads(project.ok("backup", "list", "--json"))
    assert [b["migration_id"] for b in backups] == ALL

    project.ok("down", "--method", "restore", "--yes")
    assert project.applied() == ALL[:4]
    assert "user_preferences" not in project.tables()

    out = project.ok("backup", "prune", "--keep-count", "1", "--keep-days", "0")
    removed = int(out.split()[1])
    assert removed >= 1
    kept = {b["backup_id"] for b in json.loads(project.ok("backup", "list", "--json"))}
    assert len(kept) == 5 - removed
    # every object of a pruned backup is gone, not only its manifest
    assert {k.split("/")[2] for k in object_keys(s3, bucket)} == kept
    assert "backup(s): OK" in project.ok("backup", "verify")


def test_a_damaged_object_is_refused_and_the_database_left_alone(project, s3, bucket):
    project.migrate("003")
    backup_id = project.ok("backup", "create").strip()
    project.ok("up")
    before = project.db_path.read_bytes()

    key = f"mig/app/{backup_id}/data"
    data = bytearray(s3.get_object(Bucket=bucket, Key=key)["Body"].read())
    data[len(data) // 2] ^= 0x01
    s3.put_object(Bucket=bucket, Key=key, Body=bytes(data))

    code, _, err = project.run("backup", "verify", backup_id)
    assert code == 1 and "damaged" in one_line_error(err)
    code, _, err = project.run("backup", "restore", backup_id, "--yes")
    assert code == 1 and "damaged" in one_line_error(err) and backup_id in err
    assert project.db_path.read_bytes() == before
    assert project.applied() == ALL


def test_a_missing_object_is_refused(project, s3, bucket):
    project.migrate("001")
    backup_id = project.ok("backup", "create").strip()
    s3.delete_object(Bucket=bucket, Key=f"mig/app/{backup_id}/data")
    code, _, err = project.run("backup", "restore", backup_id, "--yes")
    assert code == 1 and "missing" in one_line_error(err)


def test_a_missing_bucket_is_one_clear_error(example_project, s3_options):
    options = {**s3_options, "bucket": "mig-no-such-bucket"}
    example_project.write_config(backup="full", storage="s3", options={"s3": options})
    for args in (("backup", "create"), ("backup", "list"), ("up",)):
        code, _, err = example_project.run(*args)
        assert code in (1, 2), (args, code, err)
        assert "bucket 'mig-no-such-bucket' does not exist" in one_line_error(err)
    assert example_project.applied() == []  # up stopped before applying anything


def test_credentials_in_the_config_file_are_refused(example_project, s3_options):
    options = {**s3_options, "aws_secret_access_key": "hunter2"}
    example_project.write_config(storage="s3", options={"s3": options})
    code, _, err = example_project.run("backup", "list")
    assert code == 2 and "must not hold credentials" in one_line_error(err)
    assert "hunter2" not in err


def test_the_entry_point_is_found(example_project):
    plugins = json.loads(example_project.ok("plugins", "--json"))
    mine = [p for p in plugins if p["name"] == "storage_s3"]
    assert mine and mine[0]["distribution"] == "mig-storage-s3" and not mine[0]["error"]
