"""Backups in an S3-compatible bucket: key ``<backup id>/data`` is the object
``<prefix>/<backup id>/data`` of the configured bucket.

Nothing is held in memory whole. ``put`` hands the staged file to boto3's transfer manager,
which sends it as a multipart upload of ``part_size_mb`` parts (at most ``max_concurrency`` in
flight), each with an S3-side checksum (SHA-256 by default) that the server checks before it
accepts the part; S3 makes the object visible only when the upload completes, so a key holds
its whole object or nothing. ``open`` returns the response body as a stream that the core reads
in 1 MiB chunks while it checks the SHA-256 its manifest records.

boto3 is imported on first use (plugins load for every command, most of which never touch the
bucket), and every error boto3 raises comes out as one-line :class:`mig.BackupError`; a
missing object is :class:`FileNotFoundError`, as the protocol asks. Credentials come from
boto3's own chain (environment, shared files, profiles, instance roles), never from mig's
configuration file.
"""

from __future__ import annotations

import io
from collections.abc import Callable, Iterator, Mapping
from contextlib import AbstractContextManager, contextmanager
from pathlib import Path
from typing import Any, BinaryIO, ClassVar

from mig import BackupError, ConfigError, MigError
from mig.protocols import StorageTarget

MIB = 1 << 20
_OPTIONS = {
    "bucket", "prefix", "endpoint_url", "region", "profile", "addressing_style",
    "part_size_mb", "max_concurrency", "checksum", "server_side_encryption",
}
#: Keys that would put a secret in mig.toml; refused with a pointer to the environment.
_SECRETS = {
    "aws_access_key_id", "aws_secret_access_key", "aws_session_token", "access_key",
    "access_key_id", "secret_key", "secret_access_key", "session_token", "secret",
    "password", "credentials", "token",
}
_CHECKSUMS = {"sha256": "SHA256", "sha1": "SHA1", "crc32": "CRC32", "crc32c": "CRC32C",
              "none": None}
_SSE = ("AES256", "aws:kms")
_DENIED = {"AccessDenied", "403", "InvalidAccessKeyId", "SignatureDoesNotMatch",
           "ExpiredToken", "InvalidToken", "AllAccessDisabled"}
_MISSING_KEY = {"NoSuchKey", "404", "NotFound"}


def _one_line(text: object) -> str:
    return " ".join(str(text).split())


