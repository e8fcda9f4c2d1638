from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest
from mig import ConfigError, DatabaseError
from mig.ledger import Ledger
from mig.protocols import Dialect, Executor
from mig.testing import Project
from mig_sqlite import SQLiteDialect, SQLiteExecutor


def make(url: str, base: Path, **options: object) -> SQLiteDialect:
    return SQLiteDialect(url, base_dir=base, options=options)


# -- URLs -------------------------------------------------------------------------------------


def test_satisfies_the_protocols(tmp_path: Path) -> None:
    dialect = make("sqlite:///app.db", tmp_path)
    assert isinstance(dialect, Dialect)
    assert isinstance(dialect.executor(), SQLiteExecutor)
    assert isinstance(dialect.executor(), Executor)
    assert (dialect.name, dialect.schemes, dialect.paramstyle) == ("sqlite", ("sqlite",), "qmark")
    assert dialect.transactional_ddl is True


def test_relative_url_is_relative_to_base_dir(tmp_path: Path) -> None:
    dialect = make("sqlite:///data/app.db", tmp_path)
    assert dialect.path == tmp_path / "data" / "app.db"
    assert dialect.display_url() == "sqlite:///data/app.db"


def test_absolute_url(tmp_path: Path) -> None:
    dialect = make(f"sqlite:///{tmp_path}/abs.db", Path("/somewhere/else"))
    assert dialect.path == tmp_path / "abs.db"
    assert make("sqlite:////srv/app.db", tmp_path).path == Path("/srv/app.db")


def test_memory_url(tmp_path: Path) -> None:
    dialect = make("sqlite:///:memory:", tmp_path)
    assert dialect.path is None
    assert dialect.exists()
    dialect.connect()
    dialect.execute("CREATE TABLE t (x)")
    assert dialect.table_names() == ["t"]
    with dialect.lock(0):
        pass
    dialect.close()
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize(
    "url",
    [
        "sqlite:/x.db",
        "sqlite://host/x.db",
        "sqlite://",
        "sqlite:///",
        "sqlite:///dir/",
        "sqlite:///app.db?mode=ro",
        "postgresql:///x",
        "app.db",
    ],
)
def test_malformed_url(tmp_path: Path, url: str) -> None:
    with pytest.raises(ConfigError) as info:
        make(url, tmp_path)
    message = str(info.value)
    assert "\n" not in message
    assert url in message


@pytest.mark.parametrize(
    "options",
    [{"busy_timeout": "5"}, {"busy_timeout": -1}, {"busy_timeout": True}, {"journal": "wal"}],
)
def test_bad_options(tmp_path: Path, options: dict[str, object]) -> None:
    with pytest.raises(ConfigError):
        make("sqlite:///app.db", tmp_path, **options)


def test_bad_options_are_refused_when_the_config_loads(mig_project: Project) -> None:
    """Through mig_config_loaded: before any database work, so `mig validate` (which opens
    no database) refuses them too, naming the key; nothing is created."""
    mig_project.write_config(options={"sqlite": {"busy_timeout": "soon"}})
    for command in (["validate"], ["status"], ["up"]):
        code, _, err = mig_project.run(*command)
        assert code == 2 and "sqlite.busy_timeout" in err, (command, err)
    assert not mig_project.db_path.exists()


def test_busy_timeout_option(tmp_path: Path) -> None:
    assert make("sqlite:///app.db", tmp_path, busy_timeout=0.25).busy_timeout == 0.25


# -- connecting -------------------------------------------------------------------------------


def test_connect_creates_the_file(tmp_path: Path) -> None:
    dialect = make("sqlite:///app.db", tmp_path)
    assert not dialect.exists()
    dialect.connect()
    assert dialect.exists()
    assert dialect.query("PRAGMA foreign_keys") == [(1,)]
    dialect.close()


def test_readonly_connect_does_not_create_the_file(tmp_path: Path) -> None:
    dialect = make("sqlite:///app.db", tmp_path)
    with pytest.raises(DatabaseError, match="cannot open sqlite database .*app.db"):
        dialect.connect(readonly=True)
    assert list(tmp_path.iterdir()) == []


def test_readonly_connect_cannot_write(db: SQLiteDialect, tmp_path: Path) -> None:
    db.execute("CREATE TABLE t (x)")
    db.close()
    ro = make("sqlite:///app.db", tmp_path)
    ro.connect(readonly=True)
    assert ro.table_names() == ["t"]
    with pytest.raises(sqlite3.OperationalError, match="readonly"):
        ro.execute("INSERT INTO t VALUES (1)")
    ro.close()


