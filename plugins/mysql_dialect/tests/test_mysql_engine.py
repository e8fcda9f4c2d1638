"""mig itself on MySQL/MariaDB: every migration runs outside a transaction, because MySQL
commits each DDL statement on its own."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

from mig import MigrationEngine, MigrationStatus
from mig.testing import Project

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


def test_trigger_and_procedure_bodies_without_delimiter(my_url: str, tmp_path: Path) -> None:
    project = project_for(tmp_path / "p", my_url)
    project.write_migration(
        "001_routines",
        """
CREATE TABLE t (x INTEGER, note VARCHAR(40));
CREATE TRIGGER t_note BEFORE INSERT ON t FOR EACH ROW
BEGIN
    IF NEW.note IS NULL THEN
        SET NEW.note = CONCAT('x=', NEW.x, '; 100%');  # a comment; with a semicolon
    END IF;
END;
CREATE PROCEDURE fill(IN n INTEGER)
BEGIN
    DECLARE i INTEGER DEFAULT 0;
    WHILE i < n DO
        INSERT INTO t (x) VALUES (i);
        SET i = i + 1;
    END WHILE;
END;
CALL fill(2);
""",
        "DROP PROCEDURE fill;\nDROP TABLE t;",
    )
    code, _, err = project.run("up")
    assert code == 0, err
    engine = project.engine()
    engine.dialect.connect(readonly=True)
    assert engine.dialect.query("SELECT x, note FROM t ORDER BY x") == [
        (0, "x=0; 100%"), (1, "x=1; 100%")
    ]
    engine.close()
    code, _, err = project.run("down")
    assert code == 0, err


def test_bodies_between_delimiter_commands(my_url: str, tmp_path: Path) -> None:
    # Files written for the mysql client: DELIMITER is its command, never sent to the server.
    project = project_for(tmp_path / "p", my_url)
    project.write_migration(
        "001_client_script",
        """
CREATE TABLE t (x INTEGER, note VARCHAR(40));
DELIMITER $$
CREATE PROCEDURE fill(IN n INTEGER)
BEGIN
    DECLARE i INTEGER DEFAULT 0;
    WHILE i < n DO
        INSERT INTO t (x, note) VALUES (i, 'a; b $ c');
        SET i = i + 1;
    END WHILE;
END$$
delimiter ;
CALL fill(2);
""",
        "DELIMITER //\nDROP PROCEDURE fill //\nDELIMITER ;\nDROP TABLE t;",
    )
    code, _, err = project.run("up")
    assert code == 0, err
    engine = project.engine()
    engine.dialect.connect(readonly=True)
    assert engine.dialect.query("SELECT x, note FROM t ORDER BY x") == [
        (0, "a; b $ c"), (1, "a; b $ c")
    ]
    engine.close()
    code, _, err = project.run("down")
    assert code == 0, err


def test_a_migration_that_switches_database(my_url: str, tmp_path: Path) -> None:
    # mig's own tables, and the next migration's unqualified names, stay in mig's database.
    project = project_for(tmp_path / "p", my_url)
    project.write_migration(
        "001_elsewhere", "USE information_schema;\nSELECT COUNT(*) FROM TABLES;",
        "# a comment first\nuse information_schema;\nSELECT 1;",
    )
    project.write_migration("002_here", "CREATE TABLE here (x INTEGER);", "DROP TABLE here;")
    code, _, err = project.run("up")
    assert code == 0, err
    engine = project.engine()
    engine.dialect.connect(readonly=True)
    assert "here" in engine.dialect.table_names()
    engine.close()
    code, _, err = project.run("down", "--all")
    assert code == 0, err


def test_failure_after_ddl_needs_attention(my_url: str, tmp_path: Path) -> None:
    project = project_for(tmp_path / "p", my_url)
    project.write_migration(
        "001_two_steps",
        "CREATE TABLE a (x INTEGER);\nALTER TABLE a ADD COLUMN y INTEGER;\n"
        "ALTER TABLE a ADD COLUMN x INTEGER;",
        "DROP TABLE a;",
    )
    code, out, err = project.run("up")
    assert code == 1
    assert "Duplicate column name 'x'" in err
    assert "2 statement(s) had committed" in err and "mig status" in err
    status = json.loads(project.run("status", "--json").out)
    [attention] = status["needs_attention"]
    assert attention["migration_id"] == "001_two_steps"
    assert attention["status"] == "FAILED" and attention["statements_committed"] == 2
    code, out, _ = project.run("status")
    assert "NEEDS ATTENTION" in out and "001_two_steps: 2 statement(s) committed" in out
    code, out, _ = project.run("check", "--json")
    assert code == 4
    assert [p["check"] for p in json.loads(out)["problems"]] == ["attention"]
    # Repaired by hand and fixed, the migration applies and the attention clears.
    engine = project.engine()
    engine.dialect.connect()
    engine.dialect.execute("DROP TABLE a")
    engine.close()
    project.write_migration(
        "001_two_steps", "CREATE TABLE a (x INTEGER);\nALTER TABLE a ADD COLUMN y INTEGER;",
        "DROP TABLE a;",
    )
    code, _, err = project.run("up")
    assert code == 0, err
    status = json.loads(project.run("status", "--json").out)
    assert status["needs_attention"] == [] and status["applied"] == ["001_two_steps"]


def test_running_row_is_committed_before_the_statements(my_url: str, tmp_path: Path) -> None:
    # A crash halfway must leave evidence: the RUNNING row commits before any DDL runs.
    project = project_for(tmp_path / "p", my_url)
    project.write_migration("001_slow", "CREATE TABLE a (x INTEGER);\nSELECT SLEEP(30);",
                            "DROP TABLE a;")
    proc = project.popen("up")
    engine = project.engine()
    try:
        for _ in range(100):
            rows = engine.history() if engine.dialect.exists() else []
            if rows and {t.lower() for t in engine.dialect.table_names()} & {"a"}:
                break
            engine.close()
            time.sleep(0.1)
        assert rows and rows[0].status is MigrationStatus.RUNNING
    finally:
        proc.kill()
        proc.wait()
        engine.close()
    status = json.loads(project.run("status", "--json").out)
    assert [e["status"] for e in status["needs_attention"]] == ["RUNNING"]


def test_python_api(my_url: str, tmp_path: Path) -> None:
    folder = tmp_path / "migrations"
    folder.mkdir()
    (folder / "001_a.sql").write_text("-- @name: A\n-- UP\nCREATE TABLE a (x INTEGER);\n"
                                      "-- DOWN\nDROP TABLE a;\n")
    engine = MigrationEngine(database=my_url, migrations_dir=folder, backup="none")
    assert engine.get_current_version() is None
    [ex] = engine.migrate_latest()
    assert ex.status is MigrationStatus.COMPLETED and ex.statements_committed == 1
    assert engine.get_current_version() == "001"
    assert engine.validate_database_integrity().ok
    assert engine.rollback_migration(ex.execution_id) is True
    assert engine.get_current_version() is None
    engine.close()


def test_plugin_import_does_not_load_the_driver() -> None:
    code = (
        "import sys, mig_mysql.plugin, mig_mysql.dialect;"
        "assert 'pymysql' not in sys.modules, 'pymysql imported'"
    )
    subprocess.run([sys.executable, "-c", code], check=True)
