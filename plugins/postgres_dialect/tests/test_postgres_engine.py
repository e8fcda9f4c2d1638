"""mig itself on PostgreSQL: the CLI and the Python API over real migrations."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
from pathlib import Path

from mig import MigrationEngine, MigrationStatus
from mig.testing import Project
from postgres_server import url_of

CONFIG = """\
[mig]
database = "{url}"
migrations_dir = "migrations"
backup = "none"
lock_timeout = 10
"""


def project_for(root: Path, url: str) -> Project:
    project = Project(root)
    project.write_config(CONFIG.format(url=url))
    return project


def test_a_migration_that_moves_the_search_path(pg_url: str, tmp_path: Path) -> None:
    # pg_dump's files empty the search_path; mig's own tables must still be found after them,
    # and the next migration's unqualified names resolve as before.
    project = project_for(tmp_path / "p", pg_url)
    project.write_migration(
        "001_dump",
        "SELECT pg_catalog.set_config('search_path', '', false);\n"
        "CREATE TABLE public.dumped (x INTEGER);",
        "SET search_path TO pg_catalog;\nDROP TABLE public.dumped;",
    )
    project.write_migration("002_unqualified", "INSERT INTO dumped VALUES (1);",
                            "DELETE FROM dumped;")
    project.write_migration(
        "003_outside", "SET search_path = '';\nCREATE TABLE public.other (y INTEGER);",
        "DROP TABLE public.other;", {"transactional": "false"},
    )
    code, _, err = project.run("up")
    assert code == 0, err
    code, _, err = project.run("down", "--all")
    assert code == 0, err
    engine = project.engine()
    engine.dialect.connect(readonly=True)
    assert not {"dumped", "other"} & set(engine.dialect.table_names())
    engine.close()


def test_a_migration_that_sets_a_role(pg_url: str, tmp_path: Path) -> None:
    # mig's bookkeeping is written as the role mig connected as, not one a migration took.
    import uuid

    role = f"mig_test_{uuid.uuid4().hex[:10]}"
    project = project_for(tmp_path / "p", pg_url)
    project.write_migration("001_as_role", f"SET ROLE {role};\nSELECT 1;", "SELECT 1;")
    engine = project.engine()
    engine.dialect.connect()
    engine.dialect.execute(f"CREATE ROLE {role} NOLOGIN")
    try:
        code, _, err = project.run("up")
        assert code == 0, err
        code, _, err = project.run("down")
        assert code == 0, err
    finally:
        engine.dialect.execute(f"DROP ROLE {role}")
        engine.close()


def test_dollar_quoted_bodies_and_begin_atomic(pg_url: str, tmp_path: Path) -> None:
    project = project_for(tmp_path / "p", pg_url)
    project.write_migration(
        "001_functions",
        """
CREATE TABLE t (x INTEGER, touched TIMESTAMPTZ);
CREATE FUNCTION touch() RETURNS trigger LANGUAGE plpgsql AS $body$
BEGIN
    NEW.touched := now();  -- a semicolon; and a 'quote'
    RETURN NEW;
END;
$body$;
CREATE TRIGGER t_touch BEFORE INSERT ON t FOR EACH ROW EXECUTE FUNCTION touch();
CREATE FUNCTION twice(i INTEGER) RETURNS INTEGER LANGUAGE sql
BEGIN ATOMIC
    SELECT i * 2;
