"""mig.schema: the fingerprint and the differences of schema snapshots (no database)."""

from __future__ import annotations

import copy
import json
import sqlite3
from pathlib import Path
from typing import Any

from mig.schema import (
    Snapshot,
    changes,
    fingerprint,
    normalise_sql,
    strip_parens,
)


def _column(name: str, type_: str = "text", nullable: bool = True,
            default: str | None = None) -> dict[str, Any]:
    return {"name": name, "type": type_, "nullable": nullable, "default": default}


def _base() -> Snapshot:
    return {
        "tables": {
            "users": {
                "columns": [_column("id", "integer", False), _column("email", nullable=False,
                                                                    default="'x'")],
                "primary_key": ["id"],
                "foreign_keys": [],
                "unique": [["email"]],
                "checks": [],
            },
            "orders": {
                "columns": [_column("id", "integer", False), _column("user_id", "integer")],
                "primary_key": ["id"],
                "foreign_keys": [],
                "unique": [],
                "checks": [],
            },
        },
        "indexes": {
            "idx_a": {"table": "users", "columns": ["email"], "unique": False, "where": None},
        },
        "views": {"v": {"definition": "CREATE VIEW v AS SELECT id FROM users"}},
        "triggers": {
            "trg": {"table": "users", "timing": "after", "event": "insert",
                    "definition": "CREATE TRIGGER trg ..."},
        },
    }


# -- fingerprint ------------------------------------------------------------------------------


def test_fingerprint_is_sha256_hex_of_canonical_json() -> None:
    snap = _base()
    fp = fingerprint(snap)
    assert len(fp) == 64 and int(fp, 16) >= 0
    assert fp == fingerprint(json.loads(json.dumps(snap)))


def test_fingerprint_ignores_key_order() -> None:
    snap = _base()
    reordered: Snapshot = {
        kind: {name: dict(reversed(list(obj.items()))) for name, obj in reversed(objs.items())}
        for kind, objs in reversed(list(snap.items()))
    }
    assert list(reordered) != list(snap)
    assert fingerprint(reordered) == fingerprint(snap)


def test_fingerprint_sees_list_order_and_values() -> None:
    snap = _base()
    other = copy.deepcopy(snap)
    other["tables"]["users"]["columns"].reverse()
    assert fingerprint(other) != fingerprint(snap)
    other = copy.deepcopy(snap)
    other["indexes"]["idx_a"]["unique"] = True
    assert fingerprint(other) != fingerprint(snap)


def test_fingerprint_of_non_ascii_names() -> None:
    assert fingerprint({"tables": {"größe": {}}}) != fingerprint({"tables": {"grosse": {}}})


# -- changes ----------------------------------------------------------------------------------


def test_equal_snapshots_have_no_changes() -> None:
    assert changes(_base(), _base()) == []
    assert changes({}, {}) == []


def test_objects_added_and_dropped() -> None:
    before, after = _base(), _base()
    del after["tables"]["orders"]
    after["tables"]["t"] = copy.deepcopy(before["tables"]["orders"])
    del after["indexes"]["idx_a"]
    after["indexes"]["idx_b"] = {"table": "t", "columns": ["id"], "unique": False,
                                 "where": None}
    del after["triggers"]["trg"]
    assert changes(before, after) == [
        "table orders dropped",
        "table t added",
        "index idx_a dropped",
        "index idx_b added",
        "trigger trg dropped",
    ]


def test_column_added_dropped_and_changed() -> None:
    before, after = _base(), _base()
    columns = after["tables"]["users"]["columns"]
    columns[1]["nullable"] = True
    columns[1]["default"] = None
    columns.append(_column("timezone"))
    del after["tables"]["orders"]["columns"][1]
    assert changes(before, after) == [
        "table orders: column user_id dropped",
        "table users: column email default changed ('x' -> NULL)",
        "table users: column email changed (nullable: false -> true)",
        "table users: column timezone added",
    ]


def test_column_type_and_extra_attribute() -> None:
    before, after = _base(), _base()
    after["tables"]["users"]["columns"][0]["type"] = "bigint"
    after["tables"]["users"]["columns"][0]["identity"] = "always"
    assert changes(before, after) == [
        "table users: column id changed (identity: none -> always)",
        "table users: column id changed (type: integer -> bigint)",
    ]


def test_column_order() -> None:
    before, after = _base(), _base()
    after["tables"]["users"]["columns"].reverse()
    assert changes(before, after) == ["table users: column order changed (id, email -> email, id)"]


def test_constraints() -> None:
    before, after = _base(), _base()
    after["tables"]["orders"]["foreign_keys"] = [{
        "columns": ["user_id"], "references": "users", "referenced_columns": ["id"],
        "on_delete": "no action", "on_update": "no action",
    }]
    after["tables"]["orders"]["checks"] = ["user_id > 0"]
    after["tables"]["orders"]["primary_key"] = ["id", "user_id"]
    after["tables"]["users"]["unique"] = [["email", "id"]]
    assert changes(before, after) == [
        "table orders: check (user_id > 0) added",
        "table orders: foreign key (user_id) -> users(id) added",
        "table orders: primary key changed ((id) -> (id, user_id))",
        "table users: unique (email) dropped",
        "table users: unique (email, id) added",
    ]