class S3Storage(StorageTarget):
    """The ``s3`` storage target: objects in a bucket of S3 or an S3-compatible service."""

    name: ClassVar[str] = "s3"

    def __init__(self, location: Path, *, options: Mapping[str, Any]) -> None:
        secrets = sorted(k for k in options if k.lower() in _SECRETS)
        if secrets:
            raise ConfigError(
                f"[mig.options.s3] must not hold credentials ({secrets[0]!r}): set "
                "AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY (or AWS_PROFILE) in the "
                "environment, or name a profile with `profile`"
            )
        unknown = sorted(set(options) - _OPTIONS)
        if unknown:
            raise ConfigError(
                f"unknown key {unknown[0]!r} in [mig.options.s3] (known: "
                f"{', '.join(sorted(_OPTIONS))})"
            )
        self.bucket = _text(options, "bucket", required=True)
        if "/" in self.bucket or any(c.isspace() for c in self.bucket):
            raise ConfigError(f"[mig.options.s3] bucket {self.bucket!r} is not a bucket name")
        prefix = _text(options, "prefix").strip("/")
        if prefix and any(p in ("", ".", "..") for p in prefix.split("/")):
            raise ConfigError(f"[mig.options.s3] prefix {prefix!r} has an empty or dot segment")
        self.prefix = prefix
        self.endpoint_url = _text(options, "endpoint_url") or None
        if self.endpoint_url and not self.endpoint_url.startswith(("http://", "https://")):
            raise ConfigError(
                f"[mig.options.s3] endpoint_url {self.endpoint_url!r} must start with "
                "http:// or https://"
            )
        self.region = _text(options, "region") or None
        self.profile = _text(options, "profile") or None
        self.addressing_style = _text(options, "addressing_style") or "auto"
        if self.addressing_style not in ("auto", "path", "virtual"):
            raise ConfigError(
                "[mig.options.s3] addressing_style must be \"auto\", \"path\" or \"virtual\""
            )
        self.part_size = _integer(options, "part_size_mb", 8, 5, 5 * 1024) * MIB
        self.max_concurrency = _integer(options, "max_concurrency", 4, 1, 64)
        checksum = _text(options, "checksum") or "sha256"
        if checksum.lower() not in _CHECKSUMS:
            raise ConfigError(
                f"[mig.options.s3] checksum must be one of {', '.join(_CHECKSUMS)}"
            )
        self.checksum = _CHECKSUMS[checksum.lower()]
        self.sse = _text(options, "server_side_encryption") or None
        if self.sse is not None and self.sse not in _SSE:
            raise ConfigError(
                f"[mig.options.s3] server_side_encryption must be one of {', '.join(_SSE)}"
            )
        #: Keys per listing request (S3's maximum is 1,000).
        self.page_size = 1000
        self._client: Any = None

    def __repr__(self) -> str:
        return f"S3Storage({self.describe('')!r})"

    # -- the connection -----------------------------------------------------------------------

    @property
    def client(self) -> Any:
        """The boto3 S3 client, made on first use."""
        if self._client is None:
            try:
                import boto3
                from botocore.config import Config
            except ImportError as exc:  # pragma: no cover - a broken install
                raise BackupError(f"the s3 storage target needs boto3: {exc}") from exc
            when = "when_supported" if self.checksum else "when_required"
            # Values checked in __init__; the stubs type them as literals.
            settings: dict[str, Any] = {
                "retries": {"max_attempts": 5, "mode": "standard"},
                "connect_timeout": 10,
                "read_timeout": 60,
                "s3": {"addressing_style": self.addressing_style},
                "request_checksum_calculation": when,
                "response_checksum_validation": when,
                "user_agent_extra": "mig-storage-s3",
            }
            config = Config(**settings)
            with self._talking("connecting to"):
                session = boto3.session.Session(
                    profile_name=self.profile, region_name=self.region
                )
                self._client = session.client(
                    "s3", endpoint_url=self.endpoint_url, config=config
                )
        return self._client

    @contextmanager
    def _talking(self, action: str, key: str = "") -> Iterator[None]:
        """Turn boto3's errors into one-line BackupErrors naming the object."""
        try:
            yield
        except (MigError, FileNotFoundError):
            raise
        except Exception as exc:
            error = self._translate(exc, action, key)
            if error is None:
                raise
            raise error from exc

    def _translate(self, exc: Exception, action: str, key: str) -> MigError | None:
        from boto3.exceptions import Boto3Error
        from botocore import exceptions as bx

        where = self.describe(key)
        endpoint = self.endpoint_url or "AWS S3"
        if isinstance(exc, Boto3Error) and isinstance(exc.__context__, bx.ClientError):
            exc = exc.__context__  # S3UploadFailedError wraps the service's answer
        if isinstance(exc, bx.ClientError):
            error = exc.response.get("Error", {})
            code = str(error.get("Code", ""))
            message = _one_line(error.get("Message") or exc)
            if code == "NoSuchBucket" or (code == "404" and not key):
                return BackupError(
                    f"S3 bucket {self.bucket!r} does not exist at {endpoint} "
                    f"(set bucket in [mig.options.s3])"
                )
            if code in _DENIED:
                return BackupError(
                    f"S3 refused {action} {where}: {code} ({message}); check the credentials "
                    "in the environment and the bucket's policy"
                )
            return BackupError(f"S3 {action} {where} failed: {code}: {message}")
        if isinstance(exc, bx.NoCredentialsError | bx.PartialCredentialsError):
            return BackupError(
                f"no AWS credentials for {action} {where}: set AWS_ACCESS_KEY_ID and "
                "AWS_SECRET_ACCESS_KEY (or AWS_PROFILE) in the environment; mig never reads "
                "them from its configuration file"
            )
        if isinstance(exc, bx.ProfileNotFound):
            return ConfigError(f"[mig.options.s3] profile: {_one_line(exc)}")
        if isinstance(exc, bx.NoRegionError):
            return ConfigError(
                "no region for the s3 storage target: set region in [mig.options.s3] or "
                "AWS_DEFAULT_REGION"
            )
        if isinstance(exc, bx.EndpointConnectionError | bx.ConnectTimeoutError):
            return BackupError(f"cannot reach the S3 endpoint {endpoint}: {_one_line(exc)}")
        if isinstance(exc, bx.FlexibleChecksumError):
            return BackupError(
                f"{where} fails S3's checksum (damaged in storage or in transit): "
                f"{_one_line(exc)}"
            )
        if isinstance(exc, bx.BotoCoreError | Boto3Error):
            return BackupError(f"S3 {action} {where} failed: {_one_line(exc)}")
        return None

    # -- writing ------------------------------------------------------------------------------

    def put(self, key: str, source: Path) -> None:
        from boto3.s3.transfer import TransferConfig

        full = self._full(key)
        extra: dict[str, str] = {}
        if self.checksum:
            extra["ChecksumAlgorithm"] = self.checksum
        if self.sse:
            extra["ServerSideEncryption"] = self.sse
        transfer = TransferConfig(
            multipart_threshold=self.part_size,
            multipart_chunksize=self.part_size,
            max_concurrency=self.max_concurrency,
            use_threads=self.max_concurrency > 1,
        )
        with self._talking("writing", key):
            # From the file name, not a file object: the transfer manager then reads each
            # part from disk when it sends it, instead of buffering a stream's chunks.
            self.client.upload_file(
                str(source), self.bucket, full, ExtraArgs=extra, Config=transfer
            )
        Path(source).unlink(missing_ok=True)  # ours to take: free the staging space now

    def delete(self, key: str) -> None:
        with self._talking("deleting", key):
            self.client.delete_object(Bucket=self.bucket, Key=self._full(key))

    # -- reading ------------------------------------------------------------------------------

    def open(self, key: str) -> BinaryIO:
        extra = {"ChecksumMode": "ENABLED"} if self.checksum else {}
        full = self._full(key)
        with self._talking("reading", key):
            try:
                response = self.client.get_object(Bucket=self.bucket, Key=full, **extra)
            except Exception as exc:
                code = getattr(exc, "response", {}).get("Error", {}).get("Code")
                if code in _MISSING_KEY:
                    raise FileNotFoundError(f"no object {self.describe(key)}") from None
                raise
        return _Body(response["Body"], lambda: self._talking("reading", key))  # type: ignore[return-value]

    def local_path(self, key: str) -> Path | None:
        return None  # remote: the core reads through open()

    def keys(self, prefix: str = "") -> Iterator[str]:
        base = f"{self.prefix}/" if self.prefix else ""
        with self._talking("listing", prefix):
            pages = self.client.get_paginator("list_objects_v2").paginate(
                Bucket=self.bucket, Prefix=base + prefix,
                PaginationConfig={"PageSize": self.page_size},
            )
            for page in pages:
                for obj in page.get("Contents", ()):
                    key = obj["Key"][len(base):]
                    if _valid(key):
                        yield key

    def describe(self, key: str) -> str:
        full = self._full(key) if key else (f"{self.prefix}/" if self.prefix else "")
        return f"s3://{self.bucket}/{full}"

    # -- helpers ------------------------------------------------------------------------------

    def _full(self, key: str) -> str:
        if not _valid(key):
            raise BackupError(f"invalid backup storage key {key!r}")
        return f"{self.prefix}/{key}" if self.prefix else key


