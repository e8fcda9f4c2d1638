"""SQLiteDialect.schema_snapshot on real database files."""

from __future__ import annotations

import shutil
import sqlite3
from pathlib import Path

import pytest
from mig.schema import Snapshot, changes, fingerprint
from mig_sqlite import SQLiteDialect

BASE = """
CREATE TABLE users (
    id INTEGER PRIMARY KEY,
    email TEXT NOT NULL DEFAULT 'x',
    age INTEGER,
    CONSTRAINT adult CHECK (age IS NULL OR age >= 18)
);
CREATE TABLE orders (
    id INTEGER PRIMARY KEY,
    user_id INTEGER,
    total REAL,
    code TEXT UNIQUE
);
CREATE INDEX idx_users_email ON users (email);
"""

OBJECTS = """
CREATE TABLE users (
    id INTEGER PRIMARY KEY,
    email   VARCHAR(255)  NOT NULL UNIQUE DEFAULT 'x',  -- the login
    "check" TEXT DEFAULT NULL,
    created TIMESTAMP DEFAULT CURRENT_TIMESTAMP CHECK (created <> ''),
    CHECK (length(email) > 3 AND email LIKE '%(%'), /* a ')' in a string */
    UNIQUE (email, "check")
);
CREATE TABLE orders (
    id INTEGER,
    line INTEGER,
    user_id INTEGER REFERENCES users ON DELETE CASCADE,
    owner INTEGER,
    PRIMARY KEY (line, id),
    FOREIGN KEY (owner) REFERENCES users (id) ON UPDATE SET NULL
);
CREATE UNIQUE INDEX idx_orders_user ON orders (user_id DESC, lower(owner)) WHERE owner > 0;
CREATE VIEW v_users AS
    SELECT id,   email
    FROM users;
CREATE TRIGGER trg_users AFTER UPDATE OF email, created ON users
BEGIN
    SELECT 1;
END;
CREATE TRIGGER trg_v INSTEAD OF INSERT ON v_users BEGIN SELECT 1; END;
"""

MIG_TABLES = """
CREATE TABLE mig_migrations (id TEXT PRIMARY KEY, name TEXT UNIQUE);
CREATE TABLE MIG_Lock (holder TEXT);
CREATE INDEX mig_migrations_name ON mig_migrations (name);
CREATE INDEX lock_holder ON MIG_Lock (holder);
CREATE TRIGGER mig_trg AFTER INSERT ON mig_migrations BEGIN SELECT 1; END;
CREATE TRIGGER other_trg AFTER INSERT ON MIG_Lock BEGIN SELECT 1; END;
"""


def _snapshot(folder: Path, ddl: str, name: str = "app.db") -> Snapshot:
    dialect = SQLiteDialect(f"sqlite:///{name}", base_dir=folder, options={})
    dialect.connect()
    try:
        assert dialect.connection is not None
        dialect.connection.executescript(ddl)
        return dialect.schema_snapshot()
    finally:
        dialect.close()


def test_every_kind_of_object(tmp_path: Path) -> None:
    snap = _snapshot(tmp_path, OBJECTS)
    assert sorted(snap) == ["indexes", "tables", "triggers", "views"]
    users = snap["tables"]["users"]
    assert users["columns"] == [
        {"name": "id", "type": "INTEGER", "nullable": True, "default": None},
        {"name": "email", "type": "VARCHAR(255)", "nullable": False, "default": "'x'"},
        {"name": "check", "type": "TEXT", "nullable": True, "default": None},
        {"name": "created", "type": "TIMESTAMP", "nullable": True,
         "default": "CURRENT_TIMESTAMP"},
    ]
    assert users["primary_key"] == ["id"]
    assert users["unique"] == [["email"], ["email", "check"]]
    assert users["checks"] == ["created <> ''", "length(email) > 3 AND email LIKE '%(%'"]
    assert users["foreign_keys"] == []
    orders = snap["tables"]["orders"]
    assert orders["primary_key"] == ["line", "id"]
    assert orders["foreign_keys"] == [
        {"columns": ["owner"], "references": "users", "referenced_columns": ["id"],
         "on_delete": "no action", "on_update": "set null"},
        {"columns": ["user_id"], "references": "users", "referenced_columns": ["id"],
         "on_delete": "cascade", "on_update": "no action"},
    ]
    assert snap["indexes"] == {
        "idx_orders_user": {"table": "orders", "columns": ["user_id DESC", "lower(owner)"],
                            "unique": True, "where": "owner > 0"},
    }
    assert snap["views"] == {
        "v_users": {"definition": "CREATE VIEW v_users AS SELECT id, email FROM users"},
    }
    assert snap["triggers"]["trg_users"] == {
        "table": "users", "timing": "after", "event": "update of email, created",
        "definition": "CREATE TRIGGER trg_users AFTER UPDATE OF email, created ON users"
        " BEGIN SELECT 1; END",
    }
    assert snap["triggers"]["trg_v"]["timing"] == "instead of"
    assert snap["triggers"]["trg_v"]["event"] == "insert"


