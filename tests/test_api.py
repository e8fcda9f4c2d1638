"""The Python API of SPEC §7, in-process against real SQLite files."""

from __future__ import annotations

from pathlib import Path

import pytest
from mig import (
    BackupType,
    IntegrityResult,
    MigError,
    Migration,
    MigrationEngine,
    MigrationExecution,
    MigrationStatus,
    UnknownTargetError,
    create_migration_file,
)
from mig.testing import Project

EXAMPLE = [
    "001_create_users_table",
    "002_create_portfolio_table",
    "003_create_orders_table",
    "004_create_trades_table",
    "005_add_user_preferences",
]


@pytest.fixture
def engine(example_project: Project) -> MigrationEngine:
    eng = MigrationEngine(
        database_path=str(example_project.db_path),
        migrations_dir=str(example_project.migrations_dir),
        backups_dir=str(example_project.path / "backups"),
        backup="none",
    )
    yield eng
    eng.close()


def test_public_names() -> None:
    assert [s.name for s in MigrationStatus] == [
        "PENDING", "RUNNING", "COMPLETED", "FAILED", "ROLLED_BACK"
    ]
    assert [b.name for b in BackupType] == [
        "FULL_DATABASE", "SCHEMA_ONLY", "DATA_ONLY", "INCREMENTAL"
    ]
    assert issubclass(UnknownTargetError, MigError)


def test_fresh_database(engine: MigrationEngine, example_project: Project) -> None:
    assert engine.get_current_version() is None
    pending = engine.get_pending_migrations()
    assert [m.id for m in pending] == EXAMPLE
    first = pending[0]
    assert isinstance(first, Migration)
    assert (first.version, first.name, first.dependencies) == (
        "001", "Create Users Table", ()
    )
    assert pending[3].dependencies == ("001_create_users_table", "003_create_orders_table")
    assert not example_project.db_path.exists()  # reading never creates the database


def test_migrate_latest(engine: MigrationEngine, example_project: Project) -> None:
    executions = engine.migrate_latest()
    assert [e.migration_id for e in executions] == EXAMPLE
    assert all(isinstance(e, MigrationExecution) for e in executions)
    assert all(e.status is MigrationStatus.COMPLETED for e in executions)
    assert len({e.execution_id for e in executions}) == 5
    assert engine.get_current_version() == "005"
    assert engine.get_pending_migrations() == []
    assert engine.migrate_latest() == []
    assert {"users", "trades"} <= example_project.tables()


def test_execute_and_roll_back_one_migration(
    engine: MigrationEngine, example_project: Project
) -> None:
    ex = engine.execute_migration("001_create_users_table")
    assert ex.migration_id == "001_create_users_table"
    assert ex.status is MigrationStatus.COMPLETED
    assert engine.get_current_version() == "001"
    assert "users" in example_project.tables()
    # Its dependencies come along.
    trades = engine.execute_migration("004_create_trades_table")
    assert trades.status is MigrationStatus.COMPLETED
    assert [m.id for m in engine.get_pending_migrations()] == [EXAMPLE[1], EXAMPLE[4]]
    assert engine.rollback_migration(trades.execution_id) is True
    assert "trades" not in example_project.tables()
    assert engine.get_current_version() == "003"
    with pytest.raises(UnknownTargetError):
        engine.execute_migration("999_nope")
    with pytest.raises(UnknownTargetError):
        engine.rollback_migration("no-such-execution")


def test_failed_sql_is_returned_not_raised(mig_project: Project) -> None:
    mig_project.table_migration("001", "a")
    mig_project.write_migration("002_broken", "CREATE TABLE b (id INTEGER);\nSELECT * FROM nope;",
                                "DROP TABLE b;")
    with mig_project.engine() as engine:
        executions = engine.migrate_latest()
        assert [(e.migration_id, e.status) for e in executions] == [
            ("001_create_a", MigrationStatus.COMPLETED),
            ("002_broken", MigrationStatus.FAILED),
        ]
        assert "no such table: nope" in executions[-1].error_message
        assert engine.get_current_version() == "001"
        failed = executions[-1]
        # Nothing is left to undo of a failed execution: that counts as success.
        assert engine.rollback_migration(failed.execution_id) is True
        assert engine.get_current_version() == "001"


