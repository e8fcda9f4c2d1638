"""Offline scripts (``mig up --sql`` / ``mig down --sql``) on every dialect: the script, run
by the database's own client (``sqlite3``, ``psql``, ``mariadb``), leaves the database, its
ledger included, as ``mig up`` / ``mig down`` leave an identical one.

Two fresh databases per test: A is migrated by mig, B by the scripts. The comparison ignores
only what cannot be the same: generated ids (execution and run ids; ``rolled_back_by`` is
compared as the ``seq`` of the row it names), timestamps and durations (the script's are those
of its generation), the actor, and the schema record (``schema_hash`` and
``mig_schema_snapshots``): a script cannot know the schema after the run, so it records none
(docs/guide.md, "Offline scripts").
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
from dialect_targets import DialectTarget, new_target
from mig.ledger import TABLES
from mig.status import snapshot
from mig.testing import Project

IGNORED = {"execution_id", "run_id", "started_at", "completed_at", "created_at", "updated_at",
           "execution_time", "actor", "schema_hash"}
CLIENTS = {"sqlite": "sqlite3", "postgres": "psql", "mysql": "mariadb"}

#: Per dialect: a non-transactional statement, and a trigger whose body holds ``;``.
NON_TRANSACTIONAL = {
    "sqlite": "CREATE INDEX idx_t_note ON t (note);",
    "postgres": "CREATE INDEX CONCURRENTLY idx_t_note ON t (note);",
    "mysql": "CREATE INDEX idx_t_note ON t (note);",
}
TRIGGER = {
    "sqlite": """
CREATE TABLE audit (id INTEGER PRIMARY KEY, what TEXT);
CREATE TRIGGER t_audit AFTER INSERT ON t
BEGIN
    INSERT INTO audit (what) VALUES ('added; ' || NEW.note);
END;
""",
    "postgres": """
CREATE TABLE audit (id SERIAL PRIMARY KEY, what TEXT);
CREATE FUNCTION t_audit() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO audit (what) VALUES ('added; ' || NEW.note);
    RETURN NEW;
END;
$$;
CREATE TRIGGER t_audit AFTER INSERT ON t FOR EACH ROW EXECUTE FUNCTION t_audit();
""",
    "mysql": """
CREATE TABLE audit (id INTEGER AUTO_INCREMENT PRIMARY KEY, what TEXT);
CREATE TRIGGER t_audit AFTER INSERT ON t FOR EACH ROW
BEGIN
    INSERT INTO audit (what) VALUES (CONCAT('added; ', NEW.note));
    INSERT INTO audit (what) VALUES ('twice');
