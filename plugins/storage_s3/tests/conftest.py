"""Fixtures for the S3 plugin's tests: a local S3 emulator (moto's standalone server, started
once per session on 127.0.0.1 and a free port), fake credentials in the environment, and a
fresh bucket per test. moto is an emulator, not S3: see test_storage_s3_real.py for the test
that runs against a real endpoint."""

from __future__ import annotations

import os
import socket
import uuid
from collections.abc import Iterator
from typing import Any

import pytest

REGION = "us-east-1"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture(scope="session")
def s3_server() -> Iterator[str]:
    """The endpoint URL of a moto S3 server running in a thread of this process."""
    from moto.server import ThreadedMotoServer

    port = free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.stop()


@pytest.fixture
def aws_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Any) -> None:
    """Fake credentials in the environment (which the CLI's subprocesses inherit), and none
    of the developer's own AWS settings."""
    for name in list(os.environ):
        if name.startswith("AWS_"):
            monkeypatch.delenv(name)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "no-aws-config"))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "no-aws-credentials"))
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")


@pytest.fixture
def s3(s3_server: str, aws_env: None) -> Any:
    """A boto3 client on the emulator, to look at and tamper with what mig stored."""
    import boto3

    return boto3.client("s3", endpoint_url=s3_server, region_name=REGION)


@pytest.fixture
def bucket(s3: Any) -> Iterator[str]:
    """A fresh, empty bucket, emptied and removed after the test."""
    name = f"mig-test-{uuid.uuid4().hex[:12]}"
    s3.create_bucket(Bucket=name)
    yield name
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=name):
        for obj in page.get("Contents", ()):
            s3.delete_object(Bucket=name, Key=obj["Key"])
    s3.delete_bucket(Bucket=name)


@pytest.fixture
def s3_options(s3_server: str, bucket: str) -> dict[str, Any]:
    """``[mig.options.s3]`` for the fresh bucket on the emulator."""
    return {"bucket": bucket, "prefix": "mig/app", "endpoint_url": s3_server, "region": REGION}