def test_validate_database_integrity(engine: MigrationEngine, example_project: Project) -> None:
    engine.migrate_latest()
    result = engine.validate_database_integrity()
    assert isinstance(result, IntegrityResult)
    assert result.ok and list(result.problems) == []
    engine.close()
    import sqlite3

    conn = sqlite3.connect(example_project.db_path)
    conn.execute("INSERT INTO trades (trade_id, order_id, user_id, symbol, side, quantity, price)"
                 " VALUES ('t1', 7, 8, 'X', 'buy', 1, 1)")
    conn.commit()
    conn.close()
    result = engine.validate_database_integrity()
    assert not result.ok
    assert {p.check for p in result.problems} == {"sqlite.foreign_key"}
    assert all(p.message for p in result.problems)


def test_create_migration_file(tmp_path: Path) -> None:
    folder = tmp_path / "migrations"
    path = create_migration_file(
        migrations_dir=str(folder), name="Add User Preferences",
        migration_type="table_modification", author="A", description="prefs",
    )
    assert path == folder / "001_add_user_preferences.sql"
    text = path.read_text()
    assert "-- @name: Add User Preferences" in text
    assert "-- @author: A" in text and "-- @description: prefs" in text
    second = create_migration_file(migrations_dir=str(folder), name="Second one")
    assert second.name == "002_second_one.sql"
    # The template validates as written and applies as a no-op.
    engine = MigrationEngine(
        database_path=str(tmp_path / "app.db"), migrations_dir=str(folder), backup="none"
    )
    assert [m.id for m in engine.validate()] == ["001_add_user_preferences", "002_second_one"]
    executions = engine.migrate_latest()
    assert [e.status for e in executions] == [MigrationStatus.COMPLETED] * 2
    assert engine.get_current_version() == "002"
    assert engine.rollback_migration(executions[-1].execution_id) is True
    engine.close()
    tables = {
        r[0] for r in __import__("sqlite3").connect(tmp_path / "app.db").execute(
            "SELECT name FROM sqlite_master WHERE type = 'table'"
        )
    }
    assert all(t.startswith("mig_") for t in tables)


def test_from_config(example_project: Project) -> None:
    engine = MigrationEngine.from_config(example_project.config_path)
    assert engine.config.migrations_dir == example_project.migrations_dir
    assert [e.migration_id for e in engine.migrate_latest()] == EXAMPLE
    assert engine.get_current_version() == "005"
    engine.close()
    # The relative sqlite path is the file next to the config.
    assert example_project.db_path.exists()


def test_database_url_keyword(example_project: Project) -> None:
    url = f"sqlite:///{example_project.db_path}"
    engine = MigrationEngine(database=url, migrations_dir=example_project.migrations_dir,
                             backup="none")
    assert len(engine.migrate_latest()) == 5
    engine.close()


def test_a_long_lived_engine_sees_what_another_process_recorded(mig_project: Project) -> None:
    mig_project.table_migration("001", "a")
    with mig_project.engine() as engine:
        assert len(engine.migrate_latest()) == 1
        mig_project.table_migration("002", "b")
        mig_project.ok("up")  # another process, while this engine stays connected
        mig_project.table_migration("003", "c")
        engine.reload()
        assert [e.migration_id for e in engine.migrate_latest()] == ["003_create_c"]
        assert engine.get_current_version() == "003"
        assert [e.migration_id for e in engine.history()] == [
            "003_create_c", "002_create_b", "001_create_a"
        ]
    seqs = [r["seq"] for r in mig_project.executions()]
    assert seqs == sorted(set(seqs)), "execution order must be unique and increasing"


def test_a_deferred_foreign_key_failing_at_commit_is_a_failed_migration(
    mig_project: Project,
) -> None:
    mig_project.write_migration(
        "001_deferred",
        "CREATE TABLE p (id INTEGER PRIMARY KEY);\n"
        "CREATE TABLE c (pid INTEGER REFERENCES p(id) DEFERRABLE INITIALLY DEFERRED);\n"
        "INSERT INTO c VALUES (42);",
        "DROP TABLE c;\nDROP TABLE p;",
    )
    with mig_project.engine() as engine:
        [ex] = engine.migrate_latest()
        assert ex.status is MigrationStatus.FAILED
        assert "FOREIGN KEY constraint failed" in ex.error_message
        assert engine.get_current_version() is None
    assert not {"p", "c"} & mig_project.tables()
    assert [r["status"] for r in mig_project.executions()] == ["FAILED"]
