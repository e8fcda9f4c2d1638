"""What mig promises, checked on every dialect: SQLite, PostgreSQL and MariaDB/MySQL.

Where a dialect cannot keep a promise the same way (MySQL commits DDL implicitly, so a
migration that fails halfway leaves what ran), the test says what that dialect does instead.
"""

from __future__ import annotations

import datetime as _dt
import json
import signal
from pathlib import Path

from dialect_targets import BOOKKEEPING, EXAMPLE_TABLES, DialectTarget

FOUR_STATEMENTS = """\
CREATE TABLE part_one (id INTEGER PRIMARY KEY);
CREATE TABLE part_two (id INTEGER PRIMARY KEY);
INSERT INTO no_such_table VALUES (1);
CREATE TABLE part_four (id INTEGER PRIMARY KEY);
"""
DROP_PARTS = "DROP TABLE IF EXISTS part_four;\nDROP TABLE IF EXISTS part_two;\n" \
    "DROP TABLE IF EXISTS part_one;"


def table_migration(project, version: str, table: str, deps: list[str] | None = None) -> None:
    project.write_migration(
        f"{version}_create_{table}",
        f"CREATE TABLE {table} (id INTEGER PRIMARY KEY, note VARCHAR(100));",
        f"DROP TABLE {table};",
        {"dependencies": deps or []},
    )


def status(project) -> dict:
    code, out, err = project.run("status", "--json")
    assert code == 0, err
    return json.loads(out)


# -- the example --------------------------------------------------------------------------------


def test_example_applies_and_rolls_back_by_down(dialect: DialectTarget, tmp_path: Path) -> None:
    project = dialect.project(tmp_path / "p", example=True)
    code, out, err = project.run("up")
    assert code == 0, err
    assert "database is at version 005" in out
    assert dialect.tables() == BOOKKEEPING | EXAMPLE_TABLES
    assert dialect.current_version() == "005"
    st = status(project)
    assert st["applied"] == sorted(p.stem for p in dialect.example.glob("*.sql"))
    assert st["pending"] == [] and st["failed"] == [] and st["drift"] == []
    # The constraints are real on every dialect.
    dialect.execute(
        "INSERT INTO users (user_id, email, password_hash) VALUES ('u1', 'a@b.io', 'x')"
    )
    for bad in (
        "INSERT INTO users (user_id, email, password_hash) VALUES ('u2', 'not-an-email', 'x')",
        "INSERT INTO portfolio (user_id, symbol) VALUES (999, 'ACME')",
    ):
        try:
            dialect.execute(bad)
        except Exception:
            pass
        else:
            raise AssertionError(f"accepted: {bad}")
    code, _, err = project.run("check")
    assert code == 0, err

    code, out, err = project.run("down", "--all")
    assert code == 0, err
    assert dialect.tables() == BOOKKEEPING
    assert dialect.current_version() == ""
    assert status(project)["applied"] == []
    rows = dialect.executions()
    assert [r["operation"] for r in rows] == ["apply"] * 5 + ["rollback"] * 5
    assert {r["status"] for r in rows[:5]} == {"ROLLED_BACK"}
    assert {r["status"] for r in rows[5:]} == {"COMPLETED"}
    # And again: nothing was left behind that would stop a second round.
    code, _, err = project.run("up")
    assert code == 0, err
    assert dialect.user_tables() == EXAMPLE_TABLES


# -- failures -----------------------------------------------------------------------------------