END;
DO $$ BEGIN INSERT INTO t (x) VALUES (twice(21)); END $$;
""",
        "DROP TABLE t;\nDROP FUNCTION twice(INTEGER);\nDROP FUNCTION touch();",
    )
    code, _, err = project.run("up")
    assert code == 0, err
    engine = project.engine()
    engine.dialect.connect(readonly=True)
    assert engine.dialect.query("SELECT x, touched IS NOT NULL FROM t") == [(42, True)]
    engine.close()
    code, _, err = project.run("down")
    assert code == 0, err
    code, out, _ = project.run("check")
    assert code == 0, out


def test_concurrent_index_in_a_non_transactional_migration(pg_url: str, tmp_path: Path) -> None:
    project = project_for(tmp_path / "p", pg_url)
    project.write_migration(
        "001_table", "CREATE TABLE t (x INTEGER);\nINSERT INTO t VALUES (1), (1);", "DROP TABLE t;"
    )
    project.write_migration(
        "002_index", "CREATE INDEX CONCURRENTLY t_x ON t (x);", "DROP INDEX CONCURRENTLY t_x;",
        {"transactional": False, "dependencies": ["001_table"]},
    )
    code, _, err = project.run("up")
    assert code == 0, err
    code, _, err = project.run("down")
    assert code == 0, err
    # A unique index over duplicates fails halfway and leaves an INVALID index behind, which
    # `mig check` reports; the failure itself committed nothing that mig could count.
    project.write_migration(
        "002_index", "CREATE UNIQUE INDEX CONCURRENTLY t_x ON t (x);",
        "DROP INDEX CONCURRENTLY t_x;", {"transactional": False, "dependencies": ["001_table"]},
    )
    code, _, err = project.run("up", "--allow-drift")
    assert code == 1 and "could not create unique index" in err
    code, out, _ = project.run("check", "--json")
    assert code == 4
    problems = json.loads(out)["problems"]
    assert [p["check"] for p in problems] == ["postgres.invalid_index"]
    # PostgreSQL has transactional DDL, so --atomic refuses only the migration that opts out.
    code, _, err = project.run("up", "--atomic")
    assert code == 2 and "--atomic cannot include 002_index" in err


def test_schema_per_project_in_one_database(database: str, tmp_path: Path) -> None:
    apps = {}
    for name in ("alpha", "beta"):
        project = project_for(tmp_path / name, url_of(database, f"schema={name}"))
        project.write_migration(
            "001_t", f"CREATE TABLE t_{name} (x INTEGER);", f"DROP TABLE t_{name};"
        )
        apps[name] = project
    assert apps["alpha"].run("up").code == 0
    code, _, err = apps["beta"].run("status", "--json")  # its schema is not there yet
    assert code == 2 and "does not exist" in err
    assert apps["beta"].run("up").code == 0
    engine = MigrationEngine(database=url_of(database))
    engine.dialect.connect()
    rows = engine.dialect.query(
        "SELECT schemaname, tablename FROM pg_tables WHERE tablename LIKE %s ORDER BY 1, 2",
        ("%t_%",),
    )
    engine.close()
    assert ("alpha", "t_alpha") in rows and ("beta", "t_beta") in rows
    assert ("alpha", "mig_migration_executions") in rows
    assert not [r for r in rows if r[0] == "public"]


def test_python_api(pg_url: str, tmp_path: Path) -> None:
    folder = tmp_path / "migrations"
    folder.mkdir()
    (folder / "001_a.sql").write_text("-- @name: A\n-- UP\nCREATE TABLE a (x INTEGER);\n"
                                      "-- DOWN\nDROP TABLE a;\n")
    engine = MigrationEngine(database=pg_url, migrations_dir=folder, backup="none")
    assert engine.get_current_version() is None
    [ex] = engine.migrate_latest()
    assert ex.status is MigrationStatus.COMPLETED
    assert engine.get_current_version() == "001"
    assert engine.validate_database_integrity().ok
    assert engine.rollback_migration(ex.execution_id) is True
    assert engine.get_current_version() is None
    engine.close()


def test_plugin_import_does_not_load_the_driver() -> None:
    code = (
        "import sys, mig_postgres.plugin, mig_postgres.dialect;"
        "assert 'psycopg' not in sys.modules, 'psycopg imported'"
    )
    subprocess.run([sys.executable, "-c", code], check=True)


def test_killed_mid_migration_leaves_neither_change_nor_record(
    pg_url: str, tmp_path: Path
) -> None:
    project = project_for(tmp_path / "p", pg_url)
    project.write_migration("001_slow", "CREATE TABLE a (x INTEGER);\nSELECT pg_sleep(30);",
                            "DROP TABLE a;")
    proc = project.popen("up")
    engine = MigrationEngine(database=pg_url)
    engine.dialect.connect()
    try:
        for _ in range(200):  # until the migration sleeps inside its transaction
            rows = engine.dialect.query(
                "SELECT 1 FROM pg_stat_activity WHERE query LIKE %s AND state = 'active'",
                ("SELECT pg_sleep(30)%",),
            )
            if rows:
                break
            time.sleep(0.05)
        assert rows
        proc.send_signal(signal.SIGKILL)
        proc.wait()
    finally:
        if proc.poll() is None:
            proc.kill()
        engine.close()
    status = json.loads(project.run("status", "--json").out)
    assert status["pending"] == ["001_slow"]
    assert status["failed"] == [] and status["needs_attention"] == []
    # The server noticed within a second that its client was gone, stopped the statement and
    # rolled back: the lock and the half-made table are gone, so this does not wait 30 s.
    project.write_migration("001_slow", "CREATE TABLE a (x INTEGER);", "DROP TABLE a;")
    started = time.monotonic()
    code, _, err = project.run("up")
    assert code == 0, err
    assert time.monotonic() - started < 15


def test_non_transactional_failure_after_a_commit_needs_attention(
    pg_url: str, tmp_path: Path
) -> None:
    project = project_for(tmp_path / "p", pg_url)
    project.write_migration(
        "001_steps", "CREATE TABLE a (x INTEGER);\nCREATE INDEX CONCURRENTLY a_x ON nope (x);",
        "DROP TABLE a;", {"transactional": False},
    )
    code, _, err = project.run("up")
    assert code == 1 and 'relation "nope" does not exist' in err
    assert "1 statement(s) had committed" in err
    status = json.loads(project.run("status", "--json").out)
    [attention] = status["needs_attention"]
    assert attention["migration_id"] == "001_steps" and attention["statements_committed"] == 1
