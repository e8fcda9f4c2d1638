"""PostgresDialect.schema_snapshot on a real server (a fresh database per test)."""

from __future__ import annotations

import json
import shutil
import subprocess
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from mig.schema import Snapshot, changes, fingerprint
from mig_postgres import PostgresDialect
from postgres_server import admin, url_of

pytestmark = pytest.mark.server

BASE = """
CREATE TYPE mood AS ENUM ('sad', 'ok');
CREATE SEQUENCE invoice_numbers START 1000;
CREATE TABLE users (
    id SERIAL PRIMARY KEY,
    email VARCHAR(255) NOT NULL DEFAULT 'x',
    age INTEGER,
    feeling mood,
    CONSTRAINT adult CHECK (age IS NULL OR age >= 18)
);
CREATE TABLE orders (
    id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    user_id INTEGER,
    total NUMERIC(10, 2),
    code TEXT UNIQUE
);
CREATE INDEX idx_users_email ON users (email);
CREATE FUNCTION touch() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RETURN NEW;
END $$;
"""

OBJECTS = BASE + """
CREATE TABLE lines (
    order_id BIGINT REFERENCES orders (id) ON DELETE CASCADE,
    line INTEGER,
    amount NUMERIC CHECK (amount > 0),
    doubled NUMERIC GENERATED ALWAYS AS (amount * 2) STORED,
    PRIMARY KEY (order_id, line),
    UNIQUE (line, amount)
);
CREATE UNIQUE INDEX idx_lines_amount ON lines (amount DESC, (lower(line::text)))
    INCLUDE (doubled) WHERE amount > 10;
CREATE VIEW big_orders AS
    SELECT id,   total
    FROM orders WHERE total > 100;
CREATE MATERIALIZED VIEW order_totals AS SELECT user_id, sum(total) AS total FROM orders
    GROUP BY user_id;
CREATE TRIGGER trg_orders BEFORE INSERT OR UPDATE OF total ON orders
    FOR EACH ROW EXECUTE FUNCTION touch();
"""

MIG_TABLES = """
CREATE TABLE mig_migrations (seq SERIAL PRIMARY KEY, name TEXT UNIQUE);
CREATE TABLE "MIG_Lock" (holder TEXT);
CREATE INDEX lock_holder ON "MIG_Lock" (holder);
CREATE TRIGGER trg_mig BEFORE INSERT ON mig_migrations
    FOR EACH ROW EXECUTE FUNCTION touch();
"""


@pytest.fixture
def new_database() -> Iterator[Callable[[], str]]:
    """Makes fresh databases (their names), all dropped after the test."""
    made: list[str] = []
    maintenance = admin()

    def make() -> str:
        name = f"mig_test_{uuid.uuid4().hex[:12]}"
        maintenance.execute(f'CREATE DATABASE "{name}"')
        made.append(name)
        return name

    try:
        yield make
    finally:
        for name in made:
            maintenance.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        maintenance.close()


def _connect(url: str, tmp_path: Path, *, readonly: bool = False) -> PostgresDialect:
    dialect = PostgresDialect(url, base_dir=tmp_path, options={})
    dialect.connect(readonly=readonly)
    return dialect


def _build(url: str, tmp_path: Path, ddl: str) -> Snapshot:
    dialect = _connect(url, tmp_path)
    try:
        if ddl:
            dialect.execute(ddl)
        return dialect.schema_snapshot()
    finally:
        dialect.close()