def test_failure_mid_migration(dialect: DialectTarget, tmp_path: Path) -> None:
    project = dialect.project(tmp_path / "p")
    table_migration(project, "001", "early")
    project.write_migration("002_halfway", FOUR_STATEMENTS, DROP_PARTS)
    table_migration(project, "003", "late")
    code, out, err = project.run("up")
    assert code == 1
    assert "Traceback" not in err
    assert "002_halfway" in err and "no_such_table" in err
    assert "002_halfway.sql:" in err  # the failing statement's file and line
    [failed] = dialect.executions("002_halfway")
    assert failed["status"] == "FAILED" and "no_such_table" in failed["error_message"]
    assert dialect.executions("003_create_late") == []
    assert dialect.current_version() == "001"
    st = status(project)
    assert st["failed"] == ["002_halfway"]
    assert st["pending"] == ["002_halfway", "003_create_late"]
    if dialect.transactional_ddl:
        # Rolled back with its transaction: nothing of it is left.
        assert dialect.user_tables() == {"early"}
        assert failed["statements_committed"] == 0
        assert st["needs_attention"] == []
    else:
        # MySQL committed each CREATE TABLE as it ran; without a backup to restore, mig says
        # so and leaves the repair to a person.
        assert dialect.user_tables() == {"early", "part_one", "part_two"}
        assert failed["statements_committed"] == 2
        assert [e["migration_id"] for e in st["needs_attention"]] == ["002_halfway"]
        assert "2 statement(s) had committed" in err
        code, out, _ = project.run("check")
        assert code == 4 and "002_halfway" in out
    # Fixed, it applies on the next run (IF EXISTS-free DDL would fail on MySQL's leftovers,
    # so the fixed file drops them first).
    project.write_migration(
        "002_halfway", DROP_PARTS + "\n" + FOUR_STATEMENTS.replace("no_such_table", "part_one"),
        DROP_PARTS,
    )
    code, _, err = project.run("up")
    assert code == 0, err
    assert dialect.user_tables() == {"early", "part_one", "part_two", "part_four", "late"}
    st = status(project)
    assert st["failed"] == [] and st["needs_attention"] == []


def test_atomic_run(dialect: DialectTarget, tmp_path: Path) -> None:
    project = dialect.project(tmp_path / "p")
    table_migration(project, "001", "a")
    table_migration(project, "002", "b")
    project.write_migration("003_bad", "CREATE TABLE c (id INTEGER);\nSELECT nope FROM b;",
                            "DROP TABLE c;")
    code, _, err = project.run("up", "--atomic")
    if not dialect.transactional_ddl:
        # MySQL cannot roll DDL back, so an all-or-nothing run is refused before anything runs.
        assert code == 2
        assert "--atomic needs transactional DDL" in err and "Traceback" not in err
        assert dialect.user_tables() == set()
        assert dialect.executions() == []
        return
    assert code == 1
    assert "003_bad" in err and "nope" in err
    assert dialect.user_tables() == set()
    assert {r["migration_id"]: r["status"] for r in dialect.executions()} == {
        "001_create_a": "ROLLED_BACK", "002_create_b": "ROLLED_BACK", "003_bad": "FAILED",
    }
    assert dialect.current_version() == ""
    project.write_migration("003_bad", "CREATE TABLE c (id INTEGER);\nSELECT id FROM b;",
                            "DROP TABLE c;")
    code, out, err = project.run("up", "--atomic")
    assert code == 0, err
    assert dialect.user_tables() == {"a", "b", "c"}
    assert "version 003" in out


# -- the lock -----------------------------------------------------------------------------------


def test_racing_processes_apply_each_migration_once(
    dialect: DialectTarget, tmp_path: Path
) -> None:
    project = dialect.project(tmp_path / "p", lock_timeout=30)
    for i in range(1, 9):
        table_migration(project, f"{i:03d}", f"t{i}")
    # Both start while a third process holds the lock, so both really wait for it.
    holder = dialect.hold_lock(project)
    racers = [project.popen("up") for _ in range(2)]
    dialect.release_lock(holder)
    results = [(p.wait(timeout=60), *p.communicate()) for p in racers]
    for code, _, err in results:
        assert code == 0, err
    outs = sorted(out for _, out, _ in results)
    assert outs[0].startswith("applied") or outs[1].startswith("applied")
    assert any("nothing to do" in out for out in outs)
    rows = dialect.executions()
    assert sorted(r["migration_id"] for r in rows) == [f"{i:03d}_create_t{i}" for i in range(1, 9)]
    assert {r["status"] for r in rows} == {"COMPLETED"}


def test_lock_timeout_exits_3_and_changes_nothing(dialect: DialectTarget, tmp_path: Path) -> None:
    project = dialect.project(tmp_path / "p", lock_timeout=0.5)
    table_migration(project, "001", "a")
    holder = dialect.hold_lock(project)
    try:
        code, _, err = project.run("up")
    finally:
        dialect.release_lock(holder)
    assert code == 3
    assert "is locked by another mig process" in err and "gave up after 0.5s" in err
    assert dialect.user_tables() == set()
    # Read-only commands never take the lock (on a database that exists: status says
    # so and exits 2 on one that does not).
    dialect.execute("CREATE TABLE outside (id INTEGER)")
    holder = dialect.hold_lock(project)
    try:
        code, _, err = project.run("status")
        assert code == 0, err
    finally:
        dialect.release_lock(holder)
    code, _, err = project.run("up")
    assert code == 0, err