@pytest.mark.parametrize("readonly", [False, True])
def test_missing_folder(tmp_path: Path, readonly: bool) -> None:
    dialect = make("sqlite:///nowhere/app.db", tmp_path)
    match = r"cannot open sqlite database .*nowhere.*does not exist"
    with pytest.raises(DatabaseError, match=match):
        dialect.connect(readonly=readonly)
    assert not (tmp_path / "nowhere").exists()


@pytest.mark.parametrize("readonly", [False, True])
def test_garbage_file(tmp_path: Path, readonly: bool) -> None:
    (tmp_path / "app.db").write_bytes(b"this is not a database, just some text\n" * 100)
    dialect = make("sqlite:///app.db", tmp_path)
    match = "cannot open sqlite database .*app.db: file is not a database"
    with pytest.raises(DatabaseError, match=match):
        dialect.connect(readonly=readonly)
    assert dialect.connection is None


def test_a_folder_is_not_a_database(tmp_path: Path) -> None:
    (tmp_path / "app.db").mkdir()
    with pytest.raises(DatabaseError, match="cannot open sqlite database"):
        make("sqlite:///app.db", tmp_path).connect()


def test_not_connected_is_a_clear_error(tmp_path: Path) -> None:
    dialect = make("sqlite:///app.db", tmp_path)
    with pytest.raises(DatabaseError, match="not connected"):
        dialect.execute("SELECT 1")
    with pytest.raises(DatabaseError, match="not connected"):
        dialect.query("SELECT 1")
    dialect.rollback()  # nothing to roll back


# -- statements and transactions --------------------------------------------------------------


def test_query_execute_executemany(db: SQLiteDialect) -> None:
    db.execute("CREATE TABLE t (a INTEGER, b TEXT)")
    db.execute("INSERT INTO t VALUES (?, ?)", (1, "one"))
    db.executemany("INSERT INTO t VALUES (?, ?)", [(2, "two"), (3, "three")])
    assert db.query("SELECT a, b FROM t WHERE a > ? ORDER BY a", (1,)) == [(2, "two"), (3, "three")]


def test_autocommit_outside_transactions(db: SQLiteDialect, tmp_path: Path) -> None:
    db.execute("CREATE TABLE t (x)")
    db.execute("INSERT INTO t VALUES (1)")
    other = sqlite3.connect(tmp_path / "app.db")
    assert other.execute("SELECT x FROM t").fetchall() == [(1,)]
    other.close()


def test_transactional_ddl_rolls_back(db: SQLiteDialect) -> None:
    db.begin()
    assert db.in_transaction
    db.execute("CREATE TABLE t (x)")
    db.execute("INSERT INTO t VALUES (1)")
    assert db.table_names() == ["t"]
    db.rollback()
    assert not db.in_transaction
    assert db.table_names() == []


def test_commit_keeps_changes(db: SQLiteDialect, tmp_path: Path) -> None:
    db.begin()
    db.execute("CREATE TABLE t (x)")
    db.commit()
    db.close()
    db.connect(readonly=True)
    assert db.table_names() == ["t"]


def test_rollback_without_transaction_is_a_noop(db: SQLiteDialect) -> None:
    db.rollback()
    db.execute("CREATE TABLE t (x)")
    db.rollback()
    assert db.table_names() == ["t"]


def test_begin_takes_the_write_lock(db: SQLiteDialect, tmp_path: Path) -> None:
    db.execute("CREATE TABLE t (x)")
    other = make("sqlite:///app.db", tmp_path, busy_timeout=0.1)
    other.connect()
    db.begin()
    with pytest.raises(sqlite3.OperationalError, match="locked"):
        other.begin()
    db.rollback()
    other.begin()
    other.rollback()
    other.close()


def test_table_names_skip_sqlite_internal_tables(db: SQLiteDialect) -> None:
    db.execute("CREATE TABLE b (id INTEGER PRIMARY KEY AUTOINCREMENT)")  # makes sqlite_sequence
    db.execute("CREATE TABLE a (x)")
    db.execute("CREATE TABLE sqliteish (x)")
    db.execute("CREATE VIEW v AS SELECT 1")
    assert db.table_names() == ["a", "b", "sqliteish"]


def test_ledger_tables_use_the_column_types(db: SQLiteDialect) -> None:
    ledger = Ledger(db)
    assert not ledger.exists()
    ledger.ensure()
    assert ledger.exists()
    assert not db.in_transaction
    assert {
        "mig_migration_metadata",
        "mig_migration_executions",
        "mig_backup_info",
        "mig_schema_version",
        "mig_schema_snapshots",
    } <= set(db.table_names())
    assert ledger.current_version() is None
    ledger.ensure()  # a second time changes nothing
    declared = {row[1]: row[2] for row in db.query("PRAGMA table_info(mig_migration_executions)")}
    assert declared["execution_time"] == "REAL"
    assert declared["rollback_available"] == "BOOLEAN"
