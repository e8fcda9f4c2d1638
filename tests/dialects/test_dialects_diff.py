"""``mig diff`` on every dialect: a column, an index and constraints added by hand to the live
database are found, and the migration ``mig diff --new`` writes turns the migrations' schema
into the live one (UP) and back (DOWN), compared by mig's schema snapshots."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path
from typing import Any

import pytest
from dialect_targets import DialectTarget
from mig.engine import MigrationEngine
from mig.plugins import Plugins
from mig.schema import Snapshot, changes

pytest.importorskip("mig_diff")

from mig_diff import diff_live, new_migration  # noqa: E402

#: The migration every test starts from, per dialect.
BASE = {
    "sqlite": (
        "CREATE TABLE users (id INTEGER PRIMARY KEY, email TEXT NOT NULL, age INTEGER);\n"
        "CREATE TABLE orders (id INTEGER PRIMARY KEY, user_id INTEGER, total REAL);\n"
        "INSERT INTO users (id, email) VALUES (1, 'a@example.com');\n"
        "INSERT INTO orders (id, user_id, total) VALUES (1, 1, 2.5);",
        "DROP TABLE orders;\nDROP TABLE users;",
    ),
    "postgres": (
        "CREATE TABLE users (id SERIAL PRIMARY KEY, email TEXT NOT NULL, age INTEGER);\n"
        "CREATE TABLE orders (id SERIAL PRIMARY KEY, user_id INTEGER, total REAL);\n"
        "INSERT INTO users (id, email) VALUES (1, 'a@example.com');\n"
        "INSERT INTO orders (id, user_id, total) VALUES (1, 1, 2.5);",
        "DROP TABLE orders;\nDROP TABLE users;",
    ),
    "mysql": (
        "CREATE TABLE users (id INT AUTO_INCREMENT PRIMARY KEY, email VARCHAR(100) NOT NULL,"
        " age INT);\n"
        "CREATE TABLE orders (id INT AUTO_INCREMENT PRIMARY KEY, user_id INT, total DOUBLE);\n"
        "INSERT INTO users (id, email) VALUES (1, 'a@example.com');\n"
        "INSERT INTO orders (id, user_id, total) VALUES (1, 1, 2.5);",
        "DROP TABLE orders;\nDROP TABLE users;",
    ),
}

VIEW = "CREATE VIEW big_orders AS SELECT id, total FROM orders WHERE total > 100"
#: What an operator does by hand: a column, an index, a unique, a foreign key, a check and
#: a view.
#: SQLite cannot add constraints with ALTER TABLE: the table is rebuilt by hand.
BY_HAND = {
    "sqlite": [
        "ALTER TABLE users ADD COLUMN nickname VARCHAR(40) DEFAULT 'anon' NOT NULL",
        "CREATE INDEX ix_users_nickname ON users (nickname)",
        "PRAGMA foreign_keys = OFF",
        "CREATE TABLE orders_new (id INTEGER PRIMARY KEY,"
        " user_id INTEGER REFERENCES users (id) ON DELETE CASCADE,"
        " total REAL CHECK (total >= 0), UNIQUE (user_id, total))",
        "INSERT INTO orders_new SELECT id, user_id, total FROM orders",
        "DROP TABLE orders",
        "ALTER TABLE orders_new RENAME TO orders",
        VIEW,
    ],
    "postgres": [
        "ALTER TABLE users ADD COLUMN nickname VARCHAR(40) DEFAULT 'anon' NOT NULL",
        "CREATE INDEX ix_users_nickname ON users (nickname)",
        "ALTER TABLE orders ADD CONSTRAINT uq_orders UNIQUE (user_id, total)",
        "ALTER TABLE orders ADD CONSTRAINT fk_orders_user FOREIGN KEY (user_id)"
        " REFERENCES users (id) ON DELETE CASCADE",
        "ALTER TABLE orders ADD CONSTRAINT ck_orders_total CHECK (total >= 0)",
        VIEW,
    ],
    "mysql": [
        "ALTER TABLE users ADD COLUMN nickname VARCHAR(40) NOT NULL DEFAULT 'anon'",
        "CREATE INDEX ix_users_nickname ON users (nickname)",
        "ALTER TABLE orders ADD CONSTRAINT uq_orders UNIQUE (user_id, total)",
        "ALTER TABLE orders ADD CONSTRAINT fk_orders_user FOREIGN KEY (user_id)"
        " REFERENCES users (id) ON DELETE CASCADE",
        "ALTER TABLE orders ADD CONSTRAINT ck_orders_total CHECK (total >= 0)",
        VIEW,
    ],
}


def snapshot(url: str, base: Path) -> Snapshot:
    """mig's snapshot of the database at ``url``, through its dialect plugin."""
    cls = Plugins().load().dialect_for(url)
    dialect = cls(url, base_dir=base, options={})
    dialect.connect(readonly=True)
    try:
        snap: Snapshot = dialect.schema_snapshot()
        return snap
    finally:
        dialect.close()


def _ops(output: str) -> set[tuple[str, Any]]:
    return {(d["op"], d["table"]) for d in json.loads(output)["differences"]}


def test_hand_changes_are_found_and_the_generated_migration_round_trips(
    dialect: DialectTarget, tmp_path: Path
) -> None:
    project = dialect.project(tmp_path / "p")
    up, down = BASE[dialect.name]
    project.write_migration("001_base", up, down)
    with project.engine() as engine:
        engine.up()
        assert diff_live(engine).differences == []
    migrations_schema = snapshot(dialect.url, tmp_path)

    dialect.execute(*BY_HAND[dialect.name])
    live = snapshot(dialect.url, tmp_path)

    code, out, err = project.run("diff", "--json")
    assert code == 4, err
    found = _ops(out)
    assert ("add_column", "users") in found
    assert ("add_index", "users") in found
    assert ("add_fk", "orders") in found
    assert ("add_check", "orders") in found
    # MySQL keeps a unique constraint as a unique index; the others as a constraint (SQLite
    # rebuilds the table for it).
    assert {("add_constraint", "orders"), ("add_index", "orders")} & found
    lines = [d["line"] for d in json.loads(out)["differences"]]
    assert any(line.startswith("table users: column nickname added") for line in lines)
    assert "view big_orders added" in lines

    with project.engine() as engine:
        path = new_migration(engine, "Sync hand changes")
    assert path is not None
    assert path.name == "002_sync_hand_changes.sql"
    body = path.read_text()
    assert "-- @name: Sync hand changes" in body and "-- UP" in body and "-- DOWN" in body

    # What `mig test` checks: the migrations, this one included, give the live schema; its
    # DOWN gives back the migrations' schema. Done in a scratch database of the same kind.
    engine = project.engine()
    with engine.dialect.scratch() as url:
        config = dataclasses.replace(engine.config, database=url, backup="none")
        with MigrationEngine(config=config) as scratch:
            done = scratch.up()
            assert [e.status.value for e in done] == ["COMPLETED", "COMPLETED"], done
            assert changes(snapshot(url, tmp_path), live) == []
            # The live database and the scratch one now hold the same schema.
            code, out, err = project.run("diff", "--from-url", url, "--to-url", dialect.url)
            assert (code, out) == (0, ""), err
            undone = scratch.down(steps=1)
            assert [(e.migration_id, e.status.value) for e in undone] == [
                ("002_sync_hand_changes", "COMPLETED")], undone
            assert changes(snapshot(url, tmp_path), migrations_schema) == []
    engine.close()
