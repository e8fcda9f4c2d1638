"""Helpers for the S3 plugin's tests."""

from __future__ import annotations

from typing import Any


def object_keys(s3: Any, bucket: str) -> list[str]:
    keys = []
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket):
        keys += [obj["Key"] for obj in page.get("Contents", ())]
    return sorted(keys)
