from __future__ import annotations

from pathlib import Path
from typing import Any

from mig.ledger import Ledger
from mig.models import Problem
from mig.plugins import Plugins
from mig.protocols import Context
from mig_sqlite import SQLiteDialect, plugin
from mig_sqlite.integrity import check


def make_context(dialect: Any, plugins: Plugins, db: SQLiteDialect) -> Context:
    return Context(
        dialect=dialect,
        ledger=Ledger(dialect),
        plugins=plugins,
        config=None,
        split=lambda sql, line: [],
        executor=db.executor(),
        backups=None,  # type: ignore[arg-type]  # integrity checks never touch backups
    )


def schema(db: SQLiteDialect) -> None:
    db.execute("CREATE TABLE users (id INTEGER PRIMARY KEY, name TEXT)")
    db.execute(
        "CREATE TABLE orders (id INTEGER PRIMARY KEY,"
        " user_id INTEGER NOT NULL REFERENCES users (id))"
    )
    db.execute("INSERT INTO users VALUES (1, 'ann')")
    db.execute("INSERT INTO orders VALUES (1, 1)")


def test_clean_database_has_no_problems(db: SQLiteDialect) -> None:
    schema(db)
    Ledger(db).ensure()
    assert check(db) == []


def test_foreign_key_violation(db: SQLiteDialect) -> None:
    schema(db)
    db.execute("PRAGMA foreign_keys = OFF")
    db.execute("INSERT INTO orders VALUES (5, 42)")
    db.execute("PRAGMA foreign_keys = ON")
    before = db.query("SELECT * FROM orders ORDER BY id")
    assert check(db) == [
        Problem(
            check="sqlite.foreign_key",
            message="orders rowid 5 references a missing row in users (user_id -> users.id)",
            object="orders",
        )
    ]
    assert db.query("SELECT * FROM orders ORDER BY id") == before


def corrupt_index(tmp_path: Path) -> SQLiteDialect:
    dialect = SQLiteDialect("sqlite:///app.db", base_dir=tmp_path, options={})
    dialect.connect()
    dialect.execute("CREATE TABLE t (x TEXT, y TEXT)")
    dialect.execute("CREATE INDEX t_x ON t (x)")
    dialect.executemany("INSERT INTO t VALUES (?, ?)", [(str(i), "y") for i in range(50)])
    # Make the index claim to cover another column behind SQLite's back.
    dialect.execute("PRAGMA writable_schema = ON")
    dialect.execute("UPDATE sqlite_master SET sql = 'CREATE INDEX t_x ON t (y)' WHERE name = 't_x'")
    dialect.execute("PRAGMA writable_schema = OFF")
    dialect.close()
    dialect.connect(readonly=True)
    return dialect


def test_integrity_check_finds_a_broken_index(tmp_path: Path) -> None:
    dialect = corrupt_index(tmp_path)
    problems = check(dialect)
    dialect.close()
    assert problems
    assert {p.check for p in problems} == {"sqlite.integrity_check"}
    assert any("t_x" in p.message for p in problems)


def test_unreadable_schema_is_one_problem(tmp_path: Path) -> None:
    dialect = SQLiteDialect("sqlite:///app.db", base_dir=tmp_path, options={})
    dialect.connect()
    dialect.execute("CREATE TABLE t (x TEXT)")
    dialect.execute("PRAGMA writable_schema = ON")
    dialect.execute("UPDATE sqlite_master SET sql = 'CREATE TABLE t (x TEXT' WHERE name = 't'")
    dialect.execute("PRAGMA writable_schema = OFF")
    dialect.close()
    dialect.connect(readonly=True)
    problems = check(dialect)
    dialect.close()
    assert len(problems) == 1
    assert problems[0].check == "sqlite.integrity_check"
    assert "malformed database schema" in problems[0].message


def test_hook_answers_only_for_sqlite(db: SQLiteDialect) -> None:
    schema(db)
    plugins = Plugins(autoload=False)
    plugins.register(plugin, name="sqlite_dialect")

    class Other:
        name = "postgresql"
        paramstyle = "format"

    assert plugin.mig_integrity_check(make_context(Other(), plugins, db)) is None
    assert plugins.integrity_check(make_context(db, plugins, db)) == []


def test_hook_registers_the_dialect() -> None:
    plugins = Plugins(autoload=False)
    plugins.register(plugin, name="sqlite_dialect")
    assert plugins.dialects() == {"sqlite": SQLiteDialect}
    assert plugins.dialect_for("sqlite:///app.db") is SQLiteDialect
    assert plugins.infos["sqlite_dialect"].api_version == 1
