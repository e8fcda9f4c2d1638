"""Read-only integrity checks: ``PRAGMA integrity_check`` and ``PRAGMA foreign_key_check``."""

from __future__ import annotations

import sqlite3

from mig.models import Problem
from mig.protocols import Dialect

INTEGRITY = "sqlite.integrity_check"
FOREIGN_KEY = "sqlite.foreign_key"


def check(dialect: Dialect) -> list[Problem]:
    try:
        rows = dialect.query("PRAGMA integrity_check")
    except sqlite3.Error as exc:
        # An unreadable schema fails every other check the same way: report it once.
        return [Problem(check=INTEGRITY, message=f"integrity check failed: {exc}")]
    problems = [Problem(check=INTEGRITY, message=str(line)) for (line,) in rows if line != "ok"]
    return problems + foreign_key_problems(dialect)


def foreign_key_problems(dialect: Dialect) -> list[Problem]:
    try:
        rows = dialect.query("PRAGMA foreign_key_check")
    except sqlite3.Error as exc:
        # e.g. "foreign key mismatch": a key that references columns without a unique index.
        return [Problem(check=FOREIGN_KEY, message=f"foreign key check failed: {exc}")]
    problems = []
    keys: dict[str, dict[int, str]] = {}
    for table, rowid, parent, fkid in rows:
        if table not in keys:
            keys[table] = _describe_keys(dialect, table)
        row = f"rowid {rowid}" if rowid is not None else "a row"
        columns = keys[table].get(fkid)
        detail = f" ({columns})" if columns else ""
        problems.append(
            Problem(
                check=FOREIGN_KEY,
                message=f"{table} {row} references a missing row in {parent}{detail}",
                object=table,
            )
        )
    return problems


def _describe_keys(dialect: Dialect, table: str) -> dict[int, str]:
    """``{fk id: "user_id -> users.id"}`` for the foreign keys of ``table``."""
    quoted = '"' + table.replace('"', '""') + '"'
    pairs: dict[int, list[tuple[str, str, str | None]]] = {}
    for fk_id, _seq, parent, src, dest, *_ in dialect.query(f"PRAGMA foreign_key_list({quoted})"):
        pairs.setdefault(fk_id, []).append((parent, src, dest))
    out = {}
    for fk_id, cols in pairs.items():
        parent = cols[0][0]
        src = ", ".join(s for _, s, _ in cols)
        dest = ", ".join(d for _, _, d in cols if d)
        out[fk_id] = f"{src} -> {parent}.{dest}" if dest else f"{src} -> {parent}"
    return out