def test_every_kind_of_object(pg_url: str, tmp_path: Path) -> None:
    snap = _build(pg_url, tmp_path, OBJECTS)
    assert sorted(snap) == [
        "enums", "indexes", "routines", "sequences", "tables", "triggers", "views",
    ]
    assert json.loads(json.dumps(snap)) == snap
    users = snap["tables"]["users"]
    assert users["columns"] == [
        {"name": "id", "type": "integer", "nullable": False,
         "default": "nextval('users_id_seq'::regclass)"},
        {"name": "email", "type": "character varying(255)", "nullable": False,
         "default": "'x'::character varying"},
        {"name": "age", "type": "integer", "nullable": True, "default": None},
        {"name": "feeling", "type": "mood", "nullable": True, "default": None},
    ]
    assert users["primary_key"] == ["id"]
    assert users["checks"] == ["(age IS NULL) OR (age >= 18)"]
    orders = snap["tables"]["orders"]
    assert orders["columns"][0] == {"name": "id", "type": "bigint", "nullable": False,
                                    "default": None, "identity": "always"}
    assert orders["unique"] == [["code"]]
    lines = snap["tables"]["lines"]
    assert lines["primary_key"] == ["order_id", "line"]
    assert lines["unique"] == [["line", "amount"]]
    assert lines["checks"] == ["amount > (0)::numeric"]
    assert lines["columns"][-1] == {"name": "doubled", "type": "numeric", "nullable": True,
                                    "default": None, "generated": "amount * (2)::numeric"}
    assert lines["foreign_keys"] == [
        {"columns": ["order_id"], "references": "orders", "referenced_columns": ["id"],
         "on_delete": "cascade", "on_update": "no action"},
    ]
    # Constraint-backed indexes (primary keys, unique constraints) are not listed.
    assert snap["indexes"] == {
        "idx_lines_amount": {
            "table": "lines", "columns": ["amount DESC", "lower(line::text)"], "unique": True,
            "where": "amount > (10)::numeric", "method": "btree", "include": ["doubled"],
        },
        "idx_users_email": {"table": "users", "columns": ["email"], "unique": False,
                            "where": None, "method": "btree"},
    }
    assert snap["views"]["big_orders"] == {
        "definition": "SELECT orders.id, orders.total FROM orders"
        " WHERE orders.total > 100::numeric;"
    }
    assert snap["views"]["order_totals"]["materialized"] is True
    assert snap["triggers"] == {
        "orders.trg_orders": {
            "table": "orders", "timing": "before", "event": "insert or update of total",
            "definition": "CREATE TRIGGER trg_orders BEFORE INSERT OR UPDATE OF total ON orders"
            " FOR EACH ROW EXECUTE FUNCTION touch()",
        },
    }
    assert snap["enums"] == {"mood": {"labels": ["sad", "ok"]}}
    assert snap["sequences"]["invoice_numbers"] == {
        "type": "bigint", "start": 1000, "increment": 1, "min": 1,
        "max": 9223372036854775807, "cache": 1, "cycle": False, "owned_by": None,
    }
    assert snap["sequences"]["users_id_seq"]["owned_by"] == "users.id"
    assert snap["sequences"]["orders_id_seq"]["owned_by"] == "orders.id"
    assert list(snap["routines"]) == ["touch()"]
    assert snap["routines"]["touch()"]["kind"] == "function"
    assert "$function$\nBEGIN\n    RETURN NEW;\nEND $function$" in (
        snap["routines"]["touch()"]["definition"]
    )


def test_mig_tables_are_excluded(
    new_database: Callable[[], str], tmp_path: Path
) -> None:
    with_mig = _build(url_of(new_database()), tmp_path, BASE + MIG_TABLES)
    assert sorted(with_mig["tables"]) == ["orders", "users"]
    assert "mig_migrations_seq_seq" not in with_mig["sequences"]
    assert "lock_holder" not in with_mig["indexes"]
    assert with_mig["triggers"] == {}
    assert with_mig == _build(url_of(new_database()), tmp_path, BASE)


def test_same_ddl_gives_equal_snapshots(
    new_database: Callable[[], str], tmp_path: Path
) -> None:
    one = _build(url_of(new_database()), tmp_path, OBJECTS)
    two = _build(url_of(new_database()), tmp_path, OBJECTS)
    assert one == two
    assert fingerprint(one) == fingerprint(two)


@pytest.mark.skipif(shutil.which("pg_dump") is None, reason="pg_dump is not installed")
def test_a_restored_dump_gives_an_equal_snapshot(
    new_database: Callable[[], str], tmp_path: Path
) -> None:
    source, copy = url_of(new_database()), url_of(new_database())
    original = _build(source, tmp_path, OBJECTS + "INSERT INTO users (email) VALUES ('a');")
    dump = subprocess.run(
        ["pg_dump", "--no-owner", "--no-privileges", "--dbname", source],
        check=True, capture_output=True,
    ).stdout
    subprocess.run(
        ["psql", "-q", "-v", "ON_ERROR_STOP=1", "--dbname", copy],
        input=dump, check=True, capture_output=True,
    )
    restored = _build(copy, tmp_path, "")
    assert changes(original, restored) == []
    assert fingerprint(restored) == fingerprint(original)


def test_counters_and_data_do_not_count(pg_url: str, tmp_path: Path) -> None:
    dialect = _connect(pg_url, tmp_path)
    dialect.execute(OBJECTS)
    before = dialect.schema_snapshot()
    dialect.execute("INSERT INTO users (email) SELECT 'u' || i FROM generate_series(1, 50) i")
    dialect.execute("SELECT nextval('invoice_numbers'); ANALYZE; REFRESH MATERIALIZED VIEW"
                    " order_totals")
    after = dialect.schema_snapshot()
    dialect.close()
    assert after == before


