"""Signed backup manifests: checksums prove a backup is whole, a signature proves mig wrote it.

With a key configured (``MIG_BACKUP_KEY``, or the file named by ``backup_key_file`` in the
config), every manifest is signed with HMAC-SHA-256 over its canonical JSON, which holds the
SHA-256 of every part; ``verify`` and ``restore`` then refuse a backup that is unsigned or whose
signature does not match, so replacing a backup's data and fixing up its checksums is caught.

Key rotation: put the new key in place and the old one in ``MIG_BACKUP_OLD_KEYS`` (several,
separated by newlines or commas) or ``backup_old_key_files``; new backups are signed with the
new key, old ones still verify with the old key until retention has removed them; then drop
the old key.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import os
from dataclasses import dataclass
from typing import Any

from .config import Config
from .errors import BackupError, ConfigError

KEY_ENV = "MIG_BACKUP_KEY"
OLD_KEYS_ENV = "MIG_BACKUP_OLD_KEYS"
ALGORITHM = "hmac-sha256"


@dataclass(frozen=True)
class Keys:
    """The key new manifests are signed with, and every key a signature may be checked with."""

    current: bytes | None
    accepted: tuple[bytes, ...]

    @classmethod
    def load(cls, config: Config) -> Keys:
        current = _key(os.environ.get(KEY_ENV)) or _read(config.backup_key_file)
        old = [_key(k) for k in os.environ.get(OLD_KEYS_ENV, "").replace(",", "\n").splitlines()]
        old += [_read(path) for path in config.backup_old_key_files]
        accepted = tuple(k for k in [current, *old] if k)
        return cls(current, accepted)

    def sign(self, manifest: dict[str, Any]) -> None:
        """Add the signature to ``manifest`` (no key: leave it unsigned)."""
        manifest.pop("signature", None)
        if self.current is not None:
            manifest["signature"] = {"alg": ALGORITHM, "key_id": key_id(self.current),
                                     "value": _mac(self.current, manifest)}

    def check(self, manifest: dict[str, Any], backup_id: str) -> None:
        """Refuse an unsigned or mis-signed manifest while a key is configured."""
        if not self.accepted:
            return
        signature = manifest.get("signature")
        if not isinstance(signature, dict) or signature.get("alg") != ALGORITHM:
            raise BackupError(f"backup {backup_id} is not signed, and a backup key is set"
                              f" ({KEY_ENV}): it may not come from mig; refusing it")
        by_id = {key_id(k): k for k in self.accepted}
        key = by_id.get(str(signature.get("key_id")))
        if key is None:
            raise BackupError(f"backup {backup_id} is signed with an unknown key"
                              f" {signature.get('key_id')!r} (an old key belongs in"
                              f" {OLD_KEYS_ENV}); refusing it")
        body = {k: v for k, v in manifest.items() if k != "signature"}
        if not hmac.compare_digest(_mac(key, body), str(signature.get("value"))):
            raise BackupError(f"backup {backup_id}: its manifest's signature does not match"
                              " (altered after it was written); refusing it")


def key_id(key: bytes) -> str:
    """A short public name of a key: the first 12 hex digits of its SHA-256."""
    return hashlib.sha256(key).hexdigest()[:12]


def _mac(key: bytes, manifest: dict[str, Any]) -> str:
    body = json.dumps({k: v for k, v in manifest.items() if k != "signature"},
                      sort_keys=True, separators=(",", ":")).encode("utf-8")
    return hmac.new(key, body, hashlib.sha256).hexdigest()


def _key(text: str | None) -> bytes | None:
    text = (text or "").strip()
    return text.encode("utf-8") if text else None


def _read(path: os.PathLike[str] | None) -> bytes | None:
    if path is None:
        return None
    try:
        with open(path, "rb") as fh:
            data = fh.read().strip()
    except OSError as exc:
        raise ConfigError(f"cannot read the backup key file {path}: {exc.strerror}") from None
    if not data:
        raise ConfigError(f"the backup key file {path} is empty")
    return data
