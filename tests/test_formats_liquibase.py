"""mig-formats' ``liquibase`` format (Liquibase formatted SQL) on real SQLite files: each
changeset one migration in file order, ``--rollback`` as its DOWN, the attributes mig follows
and the ones it refuses, every error naming its line; DATABASECHANGELOG adopted (a held lock
refused)."""

from __future__ import annotations

import json
import re
import sqlite3
from pathlib import Path

import pytest
from format_folders import FOLDERS, history_ddl, history_rows, write
from mig import MigrationFileError
from mig.plugins import Plugins
from mig.testing import Project
from mig_formats import detect, load_folder

FIRST = """\
--liquibase formatted sql

--changeset alice:1
--comment: the orders table
CREATE TABLE orders (id INTEGER PRIMARY KEY, total INTEGER NOT NULL, note TEXT);
--rollback DROP TABLE orders;

--changeset alice:2 runInTransaction:false
--preconditions onFail:MARK_RAN
--precondition-sql-check expectedResult:0 SELECT COUNT(*) FROM orders
INSERT INTO orders VALUES (1, 5, 'a;b');
INSERT INTO orders VALUES (2, 7, NULL);
--rollback DELETE FROM orders WHERE id = 2;
--rollback DELETE FROM orders WHERE id = 1;
"""
SECOND = """\
-- liquibase formatted sql logicalFilePath:shop/later.sql

--changeset "bob smith":trigger-1 endDelimiter://
CREATE TRIGGER orders_bump AFTER INSERT ON orders BEGIN
  UPDATE orders SET total = total + 1 WHERE id = NEW.id;
END//
/* liquibase rollback
DROP TRIGGER orders_bump;
*/

--changeset bob:seed context:test labels:demo
--ignoreLines:start
this line is not SQL
--ignoreLines:end
INSERT INTO orders VALUES (3, 1, 'seed');
--rollback not required

--changeset bob:skipped ignore:true
SELECT 'never run';
"""
FILES = {"changelog-1.0.sql": FIRST, "changelog-1.1.sql": SECOND, "README.md": "notes\n"}
IDS = ["changelog-1.0.sql::1::alice", "changelog-1.0.sql::2::alice",
       "shop/later.sql::trigger-1::bob smith", "shop/later.sql::seed::bob"]


def load(path: Path) -> list:
    found = load_folder(path, "liquibase")
    assert found is not None
    return Plugins().load().resolve_order(found[1])


def test_changesets_become_migrations_in_file_order(tmp_path: Path) -> None:
    path = write(tmp_path / "changelog", FILES)
    assert detect(path) == "liquibase"
    ms = load(path)
    assert [m.id for m in ms] == IDS and [m.version for m in ms] == ["1", "2", "3", "4"]
    orders, rows, trigger, seed = ms
    assert orders.name == "the orders table" and rows.name == "alice:2"
    assert orders.up_sql == ("CREATE TABLE orders (id INTEGER PRIMARY KEY, total INTEGER NOT"
                             " NULL, note TEXT);\n")
    assert (orders.up_line, orders.down_line) == (5, 6)
    assert orders.down_sql == "DROP TABLE orders;\n" and orders.reversible
    assert rows.down_sql == ("DELETE FROM orders WHERE id = 2;\n"
                             "DELETE FROM orders WHERE id = 1;\n")
    assert not rows.transactional and orders.transactional
    assert "--preconditions onFail:MARK_RAN" in rows.metadata["liquibase_ignored"]
    # endDelimiter cuts statements there; the rollback block is the DOWN
    assert [(s.sql, s.line) for s in trigger.up_statements] == [
        ("CREATE TRIGGER orders_bump AFTER INSERT ON orders BEGIN\n  UPDATE orders SET total"
         " = total + 1 WHERE id = NEW.id;\nEND", 4)]
    assert trigger.down_sql == "DROP TRIGGER orders_bump;\n" and trigger.down_line == 8
    # "not required": no DOWN, so irreversible; contexts and labels are kept, not filtered
    assert seed.up_sql == "INSERT INTO orders VALUES (3, 1, 'seed');\n" and seed.up_line == 15
    assert not seed.reversible and "context:test" in seed.metadata["liquibase_attributes"]