def test_lock_of_a_killed_process_is_free(dialect: DialectTarget, tmp_path: Path) -> None:
    project = dialect.project(tmp_path / "p", lock_timeout=5)
    table_migration(project, "001", "a")
    holder = dialect.hold_lock(project)
    holder.send_signal(signal.SIGKILL)
    holder.wait(timeout=10)
    code, _, err = project.run("up")
    assert code == 0, err
    assert dialect.user_tables() == {"a"}


# -- checks, drift, history ---------------------------------------------------------------------

#: SQL run outside mig that leaves a portfolio row whose user does not exist, by the means
#: each dialect offers.
ORPHAN = {
    "sqlite": [  # foreign keys are enforced per connection
        "PRAGMA foreign_keys = OFF",
        "INSERT INTO portfolio (user_id, symbol) VALUES (999, 'ACME')",
    ],
    "postgres": [  # a key added NOT VALID skips the rows already there
        "ALTER TABLE portfolio DROP CONSTRAINT portfolio_user_id_fkey",
        "INSERT INTO portfolio (user_id, symbol) VALUES (999, 'ACME')",
        "ALTER TABLE portfolio ADD CONSTRAINT portfolio_user_id_fkey"
        " FOREIGN KEY (user_id) REFERENCES users(id) ON DELETE CASCADE NOT VALID",
    ],
    "mysql": [  # foreign_key_checks = 0 lets anything in
        "SET foreign_key_checks = 0",
        "INSERT INTO portfolio (user_id, symbol) VALUES (999, 'ACME')",
    ],
}


def test_check_finds_a_foreign_key_violation(dialect: DialectTarget, tmp_path: Path) -> None:
    project = dialect.project(tmp_path / "p", example=True)
    assert project.run("up").code == 0
    dialect.execute(*ORPHAN[dialect.name])
    code, out, err = project.run("check", "--json")
    assert code == 4, err
    report = json.loads(out)
    assert report["ok"] is False
    [problem] = [p for p in report["problems"] if p["check"].endswith("foreign_key")]
    assert problem["check"] == f"{dialect.name}.foreign_key"
    assert "portfolio" in problem["message"] and "users" in problem["message"]
    dialect.execute("DELETE FROM portfolio WHERE user_id = 999")
    if dialect.name == "postgres":
        dialect.execute("ALTER TABLE portfolio VALIDATE CONSTRAINT portfolio_user_id_fkey")
    code, out, err = project.run("check")
    assert code == 0, out + err


def test_drift_is_reported_and_blocks_up(dialect: DialectTarget, tmp_path: Path) -> None:
    project = dialect.project(tmp_path / "p")
    table_migration(project, "001", "a")
    assert project.run("up").code == 0
    path = project.migrations_dir / "001_create_a.sql"
    path.write_text(path.read_text().replace("note VARCHAR(100)", "note VARCHAR(200)"))
    table_migration(project, "002", "b")
    st = status(project)
    assert st["drift"] == ["001_create_a"]
    code, out, _ = project.run("check")
    assert code == 4 and "001_create_a" in out
    code, _, err = project.run("up")
    assert code == 4 and "001_create_a" in err
    assert dialect.user_tables() == {"a"}
    code, _, err = project.run("up", "--allow-drift")
    assert code == 0, err
    assert dialect.user_tables() == {"a", "b"}


def test_history_json(dialect: DialectTarget, tmp_path: Path) -> None:
    project = dialect.project(tmp_path / "p", example=True)
    before = _dt.datetime.now(_dt.UTC)
    assert project.run("up").code == 0
    assert project.run("down", "--steps", "2").code == 0
    code, out, err = project.run("history", "--json")
    assert code == 0, err
    history = json.loads(out)
    assert [(h["operation"], h["status"], h["migration_id"]) for h in history] == [
        ("rollback", "COMPLETED", "004_create_trades_table"),
        ("rollback", "COMPLETED", "005_add_user_preferences"),
        ("apply", "ROLLED_BACK", "005_add_user_preferences"),
        ("apply", "ROLLED_BACK", "004_create_trades_table"),
        ("apply", "COMPLETED", "003_create_orders_table"),
        ("apply", "COMPLETED", "002_create_portfolio_table"),
        ("apply", "COMPLETED", "001_create_users_table"),
    ]
    for h in history:
        started = _dt.datetime.fromisoformat(h["started_at"])
        completed = _dt.datetime.fromisoformat(h["completed_at"])
        assert started.utcoffset() == _dt.timedelta(0)
        assert before - _dt.timedelta(seconds=1) <= started <= completed
        assert isinstance(h["execution_time"], float) and h["execution_time"] >= 0
        assert isinstance(h["rollback_available"], bool)
        assert len(h["checksum"]) == 64
    applies = [h for h in history if h["operation"] == "apply"]
    assert len({h["run_id"] for h in applies}) == 1
    rollbacks = {h["execution_id"] for h in history if h["operation"] == "rollback"}
    assert {h["rolled_back_by"] for h in applies if h["status"] == "ROLLED_BACK"} == rollbacks
    code, out, _ = project.run("history", "--json", "--limit", "3")
    assert [h["execution_id"] for h in json.loads(out)] == [h["execution_id"] for h in history[:3]]
    assert status(project)["current_version"] == "003"


