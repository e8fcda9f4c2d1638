"""Placeholder replaced by the schema-snapshot branch (fingerprint and changes)."""

from __future__ import annotations

import hashlib
import json
from typing import Any

Snapshot = dict[str, dict[str, Any]]


def fingerprint(snapshot: Snapshot) -> str:
    text = json.dumps(snapshot, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def changes(before: Snapshot, after: Snapshot) -> list[str]:
    out = []
    for kind in sorted(set(before) | set(after)):
        old, new = before.get(kind, {}), after.get(kind, {})
        for name in sorted(set(old) | set(new)):
            if name not in old:
                out.append(f"{kind[:-1]} {name} added")
            elif name not in new:
                out.append(f"{kind[:-1]} {name} dropped")
            elif old[name] != new[name]:
                out.append(f"{kind[:-1]} {name} changed")
    return out
