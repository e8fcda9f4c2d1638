"""mig-formats on every dialect: a golang-migrate, dbmate, goose, sql-migrate, Flyway, yoyo,
Prisma and Liquibase project each switches to mig with one command (`mig import --history`)
and no migration re-run, the history tables created as each tool creates them on that
database; a dirty state is refused."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from dialect_targets import DialectTarget
from format_folders import FOLDERS, history_ddl, history_rows, write
from mig.plugins import Plugins
from mig.testing import Project
from mig_formats import load_folder


def project_for(dialect: DialectTarget, tmp_path: Path, tool: str) -> Project:
    project = dialect.project(tmp_path)
    write(project.migrations_dir, FOLDERS[tool][0])
    project.write_config(project.config_path.read_text(), migrations_format=tool)
    return project


def old_tool_ran(dialect: DialectTarget, project: Project, tool: str, count: int,
                 *, dirty: bool = False) -> list[str]:
    """What ``tool`` leaves behind after applying the first ``count`` migrations."""
    plugins = Plugins().load()
    found = load_folder(project.migrations_dir, tool)
    assert found is not None
    migrations = plugins.resolve_order(found[1])
    statements: list[str] = []
    for m in migrations[:count]:
        ready = m.up_statements
        statements += ([s.sql for s in ready] if ready is not None
                       else [s.sql for s in plugins.split(m.up_sql, dialect.name, 1, m.path)])
    ids = FOLDERS[tool][1][:count]
    dialect.execute(*statements, *history_ddl(tool, dialect.name),
                    *history_rows(tool, dialect.name, project.migrations_dir, ids, dirty=dirty))
    return ids


@pytest.mark.parametrize("tool", list(FOLDERS))
def test_each_tool_switches_without_rerunning(
    dialect: DialectTarget, tmp_path: Path, tool: str
) -> None:
    project = project_for(dialect, tmp_path, tool)
    ran = old_tool_ran(dialect, project, tool, 2)
    if dialect.name == "sqlite":  # the command line on SQLite is tests/test_formats.py's
        from mig_formats.importer import run_import

        with project.engine() as engine:
            report = run_import(engine, source=None, directory=None, convert=None,
                                history=True)
    else:
        report = json.loads(project.ok("import", "--history", "--json"))
    assert report["adopted"] == ran
    with project.engine() as engine:
        state = engine.status()
        assert [e.migration_id for e in state.applied] == ran
        assert [m.id for m in state.pending] == FOLDERS[tool][1][2:]
        # Re-running the first two would fail: their table and index exist.
        done = engine.up()
    assert [e.migration_id for e in done] == FOLDERS[tool][1][2:]
    assert {"users", "posts"} <= dialect.user_tables()
    assert dialect.query("SELECT name FROM users") == [("semi;colon",)]
    methods = [r["error_message"] for r in dialect.executions()][:2]
    assert all(m and tool.split("-")[0].lower() in m.lower() for m in methods)


def test_dirty_golang_migrate_is_refused(dialect: DialectTarget, tmp_path: Path) -> None:
    project = project_for(dialect, tmp_path, "golang-migrate")
    old_tool_ran(dialect, project, "golang-migrate", 1, dirty=True)
    result = project.run("import", "--history")
    assert result.code == 1 and "dirty at version 1" in result.err
    assert dialect.executions() == []


GOOSE_BLOCK = """\
-- +goose Up
-- +goose StatementBegin
CREATE TABLE authors (id integer PRIMARY KEY, name varchar(40) NOT NULL);
-- two statements in one block: goose sends them in one call
CREATE TABLE books (id integer PRIMARY KEY, author_id integer NOT NULL, title varchar(40));
INSERT INTO authors VALUES (1, 'semi;colon');
-- +goose StatementEnd

-- +goose Down
-- +goose StatementBegin
DROP TABLE books;
DROP TABLE authors;
-- +goose StatementEnd
"""


def test_goose_block_of_several_statements(dialect: DialectTarget, tmp_path: Path) -> None:
    # SQLite's and MySQL's drivers run one statement per call; mig splits the block.
    project = dialect.project(tmp_path)
    write(project.migrations_dir, {"20240101000000_library.sql": GOOSE_BLOCK})
    project.write_config(project.config_path.read_text(), migrations_format="goose")
    project.migrate()
    assert {"authors", "books"} <= dialect.user_tables()
    assert dialect.query("SELECT name FROM authors") == [("semi;colon",)]
    with project.engine() as engine:
        engine.down()
    assert not {"authors", "books"} & dialect.user_tables()


GOOSE_PG = """\
-- +goose NO TRANSACTION
-- +goose Up
CREATE TABLE counters (n integer NOT NULL DEFAULT 0);
-- +goose StatementBegin
CREATE FUNCTION bump() RETURNS trigger AS $$
BEGIN
  NEW.n := NEW.n + 1;
  RETURN NEW;
END;
$$ LANGUAGE plpgsql;
-- +goose StatementEnd
CREATE TRIGGER counters_bump BEFORE INSERT ON counters
  FOR EACH ROW EXECUTE FUNCTION bump();
CREATE INDEX CONCURRENTLY counters_n ON counters (n);

-- +goose Down
DROP TABLE counters;
DROP FUNCTION bump();
"""


def test_goose_function_body_and_no_transaction_on_postgres(
    dialect: DialectTarget, tmp_path: Path
) -> None:
    if dialect.name != "postgres":
        pytest.skip("PL/pgSQL and CREATE INDEX CONCURRENTLY are PostgreSQL's")
    project = dialect.project(tmp_path)
    write(project.migrations_dir, {"20240101000000_counters.sql": GOOSE_PG})
    project.write_config(project.config_path.read_text(), migrations_format="auto")
    project.migrate()
    dialect.execute("INSERT INTO counters DEFAULT VALUES")
    assert dialect.query("SELECT n FROM counters") == [(1,)]
    with project.engine() as engine:
        engine.down()
    assert "counters" not in dialect.user_tables()


def test_golang_migrate_file_with_its_own_transaction(
    dialect: DialectTarget, tmp_path: Path
) -> None:
    project = dialect.project(tmp_path)
    write(project.migrations_dir, {
        "1_a.up.sql": "BEGIN;\nCREATE TABLE a (x int);\nINSERT INTO a VALUES (1);\nCOMMIT;\n",
        "1_a.down.sql": "DROP TABLE a;\n",
        "2_b.up.sql": "INSERT INTO a VALUES (2)",
    })
    project.write_config(project.config_path.read_text(), migrations_format="golang-migrate")
    project.migrate()
    assert dialect.query("SELECT x FROM a ORDER BY x") == [(1,), (2,)]
    with project.engine() as engine:
        assert [m.transactional for m in engine.migrations()] == [False, True]