def test_read_only_commands_on_a_missing_database_create_nothing(
    dialect: DialectTarget, tmp_path: Path
) -> None:
    project = dialect.project(tmp_path / "p")
    table_migration(project, "001", "a")
    dialect.drop()
    assert not dialect.exists()
    # The state of a database that is not there is not "everything pending": they say so.
    for command in (["status"], ["history"], ["plan"]):
        code, out, err = project.run(*command)
        assert code == 2 and out == "" and "does not exist" in err, (command, err)
    for command in (["check"], ["up", "--dry-run"], ["down", "--dry-run"]):
        code, _, err = project.run(*command)
        assert code == 0, (command, err)
    assert not dialect.exists()


# -- the bookkeeping tables through the core ----------------------------------------------------


def test_ledger_transitions(dialect: DialectTarget, tmp_path: Path) -> None:
    """The ledger's transitions round-trip every column on each dialect's column types."""
    from mig import MigrationEngine
    from mig.ledger import Ledger, RestoreCause, apply_record, now, undo_record
    from mig.models import BackupInfo, BackupType, MigrationStatus

    project = dialect.project(tmp_path / "p")
    table_migration(project, "001", "a")
    engine = MigrationEngine.from_config(project.config_path)
    [migration] = engine.migrations()
    db = engine.dialect
    db.connect()
    try:
        ledger = Ledger(db, "mig_")
        ledger.ensure()
        assert dialect.tables() == BOOKKEEPING
        running = apply_record(migration, "run1")
        db.begin()
        ledger.started(running)
        db.commit()
        assert ledger.failed() == [running] and ledger.attention() == [running]
        running.completed_at, running.execution_time = now(), 0.125
        running.statements_committed = 1
        db.begin()
        ledger.applied(running, migration)
        db.commit()
        ledger.forget()
        assert ledger.in_effect() == [running] and ledger.attention() == []
        assert ledger.get_execution(running.execution_id[:6]) == running  # a unique prefix
        assert ledger.current_version() == "001"
        stored = ledger.stored_migration(migration.id, project.migrations_dir)
        assert stored is not None
        assert (stored.up_sql, stored.down_sql, stored.checksum) == (
            migration.up_sql, migration.down_sql, migration.checksum
        )
        backup = BackupInfo(
            backup_id="b1", backup_path="/backups/b1", backup_type=BackupType.FULL_DATABASE,
            database_path=db.display_url(), created_at=now(), size_bytes=5 * 2**32,
            checksum="f" * 64, migration_id=migration.id,
        )
        db.begin()
        ledger.backup_recorded(backup, manifest='{"m": "100%"}')
        db.commit()
        assert ledger.backups() == [backup]
        rows = ledger.rows()
        undo = undo_record(running, "down", "run2")
        db.begin()
        ledger.rolled_back(running, undo)
        ledger.backup_forgotten("b1")
        db.commit()
        assert ledger.in_effect() == [] and ledger.current_version() is None
        # A restore of a backup taken while 001 was in effect puts the original row back.
        restore = apply_record(migration, "run3")
        restore.operation = restore.operation.RESTORE
        db.begin()
        ledger.restored(restore, {running.execution_id}, rows, RestoreCause())
        db.commit()
        ledger.forget()
        [back] = ledger.in_effect()
        assert back.execution_id == running.execution_id and back.seq == running.seq
        assert back.status is MigrationStatus.COMPLETED and ledger.current_version() == "001"
        assert ledger.backups() == [backup]
        assert ledger.executions(1)[0].execution_id == restore.execution_id
    finally:
        engine.close()