class _Body(io.RawIOBase):
    """An object's body as a read-only stream: reads go straight to the HTTP response, and
    any error on the way is a BackupError naming the object."""

    def __init__(self, body: Any, talking: Callable[[], AbstractContextManager[None]]) -> None:
        super().__init__()
        self._body = body
        self._talking = talking

    def readable(self) -> bool:
        return True

    def read(self, size: int | None = -1) -> bytes:
        with self._talking():
            data: bytes = self._body.read(None if size is None or size < 0 else size)
            return data

    def readall(self) -> bytes:
        return self.read()

    def readinto(self, buffer: Any) -> int:
        data = self.read(len(buffer))
        buffer[: len(data)] = data
        return len(data)

    def close(self) -> None:
        if not self.closed:
            self._body.close()
        super().close()


def _valid(key: str) -> bool:
    parts = key.split("/")
    return bool(key) and not any(not p or p.startswith(".") or "\\" in p for p in parts)


def _text(options: Mapping[str, Any], name: str, *, required: bool = False) -> str:
    value = options.get(name, "")
    if not isinstance(value, str):
        raise ConfigError(f"[mig.options.s3] {name} must be a string")
    if required and not value.strip():
        raise ConfigError(f"[mig.options.s3] {name} is required (storage = \"s3\")")
    return value.strip()


def _integer(options: Mapping[str, Any], name: str, default: int, low: int, high: int) -> int:
    value = options.get(name, default)
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise ConfigError(f"[mig.options.s3] {name} must be an integer from {low} to {high}")
    return value
