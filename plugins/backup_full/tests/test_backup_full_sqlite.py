"""Full backups of SQLite databases: real files, the real engine and the CLI in subprocesses."""

from __future__ import annotations

import json
import os
import random
import signal
import sqlite3
import stat
import subprocess
import sys
import time
from pathlib import Path
from types import SimpleNamespace

import pytest
from mig import BackupError, MigrationEngine
from mig.protocols import Dialect
from mig.testing import Project
from mig_backup_full.plugin import FullBackup

HERE = Path(__file__).resolve()


# -- helpers ------------------------------------------------------------------------------------


def dump(db: Path) -> dict[str, list[tuple]]:
    """Every table's rows (with rowid and typeof) and the schema, for exact comparison."""
    conn = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
    try:
        out: dict[str, list[tuple]] = {
            "schema": conn.execute(
                "SELECT type, name, sql FROM sqlite_master ORDER BY type, name").fetchall()
        }
        for (name,) in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'"):
            cols = [r[1] for r in conn.execute(f'PRAGMA table_info("{name}")')]
            typed = ", ".join(f'"{c}", typeof("{c}")' for c in cols)
            sql = f'SELECT rowid, {typed} FROM "{name}" ORDER BY rowid'
            out[name] = conn.execute(sql).fetchall()
        return out
    finally:
        conn.close()


def user_rows(db: Path) -> dict[str, list[tuple]]:
    return {k: v for k, v in dump(db).items() if k != "schema" and not k.startswith("mig_")}


def integrity(db: Path) -> str:
    conn = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
    try:
        return conn.execute("PRAGMA integrity_check").fetchone()[0]
    finally:
        conn.close()


def history(project: Project) -> list[dict]:
    return json.loads(project.ok("history", "--json"))


def backups(project: Project) -> list[dict]:
    return json.loads(project.ok("backup", "list", "--json"))


def seed(project: Project, users: int = 3) -> None:
    conn = sqlite3.connect(project.db_path)
    with conn:
        conn.executemany(
            "INSERT INTO users (user_id, email, password_hash, balance) VALUES (?, ?, ?, ?)",
            [(f"u{i}", f"user{i}@example.com", os.urandom(8).hex(), i * 10.5)
             for i in range(users)],
        )
    conn.close()


@pytest.fixture
def project(example_project: Project) -> Project:
    example_project.write_config(backup="full")
    return example_project