def test_liquibase_changelog_runs_with_up_status_and_down(mig_project: Project) -> None:
    write(mig_project.migrations_dir, FILES)
    mig_project.write_config(migrations_format="auto", backup="full")
    mig_project.ok("up", IDS[2])
    state = json.loads(mig_project.ok("status", "--json"))
    assert [p["id"] if isinstance(p, dict) else p for p in state["pending"]] == IDS[3:]
    mig_project.ok("up")
    assert mig_project.applied() == IDS
    # the trigger ran on the seed row: one statement, its body whole
    assert mig_project.query("SELECT id, total, note FROM orders ORDER BY id") == [
        (1, 5, "a;b"), (2, 7, None), (3, 2, "seed")]
    assert mig_project.run("down", "--method", "down").code == 1  # "not required": no DOWN
    mig_project.ok("down", "--yes")  # by the backup taken before it
    mig_project.ok("down", "--steps", "2")  # by the --rollback lines
    assert mig_project.query("SELECT id FROM orders") == []
    names = {n for (n,) in mig_project.query("SELECT name FROM sqlite_master")}
    assert "orders_bump" not in names
    assert "current version: 1" in mig_project.ok("status")


@pytest.mark.parametrize("text, line, message", [
    ("--changeset alice\nSELECT 1;\n", 2, "needs author:id"),
    ("CREATE TABLE x (a int);\n--changeset a:1\nSELECT 1;\n", 2, "SQL before the first"),
    ("--changeset a:1 dbms:postgresql\nSELECT 1;\n", 2, "dbms:postgresql is not supported"),
    ("--property name:table value:orders\n--changeset a:1\nSELECT 1;\n", 2,
     "--property is not supported"),
    ("--include file:other.sql\n", 2, "--include is not supported"),
    ("--changeset a:1\nSELECT 1;\n--rollback changesetId:0 changesetAuthor:a\n", 4,
     "names another changeset"),
    ("--changeset a:1\nSELECT 1;\n/* liquibase rollback\nSELECT 2;\n", 6, "not closed"),
    ("--changeset a:1\n--ignoreLines:sometimes\nSELECT 1;\n", 3, "start, end or a number"),
    ("--rollback DROP TABLE x;\n--changeset a:1\n", 2, "before the first --changeset"),
])
def test_errors_name_the_line(tmp_path: Path, text: str, line: int, message: str) -> None:
    path = write(tmp_path / "m", {"a.sql": "--liquibase formatted sql\n" + text})
    with pytest.raises(MigrationFileError, match=re.escape(message)) as info:
        load(path)
    assert info.value.line == line and info.value.path == path / "a.sql"


def test_folder_level_errors(mig_project: Project) -> None:
    write(mig_project.migrations_dir, {
        "a.sql": "--liquibase formatted sql\n--changeset a:1\nSELECT 1;\n",
        "b.sql": "CREATE TABLE not_a_changelog (x int);\n",
    })
    mig_project.write_config(migrations_format="auto")
    result = mig_project.run("validate")
    assert result.code == 2 and "b.sql:1: not Liquibase formatted SQL" in result.err
    twice = write(mig_project.path / "twice", {
        "a.sql": "--liquibase formatted sql\n--changeset a:1\nSELECT 1;\n"
                 "--changeset a:1\nSELECT 2;\n"})
    with pytest.raises(MigrationFileError, match="a.sql::1::a is also in a.sql"):
        load(twice)


def test_a_numbered_changelog_is_liquibase_not_plain(tmp_path: Path) -> None:
    path = write(tmp_path / "m", {"001_init.sql": FIRST, "002_more.sql": SECOND})
    assert detect(path) == "liquibase"


