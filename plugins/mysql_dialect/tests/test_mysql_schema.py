"""MySQLDialect.schema_snapshot on a real server (a fresh database per test)."""

from __future__ import annotations

import json
import shutil
import subprocess
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from mig.schema import Snapshot, changes, fingerprint
from mig_mysql import MySQLDialect
from mysql_server import ADMIN_URL, admin, url_of

pytestmark = pytest.mark.server

BASE = [
    """CREATE TABLE users (
        id INT AUTO_INCREMENT PRIMARY KEY,
        email VARCHAR(255) NOT NULL DEFAULT 'x',
        age INT,
        CONSTRAINT adult CHECK (age IS NULL OR age >= 18)
    )""",
    """CREATE TABLE orders (
        id BIGINT PRIMARY KEY,
        user_id INT,
        total DECIMAL(10, 2),
        code VARCHAR(20) UNIQUE
    )""",
    "CREATE INDEX idx_users_email ON users (email)",
]

OBJECTS = [
    *BASE,
    """CREATE TABLE order_lines (
        order_id BIGINT,
        line INT,
        note TEXT,
        amount DECIMAL(10, 2) CHECK (amount > 0),
        doubled DECIMAL(12, 2) AS (amount * 2) STORED,
        changed TIMESTAMP NULL DEFAULT CURRENT_TIMESTAMP ON UPDATE CURRENT_TIMESTAMP,
        PRIMARY KEY (order_id, line),
        CONSTRAINT fk_order FOREIGN KEY (order_id) REFERENCES orders (id) ON DELETE CASCADE
    )""",
    "CREATE INDEX idx_lines_note ON order_lines (note(10), amount DESC)",
    """CREATE VIEW big_orders AS
        SELECT id,   total
        FROM orders WHERE total > 100""",
    "CREATE TRIGGER trg_orders BEFORE INSERT ON orders FOR EACH ROW SET NEW.total = 0",
    "CREATE FUNCTION twice(a INT) RETURNS INT DETERMINISTIC RETURN a * 2",
]

MIG_TABLES = [
    "CREATE TABLE mig_migrations (seq INT PRIMARY KEY, name VARCHAR(50) UNIQUE)",
    "CREATE TABLE MIG_Lock (holder VARCHAR(50))",
    "CREATE INDEX lock_holder ON MIG_Lock (holder)",
    "CREATE TRIGGER trg_mig BEFORE INSERT ON mig_migrations FOR EACH ROW SET NEW.seq = 1",
]


@pytest.fixture
def new_database() -> Iterator[Callable[[], str]]:
    """Makes fresh databases (their names), all dropped after the test."""
    made: list[str] = []
    maintenance = admin()

    def make() -> str:
        name = f"mig_test_{uuid.uuid4().hex[:12]}"
        maintenance.execute(f"CREATE DATABASE `{name}` CHARACTER SET utf8mb4")
        made.append(name)
        return name

    try:
        yield make
    finally:
        for name in made:
            maintenance.execute(f"DROP DATABASE IF EXISTS `{name}`")
        maintenance.close()


def _build(url: str, tmp_path: Path, ddl: list[str]) -> Snapshot:
    dialect = MySQLDialect(url, base_dir=tmp_path, options={})
    dialect.connect()
    try:
        for statement in ddl:
            dialect.execute(statement)
        return dialect.schema_snapshot()
    finally:
        dialect.close()


def test_every_kind_of_object(my_url: str, tmp_path: Path) -> None:
    snap = _build(my_url, tmp_path, OBJECTS)
    assert sorted(snap) == ["indexes", "routines", "tables", "triggers", "views"]
    assert json.loads(json.dumps(snap)) == snap
    users = snap["tables"]["users"]
    assert [c["name"] for c in users["columns"]] == ["id", "email", "age"]
    assert users["columns"][0]["extra"] == "auto_increment"
    assert users["columns"][1] == {"name": "email", "type": "varchar(255)",
                                   "nullable": False, "default": "'x'"}
    assert users["columns"][2]["default"] is None
    assert users["primary_key"] == ["id"]
    assert users["checks"] == ["`age` is null or `age` >= 18"]
    lines = snap["tables"]["order_lines"]
    assert lines["primary_key"] == ["order_id", "line"]
    assert lines["foreign_keys"] == [
        {"columns": ["order_id"], "references": "orders", "referenced_columns": ["id"],
         "on_delete": "cascade", "on_update": "no action"},
    ]
    doubled = lines["columns"][4]
    assert doubled["generated"] == "`amount` * 2" and doubled["default"] is None
    assert lines["columns"][5]["extra"].startswith("on update current_timestamp")
    assert snap["indexes"]["order_lines.idx_lines_note"] == {
        "table": "order_lines", "columns": ["note(10)", "amount desc"], "unique": False,
        "where": None, "method": "btree",
    }
    # A unique key is an index in MySQL; PRIMARY is the table's primary key.
    assert snap["indexes"]["orders.code"]["unique"] is True
    assert not any(name.endswith(".PRIMARY") for name in snap["indexes"])
    definition = snap["views"]["big_orders"]["definition"]
    assert "mig_test_" not in definition and "`orders`.`total` > 100" in definition
    assert snap["triggers"] == {
        "trg_orders": {"table": "orders", "timing": "before", "event": "insert", "order": 1,
                       "definition": "SET NEW.total = 0"},
    }
    assert snap["routines"]["twice"]["kind"] == "function"
    assert snap["routines"]["twice"]["definition"] == "RETURN a * 2"