def test_foreign_key_action_change_shows_both() -> None:
    fk = {"columns": ["user_id"], "references": "users", "referenced_columns": ["id"],
          "on_delete": "no action", "on_update": "no action"}
    before, after = _base(), _base()
    before["tables"]["orders"]["foreign_keys"] = [fk]
    after["tables"]["orders"]["foreign_keys"] = [dict(fk, on_delete="cascade")]
    assert changes(before, after) == [
        "table orders: foreign key (user_id) -> users(id) dropped",
        "table orders: foreign key (user_id) -> users(id) on delete cascade added",
    ]


def test_view_index_trigger_changed() -> None:
    before, after = _base(), _base()
    after["views"]["v"]["definition"] = "CREATE VIEW v AS SELECT id, email FROM users"
    after["indexes"]["idx_a"]["unique"] = True
    after["indexes"]["idx_a"]["columns"] = ["email", "id"]
    after["triggers"]["trg"]["timing"] = "before"
    assert changes(before, after) == [
        "index idx_a changed (columns: (email) -> (email, id))",
        "index idx_a changed (unique: false -> true)",
        "view v changed",
        "trigger trg changed (timing: after -> before)",
    ]


def test_enum_labels_and_unknown_kinds() -> None:
    before: Snapshot = {"enums": {"mood": {"labels": ["sad", "ok"]}}, "widgets": {"w": 1}}
    after: Snapshot = {"enums": {"mood": {"labels": ["sad", "ok", "happy"]}},
                       "widgets": {"w": 2}}
    assert changes(before, after) == [
        "enum mood changed (labels: (sad, ok) -> (sad, ok, happy))",
        "widget w changed (1 -> 2)",
    ]


def test_kind_missing_on_one_side() -> None:
    assert changes({}, {"sequences": {"s": {"start": 1}}}) == ["sequence s added"]


def test_changes_order_is_deterministic() -> None:
    before, after = _base(), _base()
    after["tables"]["users"]["checks"] = ["b > 0", "a > 0"]
    assert changes(before, after) == [
        "table users: check (a > 0) added",
        "table users: check (b > 0) added",
    ]


# -- helpers for the dialects -----------------------------------------------------------------


def test_normalise_sql() -> None:
    assert normalise_sql("  SELECT  a,\n\tb -- note\n FROM t /* c */ WHERE x = 'a  b' ") == (
        "SELECT a, b FROM t WHERE x = 'a  b'"
    )
    assert normalise_sql('"a  b"   `c  d`  [e  f]') == '"a  b" `c  d` [e  f]'
    assert normalise_sql("'it''s  x'  y") == "'it''s  x' y"
    assert normalise_sql("'a\\'  b'  c", backslash_escapes=True) == "'a\\'  b' c"
    assert normalise_sql("AS $f$ BEGIN\n  x;  -- k\nEND $f$  ;") == (
        "AS $f$ BEGIN\n  x;  -- k\nEND $f$ ;"
    )
    assert normalise_sql("'unterminated  x") == "'unterminated  x"


def test_strip_parens() -> None:
    assert strip_parens("((a > 0))") == "a > 0"
    assert strip_parens("(a) + (b)") == "(a) + (b)"
    assert strip_parens("(a = ')')") == "a = ')'"
    assert strip_parens("x") == "x"


def test_sqlite_snapshots_follow_every_change_in_one_process(tmp_path: Path) -> None:
    """SQLite table descriptions are kept per process by CREATE text: a table altered,
    renamed, or dropped and made again differently is described afresh each time, the same
    as a process that saw it first."""
    from mig_sqlite import schema as sqlite_schema

    conn = sqlite3.connect(tmp_path / "s.db")
    conn.execute("CREATE TABLE p (id INTEGER PRIMARY KEY)")
    conn.execute("CREATE TABLE t (id INTEGER PRIMARY KEY, a TEXT, p INTEGER REFERENCES p)")
    conn.execute("CREATE INDEX t_a ON t(a)")
    steps = [
        "ALTER TABLE t ADD COLUMN b INTEGER NOT NULL DEFAULT 3",
        "ALTER TABLE t RENAME COLUMN a TO aa",
        "DROP TABLE t",
        "CREATE TABLE t (id INTEGER PRIMARY KEY, a TEXT UNIQUE, p INTEGER REFERENCES p)",
        "CREATE TABLE q (k TEXT PRIMARY KEY)",
        "DROP TABLE p",
        "CREATE TABLE p (k TEXT PRIMARY KEY, CHECK (length(k) > 1))",
    ]
    seen = [sqlite_schema.snapshot(conn)]
    for sql in steps:
        conn.execute(sql)
        seen.append(sqlite_schema.snapshot(conn))
        cached = seen[-1]
        sqlite_schema._DESCRIBED.clear()  # noqa: SLF001 (as a process that never saw them)
        sqlite_schema._PARSED.clear()  # noqa: SLF001
        assert sqlite_schema.snapshot(conn) == cached, sql
    assert all(a != b for a, b in zip(seen, seen[1:], strict=False))
    # the implied reference follows the parent's new primary key
    assert seen[-1]["tables"]["t"]["foreign_keys"][0]["referenced_columns"] == ["k"]
