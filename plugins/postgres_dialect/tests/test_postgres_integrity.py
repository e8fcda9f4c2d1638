"""Integrity checks: NOT VALID and unenforced foreign keys, NOT VALID checks, invalid indexes."""

from __future__ import annotations

from pathlib import Path

import pytest
from mig_postgres import PostgresDialect, plugin
from mig_postgres.integrity import CHECK_CONSTRAINT, FOREIGN_KEY, INVALID_INDEX, check


@pytest.fixture
def shop(pg: PostgresDialect) -> PostgresDialect:
    pg.execute("CREATE TABLE users (id INTEGER PRIMARY KEY)")
    pg.execute("CREATE TABLE orders (id INTEGER PRIMARY KEY, user_id INTEGER, qty INTEGER)")
    pg.execute("INSERT INTO users VALUES (1)")
    pg.execute("INSERT INTO orders VALUES (1, 1, 1), (2, 99, 1), (3, 98, 1), (4, NULL, 1)")
    return pg


def test_clean_database_has_no_problems(pg: PostgresDialect) -> None:
    pg.execute("CREATE TABLE users (id INTEGER PRIMARY KEY)")
    pg.execute("CREATE TABLE orders (id INTEGER PRIMARY KEY, user_id INTEGER REFERENCES users)")
    pg.execute("CREATE INDEX orders_user ON orders (user_id)")
    assert check(pg) == []


def test_not_valid_foreign_key_with_its_orphans(shop: PostgresDialect) -> None:
    shop.execute("ALTER TABLE orders ADD CONSTRAINT orders_user_fk FOREIGN KEY (user_id)"
                 " REFERENCES users (id) NOT VALID")
    [problem] = check(shop)
    assert problem.check == FOREIGN_KEY and problem.object == "orders"
    assert problem.message == (
        "foreign key orders_user_fk on orders (user_id -> users.id) is NOT VALID (its existing"
        " rows were never checked); 2 row(s) reference a missing row; fix them, then"
        ' ALTER TABLE orders VALIDATE CONSTRAINT "orders_user_fk"'
    )


def test_composite_foreign_key_with_disabled_triggers(pg: PostgresDialect) -> None:
    pg.execute("CREATE TABLE a (x INTEGER, y INTEGER, PRIMARY KEY (x, y))")
    pg.execute('CREATE TABLE "B b" (x INTEGER, y INTEGER, FOREIGN KEY (x, y) REFERENCES a)')
    pg.execute('ALTER TABLE "B b" DISABLE TRIGGER ALL')  # superuser only
    pg.execute("INSERT INTO a VALUES (1, 1)")
    pg.execute('INSERT INTO "B b" VALUES (1, 1), (1, 2), (NULL, 2)')
    [problem] = check(pg)
    assert problem.check == FOREIGN_KEY and problem.object == '"B b"'
    assert "(x, y -> a.x, y) is not enforced (its triggers are disabled);" in problem.message
    assert "1 row(s) reference a missing row" in problem.message


def test_not_valid_check_constraint(shop: PostgresDialect) -> None:
    shop.execute("ALTER TABLE orders ADD CONSTRAINT qty_positive CHECK (qty > 1) NOT VALID")
    [problem] = check(shop)
    assert problem.check == CHECK_CONSTRAINT
    assert "qty_positive on orders (CHECK ((qty > 1)) NOT VALID) is NOT VALID" in problem.message


def test_invalid_index_left_by_a_failed_concurrent_build(shop: PostgresDialect) -> None:
    with pytest.raises(Exception, match="could not create unique index"):
        shop.execute("CREATE UNIQUE INDEX CONCURRENTLY orders_qty ON orders (qty)")
    [problem] = check(shop)
    assert problem.check == INVALID_INDEX and problem.object == "orders_qty"
    assert "index orders_qty on orders is INVALID" in problem.message


def test_only_the_dialects_schema_is_checked(pg_url: str, shop: PostgresDialect) -> None:
    shop.execute("ALTER TABLE orders ADD CONSTRAINT fk FOREIGN KEY (user_id)"
                 " REFERENCES users (id) NOT VALID")
    other = PostgresDialect(pg_url, base_dir=Path("."), options={"schema": "other"})
    other.connect()
    try:
        assert check(other) == []
    finally:
        other.close()


def test_hook_answers_for_postgres_only(pg: PostgresDialect) -> None:
    class Ctx:
        dialect = pg

    assert plugin.mig_integrity_check(Ctx()) == []  # type: ignore[arg-type]

    class Other:
        class dialect:  # noqa: N801
            name = "sqlite"

    assert plugin.mig_integrity_check(Other()) is None  # type: ignore[arg-type]
