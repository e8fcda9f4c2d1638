"""The ``s3`` storage target on its own, against the local S3 emulator (moto)."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest
from mig import BackupError, ConfigError
from mig_storage_s3 import S3Storage
from mig_storage_s3 import plugin as storage_plugin
from s3_helpers import object_keys

MIB = 1 << 20


def staged(tmp_path: Path, name: str, data: bytes) -> Path:
    path = tmp_path / "staging" / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    return path


@pytest.fixture
def store(tmp_path: Path, s3_options: dict[str, Any]) -> S3Storage:
    return S3Storage(tmp_path / "backups", options=s3_options)


def test_put_open_keys_delete_round_trip(store, s3, bucket, tmp_path):
    source = staged(tmp_path, "data", b"payload")
    store.put("20260101T000000000000Z-full/data", source)
    store.put("20260101T000000000000Z-full/manifest.json", staged(tmp_path, "m", b"{}"))
    assert not source.exists()  # the target's to take: the staging copy is gone
    assert object_keys(s3, bucket) == [
        "mig/app/20260101T000000000000Z-full/data",
        "mig/app/20260101T000000000000Z-full/manifest.json",
    ]
    with store.open("20260101T000000000000Z-full/data") as fh:
        assert fh.read(3) == b"pay"
        assert fh.read() == b"load"
    assert store.local_path("20260101T000000000000Z-full/data") is None
    assert store.describe("20260101T000000000000Z-full/data") == (
        f"s3://{bucket}/mig/app/20260101T000000000000Z-full/data"
    )
    assert list(store.keys()) == [
        "20260101T000000000000Z-full/data", "20260101T000000000000Z-full/manifest.json"
    ]
    assert list(store.keys("20260101T000000000000Z-full/m")) == [
        "20260101T000000000000Z-full/manifest.json"
    ]
    store.delete("20260101T000000000000Z-full/data")
    store.delete("20260101T000000000000Z-full/data")  # missing is fine
    assert list(store.keys()) == ["20260101T000000000000Z-full/manifest.json"]


def test_a_large_part_goes_up_in_parts_with_s3_checksums(tmp_path, s3_options, s3, bucket):
    store = S3Storage(tmp_path, options={**s3_options, "part_size_mb": 5})
    data = os.urandom(11 * MIB)
    store.put("b1/data", staged(tmp_path, "data", data))
    head = s3.head_object(Bucket=bucket, Key="mig/app/b1/data", ChecksumMode="ENABLED")
    assert head["ETag"].strip('"').endswith("-3")  # a multipart upload of three parts
    assert head["ContentLength"] == len(data)
    assert head.get("ChecksumSHA256")  # S3 checked every part's SHA-256 on the way in
    with store.open("b1/data") as fh:
        chunks = iter(lambda: fh.read(MIB), b"")
        back = b"".join(chunks)
    assert back == data


def test_listing_follows_every_page(store, tmp_path):
    store.page_size = 2
    for i in range(5):
        store.put(f"b{i}/data", staged(tmp_path, f"d{i}", b"x"))
    calls = []
    store.client.meta.events.register(
        "before-call.s3.ListObjectsV2", lambda **kw: calls.append(kw)
    )
    assert list(store.keys()) == [f"b{i}/data" for i in range(5)]
    assert len(calls) == 3


def test_keys_outside_the_prefix_or_odd_names_are_not_listed(store, s3, bucket, tmp_path):
    store.put("b1/data", staged(tmp_path, "d", b"1"))
    for key in ("other/b2/data", "mig/app/.hidden/x", "mig/application/b3/data"):
        s3.put_object(Bucket=bucket, Key=key, Body=b"1")
    assert list(store.keys()) == ["b1/data"]


def test_no_prefix_uses_the_bucket_root(tmp_path, s3_options, s3, bucket):
    store = S3Storage(tmp_path, options={**s3_options, "prefix": ""})
    store.put("b1/data", staged(tmp_path, "d", b"1"))
    assert object_keys(s3, bucket) == ["b1/data"]
    assert store.describe("b1/data") == f"s3://{bucket}/b1/data"


def test_a_missing_object_is_file_not_found(store):
    with pytest.raises(FileNotFoundError):
        store.open("b1/data")


@pytest.mark.parametrize("key", ["", "/abs", "a/../b", "a//b", ".staging/x", "a\\b"])
def test_invalid_keys_are_refused(store, key):
    with pytest.raises(BackupError, match="invalid backup storage key"):
        store.open(key)


def test_a_missing_bucket_is_one_clear_error(tmp_path, s3_options):
    store = S3Storage(tmp_path, options={**s3_options, "bucket": "mig-no-such-bucket"})
    for call in (lambda: list(store.keys()), lambda: store.open("b1/data"),
                 lambda: store.put("b1/data", staged(tmp_path, "d", b"1"))):
        with pytest.raises(BackupError) as info:
            call()
        message = str(info.value)
        assert "'mig-no-such-bucket' does not exist" in message and "\n" not in message


def test_missing_credentials_point_at_the_environment(tmp_path, s3_options, monkeypatch):
    monkeypatch.delenv("AWS_ACCESS_KEY_ID")
    monkeypatch.delenv("AWS_SECRET_ACCESS_KEY")
    store = S3Storage(tmp_path, options=s3_options)
    with pytest.raises(BackupError, match="no AWS credentials.*AWS_ACCESS_KEY_ID"):
        list(store.keys())


def test_a_damaged_stream_is_a_backup_error():
    from botocore.exceptions import FlexibleChecksumError
    from mig_storage_s3.storage import _Body

    class Broken:
        def read(self, amt=None):
            raise FlexibleChecksumError(error_msg="Expected checksum x did not match y")

        def close(self):
            pass

    store = S3Storage(Path("."), options={"bucket": "bkt"})
    body = _Body(Broken(), lambda: store._talking("reading", "b1/data"))  # noqa: SLF001
    with pytest.raises(BackupError, match="s3://bkt/b1/data fails S3's checksum"):
        body.read(10)


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({}, "bucket is required"),
        ({"bucket": ""}, "bucket is required"),
        ({"bucket": 3}, "bucket must be a string"),
        ({"bucket": "a/b"}, "not a bucket name"),
        ({"bucket": "b", "colour": "red"}, "unknown key 'colour'"),
        ({"bucket": "b", "aws_secret_access_key": "x"}, "must not hold credentials"),
        ({"bucket": "b", "access_key": "x"}, "must not hold credentials"),
        ({"bucket": "b", "part_size_mb": 4}, "part_size_mb must be an integer from 5"),
        ({"bucket": "b", "max_concurrency": 0}, "max_concurrency must be"),
        ({"bucket": "b", "endpoint_url": "localhost:9000"}, "must start with http"),
        ({"bucket": "b", "prefix": "a/../b"}, "dot segment"),
        ({"bucket": "b", "checksum": "md5"}, "checksum must be one of"),
        ({"bucket": "b", "addressing_style": "x"}, "addressing_style"),
        ({"bucket": "b", "server_side_encryption": "x"}, "server_side_encryption"),
    ],
)
def test_bad_options_are_config_errors(tmp_path, options, message):
    with pytest.raises(ConfigError, match=message):
        S3Storage(tmp_path, options=options)


def test_the_plugin_registers_the_s3_target(register_plugin):
    plugins = register_plugin(storage_plugin)
    assert plugins.storage_targets()["s3"] is S3Storage
