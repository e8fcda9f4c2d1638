"""``mig diff`` on SQLite: usage errors, views, an edited migration, and the table rebuild
of a generated migration keeping rows and foreign keys (the cross-dialect round trip is in
tests/dialects/test_dialects_diff.py)."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest
from mig.engine import MigrationEngine
from mig.testing import Project

pytest.importorskip("mig_diff")

from mig_diff import diff_live, diff_urls, migration_text, new_migration  # noqa: E402
from mig_diff.api import default_head  # noqa: E402
from mig_diff.render import render  # noqa: E402

BASE_UP = """\
CREATE TABLE users (id INTEGER PRIMARY KEY, email TEXT NOT NULL, age INT);
CREATE TABLE orders (id INTEGER PRIMARY KEY, user_id INTEGER REFERENCES users (id), total REAL);
CREATE VIEW big_orders AS SELECT id, total FROM orders WHERE total > 100;
INSERT INTO users (id, email, age) VALUES (1, 'a@example.com', 30);
INSERT INTO orders (id, user_id, total) VALUES (1, 1, 250.0);
"""
BASE_DOWN = "DROP VIEW big_orders;\nDROP TABLE orders;\nDROP TABLE users;"


def _hand(project: Project, *sql: str) -> None:
    conn = sqlite3.connect(project.db_path, isolation_level=None)
    try:
        for statement in sql:
            conn.execute(statement)
    finally:
        conn.close()


@pytest.fixture
def project(mig_project: Project) -> Project:
    mig_project.write_migration("001_base", BASE_UP, BASE_DOWN)
    mig_project.ok("up")
    return mig_project


def test_usage_errors_exit_2(project: Project, tmp_path: Path) -> None:
    other = tmp_path / "other.db"
    sqlite3.connect(other).close()
    cases = [
        (("--from-url", f"sqlite:///{other}"), "--from-url and --to-url go together"),
        (("--from-url", "nosuch://x/y", "--to-url", f"sqlite:///{other}"),
         "no dialect plugin handles 'nosuch' URLs"),
        (("--from-url", f"sqlite:///{other}", "--to-url", "postgresql://u:secret@h/db"),
         "mig diff compares databases of the same dialect"),
        (("--from-url", f"sqlite:///{other}", "--to-url", f"sqlite:///{tmp_path}/missing.db"),
         "does not exist"),
    ]
    for args, message in cases:
        code, out, err = project.run("diff", *args)
        assert code == 2 and out == "", (args, err)
        assert err.startswith("mig: error: ") and message in err, err
        assert "secret" not in err


def test_equal_databases_and_edited_migration(project: Project, tmp_path: Path) -> None:
    with project.engine() as engine:
        assert diff_live(engine).differences == []
        assert new_migration(engine, "nothing") is None
        # mig's own tables are left out: a database holding only the same user schema is
        # equal to the live one, which also holds mig's bookkeeping.
        plain = tmp_path / "plain.db"
        conn = sqlite3.connect(plain)
        conn.executescript(BASE_UP)
        conn.close()
        assert diff_urls(engine.plugins, f"sqlite:///{plain}", f"sqlite:///{project.db_path}",
                         engine.config).equal
        conn = sqlite3.connect(plain)
        conn.execute("CREATE TABLE mig_something (x INTEGER)")
        conn.execute("CREATE TABLE audit (x INTEGER)")
        conn.close()
        lines = [d.line for d in diff_urls(engine.plugins, f"sqlite:///{project.db_path}",
                                           f"sqlite:///{plain}", engine.config).differences]
        assert lines == ["table audit added"]
    assert sorted(p.name for p in project.migrations_dir.iterdir()) == ["001_base.sql"]
    # A migration edited after it ran: the schema it produces now is not the live one.
    path = project.migrations_dir / "001_base.sql"
    path.write_text(path.read_text().replace("age INT", "age INT, city TEXT"))
    with project.engine() as engine:
        lines = [d.line for d in diff_live(engine).differences]
    assert lines == ["table users: column city dropped"]


def test_views_and_triggers_are_reported_and_generated(project: Project) -> None:
    _hand(project,
          "DROP VIEW big_orders",
          "CREATE VIEW big_orders AS SELECT id, total FROM orders WHERE total > 1000",
          "CREATE TRIGGER orders_positive BEFORE INSERT ON orders"
          " WHEN NEW.total < 0 BEGIN SELECT RAISE(ABORT, 'negative'); END")
    with project.engine() as engine:
        comparison = diff_live(engine)
    assert [d.line for d in comparison.differences] == [
        "view big_orders changed", "trigger orders_positive added"]
    text = migration_text(render(comparison), default_head())
    code, out, err = project.run("diff", "--sql")
    assert (code, out) == (4, text), err
    up, down = text.split("-- DOWN")
    assert "DROP VIEW \"big_orders\";\n" in up and "total > 1000;" in up
    assert "CREATE TRIGGER orders_positive" in up
    assert 'DROP TRIGGER "orders_positive";' in down and "total > 100;" in down


def test_rebuild_keeps_rows_and_foreign_keys(project: Project, tmp_path: Path) -> None:
    # users: a column's type changed and one dropped -> the table is rebuilt; orders keeps
    # referencing it; the rows survive UP and DOWN.
    _hand(project,
          "PRAGMA foreign_keys = OFF",
          "CREATE TABLE users_new (id INTEGER PRIMARY KEY, email VARCHAR(200) NOT NULL)",
          "INSERT INTO users_new SELECT id, email FROM users",
          "DROP TABLE users",
          "ALTER TABLE users_new RENAME TO users")
    with project.engine() as engine:
        path = new_migration(engine, "Rebuild users")
    assert path is not None
    text = path.read_text()
    assert "-- @transactional: false" in text and "PRAGMA foreign_keys = OFF;" in text

    # Apply the migrations to a copy of the migrations' schema (with its rows).
    copy = tmp_path / "copy"
    other = Project(copy)
    for source in project.migrations_dir.iterdir():
        (other.migrations_dir / source.name).write_text(source.read_text())
    other.ok("up")
    conn = sqlite3.connect(other.db_path)
    assert conn.execute("SELECT id, email FROM users").fetchall() == [(1, "a@example.com")]
    assert conn.execute("PRAGMA foreign_key_list(orders)").fetchall()[0][2] == "users"
    conn.close()
    live = f"sqlite:///{project.db_path}"
    with MigrationEngine.from_config(other.config_path) as engine:
        assert diff_urls(engine.plugins.load(), f"sqlite:///{other.db_path}", live,
                         engine.config).equal
    other.ok("down", "--steps", "1")
    conn = sqlite3.connect(other.db_path)
    assert conn.execute("SELECT id, email, age FROM users").fetchall() == [
        (1, "a@example.com", None)]
    assert conn.execute("SELECT id, user_id, total FROM orders").fetchall() == [(1, 1, 250.0)]
    conn.close()
    code, out, err = project.run("diff", "--from-url", f"sqlite:///{other.db_path}",
                                 "--to-url", live)
    assert code == 4, err
    assert "table users: column age dropped" in out.splitlines()
    assert "table users: column email type changed (TEXT -> VARCHAR(200))" in out.splitlines()


def test_hand_changes_become_a_migration_that_mig_test_passes(project: Project) -> None:
    """The user's whole way out of a hand-altered database: `mig diff` finds a column, an
    index and a table with a unique and a check constraint; `mig diff --new` writes them as a
    migration; `mig test` proves its DOWN undoes its UP; `mig baseline` records it on the
    database it came from; and `mig diff` then finds nothing."""
    pytest.importorskip("mig_migtest")
    _hand(project,
          "ALTER TABLE users ADD COLUMN nickname TEXT",
          "CREATE INDEX idx_users_nickname ON users(nickname)",
          "CREATE TABLE audit (id INTEGER PRIMARY KEY, what TEXT NOT NULL UNIQUE,"
          " CHECK (length(what) > 0))")
    code, out, _ = project.run("diff")
    assert code == 4
    assert "nickname" in out and "idx_users_nickname" in out and "audit" in out
    path = Path(project.ok("diff", "--new", "hand changes").strip())
    assert path.parent.name == "migrations" and path.name.startswith("002_")
    code, out, err = project.run("test")
    assert code == 0, out + err
    project.ok("baseline", path.name.split("_", 1)[0])
    assert project.run("diff") == (0, "", "")
    assert project.applied() == ["001_base", path.stem]