def test_convert_refuses_an_end_delimiter(mig_project: Project) -> None:
    write(mig_project.migrations_dir, FILES)
    mig_project.write_config(migrations_format="liquibase")
    result = mig_project.run("import", "--convert", "out")
    assert result.code == 2 and "changelog-1.1.sql:4: cannot be written as a mig file" in result.err
    assert "endDelimiter '//'" in result.err and not (mig_project.path / "out").exists()
    (mig_project.migrations_dir / "changelog-1.1.sql").unlink()
    report = json.loads(mig_project.ok("import", "--convert", "out", "--json"))
    assert len(report["converted"]) == 2
    text = (mig_project.path / "out" / report["converted"][1]).read_text()
    assert "-- @transactional: false" in text and "DELETE FROM orders WHERE id = 1;" in text
    result = mig_project.run("import", "--history")  # Liquibase never ran on this database
    assert result.code == 2 and "no databasechangelog table" in result.err
    mig_project.write_config(migrations_dir="out", migrations_format="mig")
    mig_project.migrate()
    assert mig_project.query("SELECT COUNT(*) FROM orders") == [(2,)]


def liquibase_ran(project: Project, count: int, *, dirty: bool = False) -> list[str]:
    """What ``liquibase update`` leaves after the first ``count`` changesets of the shared
    folder (``dirty``: a run that died holding DATABASECHANGELOGLOCK)."""
    ids = FOLDERS["liquibase"][1][:count]
    plugins = Plugins().load()
    with sqlite3.connect(project.db_path) as conn:
        for m in load(project.migrations_dir)[:count]:
            for s in plugins.split(m.up_sql, "sqlite", m.up_line, m.path):
                conn.execute(s.sql)
        for sql in history_ddl("liquibase", "sqlite") + history_rows(
            "liquibase", "sqlite", project.migrations_dir, ids, dirty=dirty
        ):
            conn.execute(sql)
    return ids


def test_liquibase_history_held_lock_is_refused(mig_project: Project) -> None:
    write(mig_project.migrations_dir, FOLDERS["liquibase"][0])
    mig_project.write_config(migrations_format="liquibase")
    liquibase_ran(mig_project, 1, dirty=True)
    result = mig_project.run("import", "--history")
    assert result.code == 1 and "DATABASECHANGELOGLOCK is held" in result.err
    assert "ci-runner" in result.err and "liquibase release-locks" in result.err
    assert mig_project.executions() == []


def test_liquibase_history_mark_ran_and_skipped_rows(mig_project: Project) -> None:
    write(mig_project.migrations_dir, FOLDERS["liquibase"][0])
    mig_project.write_config(migrations_format="liquibase")
    ran = liquibase_ran(mig_project, 1)
    with sqlite3.connect(mig_project.db_path) as conn:
        # the index changeset's precondition marked it ran; posts was skipped (not applied)
        conn.execute("INSERT INTO DATABASECHANGELOG (ID, AUTHOR, FILENAME, DATEEXECUTED,"
                     " ORDEREXECUTED, EXECTYPE) VALUES ('2', 'ann', 'changelog-1.sql',"
                     " '2024-01-02', 2, 'MARK_RAN'), ('posts', 'bo', 'changelog-2.sql',"
                     " '2024-01-02', 3, 'SKIPPED')")
    report = json.loads(mig_project.ok("import", "--history", "--json"))
    assert report["adopted"] == [*ran, FOLDERS["liquibase"][1][1]]
    notes = [r["error_message"] for r in mig_project.executions()]
    assert "MARK_RAN" in notes[1] and "db/changelog/changelog-1.sql::1::ann" in notes[0]
    mig_project.migrate()
    assert "posts" in mig_project.tables()
    assert mig_project.query("SELECT COUNT(*) FROM users") == [(0,)]  # the index's row: not run