END;
""",
}
TRIGGER_DOWN = {
    "sqlite": "DROP TRIGGER t_audit;\nDROP TABLE audit;",
    "postgres": "DROP TRIGGER t_audit ON t;\nDROP FUNCTION t_audit();\nDROP TABLE audit;",
    "mysql": "DROP TRIGGER t_audit;\nDROP TABLE audit;",
}


def write_migrations(project: Project, dialect: str) -> None:
    # A quote and a backslash in the SQL (stored as a literal in the ledger's metadata) and a
    # percent sign (the servers' drivers mark parameters with %s).
    project.write_migration(
        "001_t", "CREATE TABLE t (id INTEGER PRIMARY KEY, note VARCHAR(100));\n"
        "INSERT INTO t (id, note) VALUES (1, 'it''s a \\\\ backslash, 100%, café ✓');",
        "DROP TABLE t;")
    project.write_migration("002_index", NON_TRANSACTIONAL[dialect], "DROP INDEX idx_t_note"
                            + (" ON t;" if dialect == "mysql" else ";"),
                            {"transactional": False, "dependencies": ["001_t"]})
    project.write_migration("003_trigger", TRIGGER[dialect], TRIGGER_DOWN[dialect],
                            {"dependencies": ["001_t"]})
    project.write_migration("004_rows", "INSERT INTO t (id, note) VALUES (2, 'two');",
                            "DELETE FROM t WHERE id = 2;", {"dependencies": ["003_trigger"]})


def projects(dialect: DialectTarget, tmp_path: Path) -> tuple[Project, DialectTarget, Project]:
    """A (migrated by mig, on ``dialect``) and B (by scripts, on a second fresh database)."""
    (tmp_path / "b").mkdir()
    other = new_target(dialect.name, tmp_path / "b")
    a = dialect.project(tmp_path / "a")
    b = other.project(tmp_path / "b" / "p")
    for p in (a, b):
        write_migrations(p, dialect.name)
    return a, other, b


def run_script(project: Project, script: str, name: str) -> None:
    """Run ``script`` with the client command its header names (from the project's folder)."""
    client = CLIENTS[project.engine().dialect.name]
    if shutil.which(client) is None:
        pytest.skip(f"the {client} client is not installed")
    (project.path / f"{name}.sql").write_text(script, encoding="utf-8")
    lines = script.splitlines()
    command = lines[lines.index("-- Run it with the database's own client, stopping at the"
                                " first error:") + 1].removeprefix("--").strip()
    assert command.startswith(client) and f"{name}.sql" in command, command
    done = subprocess.run(["bash", "-c", command], cwd=project.path, capture_output=True,
                          text=True, timeout=60)
    assert done.returncode == 0, f"{command}: {done.stderr}"


def state(project: Project, target: DialectTarget) -> dict[str, Any]:
    """The user schema (mig's snapshot), user rows and the ledger's rows, less what differs
    by nature (see the module's docstring)."""
    with project.engine() as engine:
        engine.db.reader()
        schema = snapshot(engine.dialect, "mig_")
    ledger: dict[str, Any] = {}
    seq_of = {eid: seq for eid, seq in target.query(
        "SELECT execution_id, seq FROM mig_migration_executions")}
    for table, columns in TABLES.items():
        if table == "schema_snapshots":
            continue
        names = [c for c, _, _ in columns]
        rows = []
        for row in target.query(f"SELECT {', '.join(names)} FROM mig_{table}"):
            d = dict(zip(names, row, strict=True))
            if "rolled_back_by" in d:
                d["rolled_back_by"] = seq_of.get(d["rolled_back_by"])
            rows.append({k: v for k, v in d.items() if k not in IGNORED})
        ledger[table] = sorted(rows, key=repr)
    return {"schema": schema, "rows": target.contents(), "ledger": ledger}


def test_scripts_reproduce_up_and_down(dialect: DialectTarget, tmp_path: Path) -> None:
    a, other, b = projects(dialect, tmp_path)
    try:
        a.ok("up")
        script = b.ok("up", "--sql")
        assert other.tables() == set(), "up --sql wrote to the database"
        assert "no ledger yet" in script
        run_script(b, script, "up")
        assert state(b, other) == state(a, dialect)
        # The trigger ran in both (its body's ";" reached the client whole).
        assert other.rows("audit") and other.rows("audit") == dialect.rows("audit")

        st = json.loads(b.ok("status", "--json"))
        assert st["pending"] == [] and st["current_version"] == "004"
        assert b.run("check").code == 0
        assert "nothing to do" in b.ok("up")

        # Down by script (the trigger and the non-transactional index), then up again from
        # there: the ledger exists, its metadata rows are replaced, seq goes on.
        a.ok("down", "--steps", "3")
        run_script(b, b.ok("down", "--sql", "--steps", "3"), "down")
        assert state(b, other) == state(a, dialect)
        a.ok("up")
        script = b.ok("up", "--sql")
        assert re.search(r"version 001, last execution seq \d+", script), script[:600]
        run_script(b, script, "up")
        assert state(b, other) == state(a, dialect)
    finally:
        other.drop()


def test_down_sql_refuses_a_restore(dialect: DialectTarget, tmp_path: Path) -> None:
    """An irreversible migration would be undone by restoring its backup: no script can."""
    project = dialect.project(tmp_path / "p")
    project.table_migration("001", "t1")
    project.write_migration("002_t2", "CREATE TABLE t2 (a INTEGER);", None,
                            {"reversible": False, "dependencies": ["001_create_t1"]})
    project.ok("up")
    before = dialect.contents(bookkeeping=True)
    code, out, err = project.run("down", "--sql")
    assert code == 2 and out == ""
    assert "002_t2" in err and "restore" in err and "DOWN SQL only" in err
    code, out, err = project.run("down", "--sql", "--method", "restore", "--steps", "1")
    assert code == 2 and out == "" and "DOWN SQL only" in err
    assert dialect.contents(bookkeeping=True) == before


@pytest.mark.server
def test_postgres_schema_of_the_url(tmp_path: Path) -> None:
    """With ``?schema=`` the script makes the schema when missing and works inside it, as
    mig's own connections do (the client knows nothing of mig's URL)."""
    target = new_target("postgres", tmp_path)
    try:
        project = target.project(tmp_path / "p")
        config = project.config_path.read_text()
        project.config_path.write_text(config.replace(target.url, target.url + "?schema=app"))
        write_migrations(project, "postgres")
        script = project.ok("up", "--sql", "001_t")
        assert 'CREATE SCHEMA IF NOT EXISTS "app";\nSET search_path TO "app";' in script
        assert target.query("SELECT 1 FROM pg_namespace WHERE nspname = 'app'") == []
        run_script(project, script, "up")
        st = json.loads(project.ok("status", "--json"))
        assert st["applied"] == ["001_t"] and st["current_version"] == "001"
        schemas = {s for (s,) in target.query(
            "SELECT table_schema FROM information_schema.tables"
            " WHERE table_name IN ('t', 'mig_migration_executions')")}
        assert schemas == {"app"}
        # Now the schema is there: the next script only sets the search path.
        script = project.ok("up", "--sql")
        assert "CREATE SCHEMA" not in script and 'SET search_path TO "app";' in script
        run_script(project, script, "up")
        assert json.loads(project.ok("status", "--json"))["pending"] == []
    finally:
        target.drop()