def test_json_round_trip(tmp_path: Path) -> None:
    import json

    snap = _snapshot(tmp_path, OBJECTS)
    assert json.loads(json.dumps(snap)) == snap


def test_mig_tables_are_excluded(tmp_path: Path) -> None:
    snap = _snapshot(tmp_path, BASE + MIG_TABLES)
    assert sorted(snap["tables"]) == ["orders", "users"]
    assert list(snap["indexes"]) == ["idx_users_email"]
    assert snap["triggers"] == {}
    assert snap == _snapshot(tmp_path, BASE, "plain.db")


def test_other_prefixes(tmp_path: Path) -> None:
    dialect = SQLiteDialect("sqlite:///app.db", base_dir=tmp_path, options={})
    dialect.connect()
    assert dialect.connection is not None
    dialect.connection.executescript(BASE + MIG_TABLES)
    everything = dialect.schema_snapshot(exclude_prefix="")
    assert sorted(everything["tables"]) == ["MIG_Lock", "mig_migrations", "orders", "users"]
    assert sorted(everything["triggers"]) == ["mig_trg", "other_trg"]
    assert sorted(dialect.schema_snapshot(exclude_prefix="ORD")["tables"]) == [
        "MIG_Lock", "mig_migrations", "users",
    ]
    dialect.close()


def test_same_ddl_gives_equal_snapshots(tmp_path: Path) -> None:
    one = _snapshot(tmp_path, OBJECTS, "one.db")
    two = _snapshot(tmp_path, OBJECTS, "two.db")
    assert one == two
    assert fingerprint(one) == fingerprint(two)
    assert changes(one, two) == []


def test_copied_and_dumped_databases_give_equal_snapshots(tmp_path: Path) -> None:
    original = _snapshot(tmp_path, OBJECTS)
    shutil.copyfile(tmp_path / "app.db", tmp_path / "copy.db")
    assert _snapshot(tmp_path, "", "copy.db") == original
    source = sqlite3.connect(tmp_path / "app.db")
    restored = sqlite3.connect(tmp_path / "restored.db")
    restored.executescript("\n".join(source.iterdump()))
    source.close()
    restored.close()
    assert _snapshot(tmp_path, "", "restored.db") == original


def test_the_snapshot_changes_nothing(tmp_path: Path) -> None:
    _snapshot(tmp_path, OBJECTS)
    before = (tmp_path / "app.db").read_bytes()
    dialect = SQLiteDialect("sqlite:///app.db", base_dir=tmp_path, options={})
    dialect.connect(readonly=True)
    try:
        snap = dialect.schema_snapshot()
        assert dialect.connection is not None
        assert dialect.connection.total_changes == 0
        assert not dialect.in_transaction
    finally:
        dialect.close()
    assert snap["tables"]
    assert (tmp_path / "app.db").read_bytes() == before


def test_few_queries_whatever_the_number_of_tables(tmp_path: Path) -> None:
    ddl = "".join(
        f"CREATE TABLE t{i} (id INTEGER PRIMARY KEY, a TEXT, b INT REFERENCES t0(id));"
        f"CREATE INDEX i{i} ON t{i} (a);"
        for i in range(50)
    )
    dialect = SQLiteDialect("sqlite:///app.db", base_dir=tmp_path, options={})
    dialect.connect()
    assert dialect.connection is not None
    dialect.connection.executescript(ddl)
    statements: list[str] = []
    dialect.connection.set_trace_callback(statements.append)
    snap = dialect.schema_snapshot()
    dialect.connection.set_trace_callback(None)
    dialect.close()
    assert len(snap["tables"]) == 50 and len(snap["indexes"]) == 50
    # The trace also shows each table-valued pragma call as a "-- PRAGMA" comment.
    assert len([sql for sql in statements if not sql.startswith("--")]) <= 5


