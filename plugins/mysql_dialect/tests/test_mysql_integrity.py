"""Integrity check: rows that break a foreign key, found by anti-joins."""

from __future__ import annotations

import pytest
from mig_mysql import MySQLDialect, plugin
from mig_mysql.integrity import FOREIGN_KEY, check


@pytest.fixture
def shop(my: MySQLDialect) -> MySQLDialect:
    my.execute("CREATE TABLE users (id INTEGER PRIMARY KEY)")
    my.execute("CREATE TABLE orders (id INTEGER PRIMARY KEY, user_id INTEGER,"
               " CONSTRAINT orders_user FOREIGN KEY (user_id) REFERENCES users (id))")
    my.execute("INSERT INTO users VALUES (1)")
    my.execute("INSERT INTO orders VALUES (1, 1), (2, NULL)")
    return my


def test_clean_database_has_no_problems(shop: MySQLDialect) -> None:
    assert check(shop) == []


def test_rows_let_in_with_checks_off(shop: MySQLDialect) -> None:
    shop.execute("SET foreign_key_checks = 0")
    shop.execute("INSERT INTO orders VALUES (3, 99), (4, 98)")
    shop.execute("SET foreign_key_checks = 1")
    [problem] = check(shop)
    assert problem.check == FOREIGN_KEY and problem.object == "orders"
    assert problem.message == (
        "orders: 2 row(s) reference a missing row in users (foreign key orders_user:"
        " user_id -> users.id)"
    )


def test_composite_keys_and_odd_names(my: MySQLDialect) -> None:
    my.execute("CREATE TABLE `a a` (x INTEGER, y INTEGER, PRIMARY KEY (x, y))")
    my.execute("CREATE TABLE `b``b` (x INTEGER, y INTEGER,"
               " FOREIGN KEY (x, y) REFERENCES `a a` (x, y))")
    my.execute("INSERT INTO `a a` VALUES (1, 1)")
    my.execute("SET foreign_key_checks = 0")
    my.execute("INSERT INTO `b``b` VALUES (1, 1), (1, 2), (2, 1), (NULL, 5)")
    my.execute("SET foreign_key_checks = 1")
    [problem] = check(my)
    assert problem.message.startswith("b`b: 2 row(s) reference a missing row in a a")
    assert "x, y -> a a.x, y" in problem.message


def test_hook_answers_for_mysql_only(my: MySQLDialect) -> None:
    class Ctx:
        dialect = my

    assert plugin.mig_integrity_check(Ctx()) == []  # type: ignore[arg-type]

    class Other:
        class dialect:  # noqa: N801
            name = "postgres"

    assert plugin.mig_integrity_check(Other()) is None  # type: ignore[arg-type]