def corrupt(path: Path, how: str) -> None:
    data = bytearray(path.read_bytes())
    if how == "flip":
        data[len(data) // 2] ^= 0x01
    else:
        data = data[: len(data) // 2]
    os.chmod(path, 0o600)
    path.write_bytes(bytes(data))


# -- round trips --------------------------------------------------------------------------------


def test_round_trip_restores_every_row_and_keeps_the_history(project):
    project.migrate("003", only=True)
    seed(project, 50)
    saved = user_rows(project.db_path)
    backup_id = project.ok("backup", "create").strip()
    assert backup_id.endswith("-full")
    before = {e["execution_id"] for e in history(project)}
    # Change everything: rows, a migration, a table outside mig.
    conn = sqlite3.connect(project.db_path)
    with conn:
        conn.execute("UPDATE users SET balance = balance + 1")
        conn.execute("DELETE FROM users WHERE id % 3 = 0")
        conn.execute("CREATE TABLE scratch (x)")
    conn.close()
    assert project.run("up").code == 0
    made_after = {e["execution_id"] for e in history(project)} - before
    code, out, err = project.run("backup", "restore", backup_id, "--yes")
    assert code == 0, err
    assert "database is at version 003" in out
    assert user_rows(project.db_path) == saved
    assert integrity(project.db_path) == "ok"
    rows = history(project)
    ids = {e["execution_id"] for e in rows}
    assert before | made_after <= ids  # nothing lost
    restore = rows[0]
    assert restore["operation"] == "restore" and restore["status"] == "COMPLETED"
    assert restore["backup_id"] == backup_id and restore["method"] == "full"
    undone = [e for e in rows if e["execution_id"] in made_after and e["operation"] == "apply"]
    later = ["002_create_portfolio_table", "004_create_trades_table", "005_add_user_preferences"]
    assert sorted(e["migration_id"] for e in undone) == later
    assert all(e["status"] == "ROLLED_BACK" for e in undone)
    status = json.loads(project.ok("status", "--json"))
    assert status["current_version"] == "003"
    assert status["pending"] == later
    catalogue = {r[0] for r in project.query("SELECT backup_id FROM mig_backup_info")}
    assert catalogue == {b["backup_id"] for b in backups(project)}
    # The undone migrations apply again.
    assert project.run("up").code == 0
    assert json.loads(project.ok("status", "--json"))["pending"] == []


def test_files_and_folders_are_owner_only(project):
    old = os.umask(0)
    try:
        project.migrate()
    finally:
        os.umask(old)
    root = project.path / "backups"
    assert stat.S_IMODE(root.stat().st_mode) == 0o700
    paths = list(root.rglob("*"))
    assert any(p.name == "data" for p in paths) and any(p.name == "manifest.json" for p in paths)
    for path in paths:
        expected = 0o700 if path.is_dir() else 0o600
        assert stat.S_IMODE(path.stat().st_mode) == expected, path


def test_up_on_the_example_records_each_backup(project):
    code, _, err = project.run("up")
    assert code == 0, err
    listed = {b["backup_id"]: b for b in backups(project)}
    applies = [e for e in history(project) if e["operation"] == "apply"]
    assert len(applies) == 5
    for e in applies:
        assert e["backup_id"] in listed
        assert listed[e["backup_id"]]["migration_id"] == e["migration_id"]
        assert listed[e["backup_id"]]["backup_type"] == "full"
    assert project.run("backup", "verify").code == 0


def test_down_by_restore(project):
    project.migrate()
    seed(project)
    code, out, err = project.run("down", "--steps", "2", "--method", "restore", "--yes")
    assert code == 0, err
    assert project.applied() == ["001_create_users_table", "002_create_portfolio_table",
                                 "003_create_orders_table"]
    assert "trades" not in project.tables() and "user_preferences" not in project.tables()
    ops = [(e["operation"], e["migration_id"], e["status"]) for e in history(project)]
    assert ("restore", "004_create_trades_table", "COMPLETED") in ops
    assert ("rollback", "004_create_trades_table", "COMPLETED") in ops
    assert ("rollback", "005_add_user_preferences", "COMPLETED") in ops
    # The users seeded after 004's backup went back with it.
    assert project.query("SELECT count(*) FROM users") == [(0,)]


def test_a_failing_non_transactional_migration_is_restored_from_its_backup(mig_project):
    mig_project.write_config(backup="full")
    mig_project.table_migration("001", "kept")
    mig_project.write_migration(
        "002_breaks_halfway",
        "CREATE TABLE half (id INTEGER PRIMARY KEY);\nINSERT INTO no_such_table VALUES (1);",
        "DROP TABLE half;",
        {"transactional": False},
    )
    code, _, err = mig_project.run("up")
    assert code == 1
    assert "no such table: no_such_table" in err
    assert "half" not in mig_project.tables()
    assert "kept" in mig_project.tables()
    failed = mig_project.executions("002_breaks_halfway")
    apply = [e for e in failed if e["operation"] == "apply"]
    assert len(apply) == 1 and apply[0]["status"] == "FAILED"
    assert f"(restored from backup {apply[0]['backup_id']})" in apply[0]["error_message"]
    assert any(e["operation"] == "restore" for e in failed)
    assert integrity(mig_project.db_path) == "ok"
    status = json.loads(mig_project.ok("status", "--json"))
    assert status["needs_attention"] == [] and status["applied"] == ["001_create_kept"]


def test_prune_never_removes_the_backup_of_an_applied_irreversible_migration(mig_project):
    mig_project.write_config(backup="full")
    mig_project.table_migration("001", "a")
    mig_project.write_migration("002_one_way", "CREATE TABLE b (id INTEGER);", "",
                                {"reversible": False})
    mig_project.table_migration("003", "c")
    mig_project.migrate()
    listed = backups(mig_project)
    assert len(listed) == 3
    one_way = next(b["backup_id"] for b in listed if b["migration_id"] == "002_one_way")
    newest = listed[-1]["backup_id"]
    code, out, _ = mig_project.run("backup", "prune", "--keep-count", "1", "--keep-days", "0")
    assert code == 0 and "removed 1 backup(s)" in out
    assert [b["backup_id"] for b in backups(mig_project)] == [one_way, newest]
    assert {r[0] for r in mig_project.query("SELECT backup_id FROM mig_backup_info")} == {
        one_way, newest}
    assert not (mig_project.path / "backups" / listed[0]["backup_id"]).exists()


# -- damaged backups ----------------------------------------------------------------------------


@pytest.mark.parametrize("how", ["flip", "truncate"])
def test_a_damaged_backup_is_refused_and_the_database_is_unchanged(project, how):
    project.migrate("002")
    seed(project)
    backup_id = project.ok("backup", "create").strip()
    project.migrate()
    corrupt(project.path / "backups" / backup_id / "data", how)
    before = project.db_path.read_bytes()
    code, _, err = project.run("backup", "verify", backup_id)
    assert code == 1 and backup_id in err
    assert ("truncated" in err) if how == "truncate" else ("SHA-256" in err)
    code, _, err = project.run("backup", "restore", backup_id, "--yes")
    assert code == 1 and "damaged" in err and "Traceback" not in err
    assert project.db_path.read_bytes() == before
    assert project.run("backup", "verify").code == 1


def test_a_manifest_that_no_longer_matches_its_file_is_refused(project):
    project.migrate("002")
    backup_id = project.ok("backup", "create").strip()
    project.migrate()
    manifest_path = project.path / "backups" / backup_id / "manifest.json"
    manifest = json.loads(manifest_path.read_text())
    manifest["parts"]["data"]["sha256"] = "0" * 64
    manifest["checksum"] = "0" * 64
    manifest_path.write_text(json.dumps(manifest))
    before = project.db_path.read_bytes()
    code, _, err = project.run("backup", "verify", backup_id)
    assert code == 1 and "SHA-256" in err
    code, _, err = project.run("backup", "restore", backup_id, "--yes")
    assert code == 1 and project.db_path.read_bytes() == before
    # A manifest edited to disagree with itself is refused too.
    manifest["checksum"] = "1" * 64
    manifest_path.write_text(json.dumps(manifest))
    code, _, err = project.run("backup", "restore", backup_id, "--yes")
    assert code == 1 and "does not match" in err
    assert project.db_path.read_bytes() == before


# -- a lost database ----------------------------------------------------------------------------


def test_list_works_without_the_database_and_restore_recreates_it(project):
    project.migrate("003")
    seed(project, 10)
    saved = user_rows(project.db_path)
    backup_id = project.ok("backup", "create").strip()
    for suffix in ("", "-wal", "-shm", "-journal"):
        Path(f"{project.db_path}{suffix}").unlink(missing_ok=True)
    listed = backups(project)
    assert backup_id in {b["backup_id"] for b in listed}
    assert not project.db_path.exists()  # listing did not create it
    assert project.run("backup", "verify", backup_id).code == 0
    code, _, err = project.run("backup", "restore", backup_id, "--yes")
    assert code == 0, err
    assert user_rows(project.db_path) == saved
    status = json.loads(project.ok("status", "--json"))
    assert status["current_version"] == "003"
    assert history(project)[0]["operation"] == "restore"
    # The catalogue in the restored copy predates the backup; it is completed from storage.
    catalogue = {r[0] for r in project.query("SELECT backup_id FROM mig_backup_info")}
    assert catalogue == {b["backup_id"] for b in backups(project)}


# -- interrupted restores -----------------------------------------------------------------------


def _fill(db: Path, megabytes: int) -> None:
    conn = sqlite3.connect(db)
    with conn:
        conn.execute("CREATE TABLE bulk (id INTEGER PRIMARY KEY, payload BLOB)")
        conn.execute(
            "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < ?)"
            " INSERT INTO bulk (payload) SELECT randomblob(4000) FROM n",
            (megabytes * 256,),
        )
        conn.execute("CREATE TABLE marker (state TEXT)")
        conn.execute("INSERT INTO marker VALUES ('backed-up')")
    conn.close()


def _marker(db: Path) -> str:
    conn = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
    try:
        return conn.execute("SELECT state FROM marker").fetchone()[0]
    finally:
        conn.close()


@pytest.mark.slow
def test_a_restore_killed_at_any_moment_leaves_the_old_or_the_restored_database(mig_project):
    project = mig_project
    project.write_config(backup="full")
    project.table_migration("001", "first")
    project.table_migration("002", "second")
    project.migrate("001")
    _fill(project.db_path, 80)
    backup_id = project.ok("backup", "create").strip()
    conn = sqlite3.connect(project.db_path)
    with conn:
        conn.execute("UPDATE marker SET state = 'changed'")
    conn.close()
    project.migrate()
    old_ids = {e["execution_id"] for e in history(project)}
    pristine = project.path / "pristine.db"
    pristine.write_bytes(project.db_path.read_bytes())

    started = time.perf_counter()
    project.ok("backup", "restore", backup_id, "--yes")
    full_run = time.perf_counter() - started
    assert _marker(project.db_path) == "backed-up"

    rnd = random.Random(20261126)
    outcomes = []
    for _ in range(8):
        project.db_path.write_bytes(pristine.read_bytes())
        proc = project.popen("backup", "restore", backup_id, "--yes")
        time.sleep(rnd.uniform(0.0, full_run))
        proc.send_signal(signal.SIGKILL)
        proc.communicate()
        assert integrity(project.db_path) == "ok"
        rows = history(project)
        ids = {e["execution_id"] for e in rows}
        assert old_ids <= ids  # the history is whole either way
        state = _marker(project.db_path)
        restores = [e for e in rows if e["operation"] == "restore"]
        if state == "changed":  # the old database, with the old history
            assert not restores and ids == old_ids
            assert "second" in project.tables()
        else:  # the restored one, with the whole history and the restore recorded
            assert state == "backed-up" and len(restores) == 1
            assert "second" not in project.tables()
            assert project.applied() == ["001_create_first"]
        outcomes.append(state)
    # Leftovers of killed restores are cleared by the next one, which succeeds.
    project.db_path.write_bytes(pristine.read_bytes())
    project.ok("backup", "restore", backup_id, "--yes")
    assert _marker(project.db_path) == "backed-up"
    assert [p.name for p in project.path.iterdir() if ".mig-restore-" in p.name] == []
    print("outcomes:", outcomes, f"(a full restore took {full_run:.2f}s)")


# -- WAL mode and concurrency -------------------------------------------------------------------


WRITER = """
import os, random, sqlite3, sys, time
conn = sqlite3.connect(sys.argv[1], isolation_level=None, timeout=30)
rnd = random.Random()
while True:
    conn.execute("BEGIN IMMEDIATE")
    for _ in range(20):
        a, b, x = rnd.randrange(2000), rnd.randrange(2000), rnd.randrange(10)
        conn.execute("UPDATE acct SET bal = bal - ?, pad = randomblob(200) WHERE id = ?", (x, a))
        conn.execute("UPDATE acct SET bal = bal + ? WHERE id = ?", (x, b))
    conn.execute("INSERT INTO acct (bal, pad) VALUES (0, randomblob(1000))")
    conn.execute("COMMIT")
    time.sleep(0.001)  # a busy application, not one that never lets go of the lock
"""


@pytest.mark.slow
@pytest.mark.parametrize("journal", ["delete", "wal"])
def test_backups_taken_while_another_process_writes_are_consistent(tmp_path, journal):
    db = tmp_path / "app.db"
    conn = sqlite3.connect(db, isolation_level=None)
    conn.execute(f"PRAGMA journal_mode = {journal}")
    conn.execute("CREATE TABLE acct (id INTEGER PRIMARY KEY, bal INTEGER, pad BLOB)")
    conn.execute("BEGIN")
    conn.executemany("INSERT INTO acct (id, bal, pad) VALUES (?, 100, randomblob(200))",
                     [(i,) for i in range(2000)])
    conn.execute("COMMIT")
    conn.close()
    (tmp_path / "migrations").mkdir()
    engine = MigrationEngine(database_path=db, migrations_dir=tmp_path / "migrations",
                             backups_dir=tmp_path / "backups", backup="full")
    writer = subprocess.Popen([sys.executable, "-c", WRITER, str(db)])
    try:
        time.sleep(0.2)
        methods = []
        for _ in range(8):
            info = engine.create_backup("full")
            methods.append(engine.backups().get(info.backup_id).info.extra["sqlite"]["method"])
            copy = sqlite3.connect(f"file:{info.backup_path}?mode=ro", uri=True)
            try:
                assert copy.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
                assert copy.execute("SELECT sum(bal) FROM acct").fetchone()[0] == 200_000
            finally:
                copy.close()
    finally:
        writer.kill()
        writer.wait()
        engine.close()
    assert "copy" in methods or journal == "wal"


def test_a_wal_database_restores_and_stays_in_wal_mode(project):
    project.migrate("002")
    conn = sqlite3.connect(project.db_path)
    conn.execute("PRAGMA journal_mode = WAL")
    conn.close()
    seed(project, 5)
    saved = user_rows(project.db_path)
    backup_id = project.ok("backup", "create").strip()
    manifest = project.engine().backups().get(backup_id)
    assert manifest.info.extra["sqlite"] == {"journal_mode": "wal", "method": "copy"}
    conn = sqlite3.connect(project.db_path)
    with conn:
        conn.execute("DELETE FROM users")
    conn.close()
    project.migrate()
    code, _, err = project.run("backup", "restore", backup_id, "--yes")
    assert code == 0, err
    assert user_rows(project.db_path) == saved
    assert project.query("PRAGMA journal_mode") == [("wal",)]
    assert integrity(project.db_path) == "ok"
    assert history(project)[0]["operation"] == "restore"


def test_the_restored_file_keeps_the_permissions_and_owner_of_the_database(project):
    project.migrate("001")
    backup_id = project.ok("backup", "create").strip()
    os.chmod(project.db_path, 0o640)
    if os.geteuid() == 0:
        os.chown(project.db_path, 65534, 65534)
    assert project.run("backup", "restore", backup_id, "--yes").code == 0
    st = project.db_path.stat()
    assert stat.S_IMODE(st.st_mode) == 0o640
    if os.geteuid() == 0:
        assert (st.st_uid, st.st_gid) == (65534, 65534)


def test_a_symlinked_database_is_restored_behind_its_link(project):
    real = project.path / "data" / "real.db"
    real.parent.mkdir()
    project.db_path.symlink_to(real)
    project.migrate("001")
    seed(project, 3)
    saved = user_rows(real)
    backup_id = project.ok("backup", "create").strip()
    project.migrate()
    code, _, err = project.run("backup", "restore", backup_id, "--yes")
    assert code == 0, err
    assert project.db_path.is_symlink() and project.db_path.resolve() == real
    assert user_rows(real) == saved
    assert "portfolio" not in project.tables()


# -- other databases ----------------------------------------------------------------------------


def test_an_in_memory_database_is_backed_up_but_not_restored(tmp_path):
    (tmp_path / "migrations").mkdir()
    engine = MigrationEngine(database="sqlite:///:memory:", migrations_dir=tmp_path / "migrations",
                             backups_dir=tmp_path / "backups")
    engine.up()
    engine.dialect.execute("CREATE TABLE t (x)")
    engine.dialect.execute("INSERT INTO t VALUES (42)")
    info = engine.create_backup("full")
    copy = sqlite3.connect(info.backup_path)
    assert copy.execute("SELECT x FROM t").fetchall() == [(42,)]
    copy.close()
    with pytest.raises(BackupError, match="in-memory"):
        engine.restore_backup(info.backup_id, confirm=True)
    assert engine.dialect.query("SELECT x FROM t") == [(42,)]


class Oracle(Dialect):
    """A dialect that offers no backups (the protocol's default ``backup_handler``)."""

    name = "oracle"


def test_other_dialects_are_refused_clearly(tmp_path):
    ctx = SimpleNamespace(dialect=Oracle("oracle://x", base_dir=tmp_path, options={}))
    job = SimpleNamespace(workdir=tmp_path, extra={})
    with pytest.raises(BackupError, match="^full backups of oracle databases are not supported"
                       " [(]the oracle dialect offers no full backups[)]$"):
        FullBackup().create(ctx, job)  # type: ignore[arg-type]
    with pytest.raises(BackupError, match="not supported"):
        FullBackup().restore(ctx, job)  # type: ignore[arg-type]
    assert not FullBackup().calls_finish(ctx.dialect)