def test_not_connected(tmp_path: Path) -> None:
    from mig.errors import DatabaseError

    dialect = SQLiteDialect("sqlite:///app.db", base_dir=tmp_path, options={})
    with pytest.raises(DatabaseError, match="not connected"):
        dialect.schema_snapshot()


def test_empty_database(tmp_path: Path) -> None:
    assert _snapshot(tmp_path, "") == {"tables": {}, "indexes": {}, "views": {}, "triggers": {}}


CHANGES = [
    pytest.param("age INTEGER,", "age INTEGER, timezone TEXT,",
                 "table users: column timezone added", id="add-column"),
    pytest.param("email TEXT NOT NULL DEFAULT 'x'", "email TEXT DEFAULT 'x'",
                 "table users: column email changed (nullable: false -> true)",
                 id="nullability"),
    pytest.param("email TEXT NOT NULL DEFAULT 'x'", "email TEXT NOT NULL",
                 "table users: column email default changed ('x' -> NULL)", id="default"),
    pytest.param("age INTEGER,", "age BIGINT,",
                 "table users: column age changed (type: INTEGER -> BIGINT)", id="type"),
    pytest.param("", "CREATE INDEX idx_orders_total ON orders (total);",
                 "index idx_orders_total added", id="add-index"),
    pytest.param("CREATE INDEX idx_users_email ON users (email);", "",
                 "index idx_users_email dropped", id="drop-index"),
    pytest.param("CREATE INDEX idx_users_email ON users (email);",
                 "CREATE INDEX idx_users_email ON users (email) WHERE age > 0;",
                 "index idx_users_email changed (where: none -> age > 0)", id="partial-index"),
    pytest.param("user_id INTEGER,", "user_id INTEGER REFERENCES users(id),",
                 "table orders: foreign key (user_id) -> users(id) added", id="add-fk"),
    pytest.param("total REAL,", "total REAL CHECK (total >= 0),",
                 "table orders: check (total >= 0) added", id="add-check"),
    pytest.param("age >= 18", "age >= 21",
                 "table users: check (age IS NULL OR age >= 18) dropped", id="change-check"),
    pytest.param("code TEXT UNIQUE", "code TEXT",
                 "table orders: unique (code) dropped", id="drop-unique"),
    pytest.param("", "CREATE VIEW v AS SELECT id FROM users;", "view v added", id="add-view"),
    pytest.param(
        "", "CREATE TRIGGER trg AFTER INSERT ON orders BEGIN SELECT 1; END;",
        "trigger trg added", id="add-trigger",
    ),
    pytest.param("", "CREATE TABLE extra (id INTEGER);", "table extra added", id="add-table"),
]


@pytest.mark.parametrize(("old", "new", "line"), CHANGES)
def test_each_change_is_seen(tmp_path: Path, old: str, new: str, line: str) -> None:
    assert old in BASE
    changed_ddl = BASE.replace(old, new) if old else BASE + new
    before = _snapshot(tmp_path, BASE, "before.db")
    after = _snapshot(tmp_path, changed_ddl, "after.db")
    assert fingerprint(before) != fingerprint(after)
    assert line in changes(before, after)


def test_changes_made_in_place(tmp_path: Path) -> None:
    dialect = SQLiteDialect("sqlite:///app.db", base_dir=tmp_path, options={})
    dialect.connect()
    assert dialect.connection is not None
    dialect.connection.executescript(BASE)
    before = dialect.schema_snapshot()
    dialect.execute("ALTER TABLE users ADD COLUMN tz TEXT DEFAULT 'UTC' CHECK (tz <> '')")
    dialect.execute("DROP INDEX idx_users_email")
    dialect.execute("ALTER TABLE orders RENAME TO purchases")
    after = dialect.schema_snapshot()
    dialect.close()
    assert changes(before, after) == [
        "table orders dropped",
        "table purchases added",
        "table users: column tz added",
        "table users: check (tz <> '') added",
        "index idx_users_email dropped",
    ]