def test_the_snapshot_is_read_only(pg_url: str, tmp_path: Path) -> None:
    _build(pg_url, tmp_path, OBJECTS)
    dialect = _connect(pg_url, tmp_path, readonly=True)
    try:
        snap = dialect.schema_snapshot()
        assert not dialect.in_transaction
    finally:
        dialect.close()
    assert sorted(snap["tables"]) == ["lines", "orders", "users"]


def test_only_the_configured_schema(pg_url: str, tmp_path: Path) -> None:
    _build(pg_url, tmp_path, BASE)
    app_url = pg_url + "?schema=app"
    app = _connect(app_url, tmp_path)
    app.execute(
        "CREATE TABLE accounts (id INTEGER PRIMARY KEY,"
        " user_id INTEGER REFERENCES public.users (id));"
        "CREATE INDEX idx_accounts_user ON accounts (user_id);"
    )
    snap = app.schema_snapshot()
    app.close()
    assert list(snap["tables"]) == ["accounts"]
    assert list(snap["indexes"]) == ["idx_accounts_user"]
    assert snap["tables"]["accounts"]["foreign_keys"][0]["references"] == "public.users"
    assert snap["enums"] == {} and snap["sequences"] == {} and snap["routines"] == {}
    public = _build(pg_url, tmp_path, "")
    assert "accounts" not in public["tables"]


CHANGES = [
    pytest.param("ALTER TABLE users ADD COLUMN timezone TEXT",
                 "table users: column timezone added", id="add-column"),
    pytest.param("ALTER TABLE users ALTER COLUMN email DROP NOT NULL",
                 "table users: column email changed (nullable: false -> true)",
                 id="nullability"),
    pytest.param("ALTER TABLE users ALTER COLUMN email DROP DEFAULT",
                 "table users: column email default changed ('x'::character varying -> NULL)",
                 id="default"),
    pytest.param("ALTER TABLE users ALTER COLUMN age TYPE BIGINT",
                 "table users: column age changed (type: integer -> bigint)", id="type"),
    pytest.param("CREATE INDEX idx_orders_total ON orders (total)",
                 "index idx_orders_total added", id="add-index"),
    pytest.param("DROP INDEX idx_users_email", "index idx_users_email dropped",
                 id="drop-index"),
    pytest.param("ALTER TABLE orders ADD FOREIGN KEY (user_id) REFERENCES users (id)",
                 "table orders: foreign key (user_id) -> users(id) added", id="add-fk"),
    pytest.param("ALTER TABLE orders ADD CHECK (total >= 0)",
                 "table orders: check (total >= (0)::numeric) added", id="add-check"),
    pytest.param("ALTER TABLE orders DROP CONSTRAINT orders_code_key",
                 "table orders: unique (code) dropped", id="drop-unique"),
    pytest.param("CREATE VIEW v AS SELECT id FROM users", "view v added", id="add-view"),
    pytest.param(
        "CREATE TRIGGER trg AFTER DELETE ON orders FOR EACH ROW EXECUTE FUNCTION touch()",
        "trigger orders.trg added", id="add-trigger",
    ),
    pytest.param("ALTER TYPE mood ADD VALUE 'happy'",
                 "enum mood changed (labels: (sad, ok) -> (sad, ok, happy))",
                 id="add-enum-label"),
    pytest.param("ALTER SEQUENCE invoice_numbers INCREMENT BY 10",
                 "sequence invoice_numbers changed (increment: 1 -> 10)", id="sequence"),
    pytest.param(
        "CREATE OR REPLACE FUNCTION touch() RETURNS trigger LANGUAGE plpgsql"
        " AS $$ BEGIN RETURN OLD; END $$",
        "routine touch() changed", id="routine",
    ),
]


@pytest.mark.parametrize(("ddl", "line"), CHANGES)
def test_each_change_is_seen(pg_url: str, tmp_path: Path, ddl: str, line: str) -> None:
    dialect = _connect(pg_url, tmp_path)
    dialect.execute(BASE)
    before = dialect.schema_snapshot()
    dialect.execute(ddl)
    after = dialect.schema_snapshot()
    dialect.close()
    assert fingerprint(before) != fingerprint(after)
    assert line in changes(before, after)