def test_mig_tables_are_excluded(new_database: Callable[[], str], tmp_path: Path) -> None:
    with_mig = _build(url_of(new_database()), tmp_path, BASE + MIG_TABLES)
    assert sorted(with_mig["tables"]) == ["orders", "users"]
    assert not any(index["table"].lower().startswith("mig_")
                   for index in with_mig["indexes"].values())
    assert with_mig["triggers"] == {}
    assert with_mig == _build(url_of(new_database()), tmp_path, BASE)


def test_same_ddl_gives_equal_snapshots(
    new_database: Callable[[], str], tmp_path: Path
) -> None:
    one = _build(url_of(new_database()), tmp_path, OBJECTS)
    two = _build(url_of(new_database()), tmp_path, OBJECTS)
    assert one == two
    assert fingerprint(one) == fingerprint(two)


def _client(name: str) -> str | None:
    return shutil.which(f"mariadb-{name}" if name else "mariadb") or shutil.which(
        f"mysql{name}" if name else "mysql"
    )


@pytest.mark.skipif(_client("dump") is None, reason="mariadb-dump/mysqldump is not installed")
def test_a_restored_dump_gives_an_equal_snapshot(
    new_database: Callable[[], str], tmp_path: Path
) -> None:
    source, copy = new_database(), new_database()
    original = _build(url_of(source), tmp_path, [*OBJECTS, "INSERT INTO orders (id) VALUES (1)"])
    server = urlsplit(ADMIN_URL)
    login = [f"--host={server.hostname or '127.0.0.1'}", f"--port={server.port or 3306}",
             f"--user={server.username or 'root'}"]
    if server.password:
        login.append(f"--password={server.password}")
    dump = subprocess.run(
        [str(_client("dump")), *login, "--routines", "--triggers", source],
        check=True, capture_output=True,
    ).stdout
    subprocess.run([str(_client("")), *login, copy], input=dump, check=True,
                   capture_output=True)
    restored = _build(url_of(copy), tmp_path, [])
    assert changes(original, restored) == []
    assert fingerprint(restored) == fingerprint(original)


def test_data_and_counters_do_not_count(my_url: str, tmp_path: Path) -> None:
    before = _build(my_url, tmp_path, OBJECTS)
    after = _build(my_url, tmp_path, [
        "INSERT INTO users (email) VALUES ('a'), ('b')", "ANALYZE TABLE users",
    ])
    assert after == before


CHANGES = [
    pytest.param("ALTER TABLE users ADD COLUMN timezone TEXT",
                 "table users: column timezone added", id="add-column"),
    pytest.param("ALTER TABLE users MODIFY email VARCHAR(255) NULL DEFAULT 'x'",
                 "table users: column email changed (nullable: false -> true)",
                 id="nullability"),
    pytest.param("ALTER TABLE users ALTER COLUMN email SET DEFAULT 'y'",
                 "table users: column email default changed ('x' -> 'y')", id="default"),
    pytest.param("ALTER TABLE users MODIFY age BIGINT",
                 "table users: column age changed (type: int(11) -> bigint(20))", id="type"),
    pytest.param("CREATE INDEX idx_orders_total ON orders (total)",
                 "index orders.idx_orders_total added", id="add-index"),
    pytest.param("DROP INDEX idx_users_email ON users", "index users.idx_users_email dropped",
                 id="drop-index"),
    pytest.param("ALTER TABLE orders ADD FOREIGN KEY (user_id) REFERENCES users (id)",
                 "table orders: foreign key (user_id) -> users(id) added",
                 id="add-fk"),
    pytest.param("ALTER TABLE orders ADD CHECK (total >= 0)",
                 "table orders: check (`total` >= 0) added", id="add-check"),
    pytest.param("CREATE VIEW v AS SELECT id FROM users", "view v added", id="add-view"),
    pytest.param(
        "CREATE TRIGGER trg AFTER DELETE ON orders FOR EACH ROW SET @x = 1",
        "trigger trg added", id="add-trigger",
    ),
]


@pytest.mark.parametrize(("ddl", "line"), CHANGES)
def test_each_change_is_seen(my: MySQLDialect, ddl: str, line: str) -> None:
    for statement in BASE:
        my.execute(statement)
    before = my.schema_snapshot()
    my.execute(ddl)
    after = my.schema_snapshot()
    assert fingerprint(before) != fingerprint(after)
    assert line in changes(before, after)
