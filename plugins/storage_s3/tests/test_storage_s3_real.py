"""The ``s3`` storage target against a real S3 (or S3-compatible) endpoint, not the emulator.

Runs only when ``MIG_S3_TEST_URL`` is set, e.g.::

    MIG_S3_TEST_URL='s3://my-bucket/ci?region=eu-west-1' pytest plugins/storage_s3
    MIG_S3_TEST_URL='s3://bkt?endpoint_url=http://127.0.0.1:9000&addressing_style=path' ...

The query takes any ``[mig.options.s3]`` key but credentials, which come from the
environment as always (AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY, AWS_PROFILE, a role). The
bucket must exist; the test writes under ``<prefix>/mig-test-<random>/`` and deletes
everything it wrote there.
"""

from __future__ import annotations

import json
import os
import uuid
from urllib.parse import parse_qsl, urlsplit

import pytest
from mig_storage_s3 import S3Storage

URL = os.environ.get("MIG_S3_TEST_URL", "")

pytestmark = pytest.mark.skipif(
    not URL,
    reason="MIG_S3_TEST_URL is not set (s3://BUCKET[/PREFIX][?endpoint_url=...&region=...]): "
    "no real S3 endpoint to test against; the emulator tests ran instead",
)


def real_options() -> dict[str, object]:
    parts = urlsplit(URL)
    if parts.scheme != "s3" or not parts.netloc:
        pytest.fail(f"MIG_S3_TEST_URL must look like s3://BUCKET[/PREFIX][?key=value], not {URL!r}")
    options: dict[str, object] = dict(parse_qsl(parts.query))
    for key in ("part_size_mb", "max_concurrency"):
        if key in options:
            options[key] = int(str(options[key]))
    base = parts.path.strip("/")
    options["bucket"] = parts.netloc
    options["prefix"] = f"{base}/mig-test-{uuid.uuid4().hex[:12]}".strip("/")
    return options


def test_backups_round_trip_through_a_real_endpoint(example_project, tmp_path):
    options = real_options()
    store = S3Storage(tmp_path, options=options)
    try:
        example_project.write_config(backup="full", storage="s3", options={"s3": options})
        example_project.ok("up", "002")
        backup_id = example_project.ok("backup", "create").strip()
        listed = json.loads(example_project.ok("backup", "list", "--json"))
        assert backup_id in [b["backup_id"] for b in listed]
        example_project.ok("backup", "verify")
        example_project.ok("up")
        example_project.ok("backup", "restore", backup_id, "--yes")
        assert len(example_project.applied()) == 2
        example_project.ok("backup", "prune", "--keep-count", "1", "--keep-days", "0")
        assert len(json.loads(example_project.ok("backup", "list", "--json"))) == 1
    finally:
        for key in list(store.keys()):
            store.delete(key)
    assert list(store.keys()) == []
