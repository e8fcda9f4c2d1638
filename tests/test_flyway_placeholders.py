"""Flyway folders that use placeholders and Flyway's own configuration: values from
flyway.conf / flyway.toml / FLYWAY_PLACEHOLDERS_* replaced before the SQL runs (and in
`mig up --sql`), the checksum kept over the file as written, an undefined placeholder refused
before anything runs, replacement turned off, and callbacks named in a warning. The CLI runs
for real on a SQLite file, on PostgreSQL for a schema placeholder and on MariaDB for a
database one."""

from __future__ import annotations

import json
import re
import sqlite3
import uuid
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from dialects.dialect_targets import DialectTarget, new_target
from format_folders import history_ddl, write
from mig import ConfigError, MigrationFileError
from mig.testing import Project
from mig_formats import load_folder
from mig_formats.flyway import checksum as flyway_checksum
from mig_formats.flyway_config import load_settings

PEOPLE = {
    "V1__people.sql": "CREATE TABLE ${table_name} (id INTEGER PRIMARY KEY, note TEXT);\n"
                      "INSERT INTO ${TABLE_NAME} (id, note)"
                      " VALUES (1, '${greeting} from ${flyway:filename}');\n",
    "U1__people.sql": "DROP TABLE ${table_name};\n",
    "V2__audit.sql": "CREATE TABLE audit (id INTEGER PRIMARY KEY, source TEXT"
                     " DEFAULT '${flyway:table}');\n",
    "U2__audit.sql": "DROP TABLE audit;\n",
}
CONF = ("# the team's settings\nflyway.placeholders.table_name=people\n"
        "flyway.placeholders.greeting = hi\n")


@pytest.fixture
def project(mig_project: Project) -> Project:
    mig_project.write_config(mig_project.config_path.read_text(), migrations_format="flyway")
    write(mig_project.migrations_dir, PEOPLE)
    return mig_project


def rows(project: Project, sql: str) -> list[tuple[object, ...]]:
    conn = sqlite3.connect(project.db_path)
    try:
        return conn.execute(sql).fetchall()
    finally:
        conn.close()


def status(project: Project, env: dict[str, str] | None = None) -> dict:
    result: dict = json.loads(project.ok("status", "--json", env=env))
    return result


def by_id(directory: Path) -> dict:
    found = load_folder(directory, "flyway")
    assert found is not None
    return {m.id: m for m in found[1]}


# -- on SQLite, through the command line ------------------------------------------------------


def test_conf_placeholders_up_status_down(project: Project) -> None:
    (project.path / "flyway.conf").write_text(CONF)  # the folder's parent, as Flyway's CLI
    assert "mig: error" not in project.run("validate").err
    out = project.ok("up")
    assert "applied 2 migration(s)" in out
    assert rows(project, "SELECT id, note FROM people") == [(1, "hi from V1__people.sql")]
    assert rows(project, "SELECT sql FROM sqlite_master WHERE name = 'audit'")[0][0].count(
        "'flyway_schema_history'") == 1
    state = status(project)
    assert state["applied"] == ["V1__people", "V2__audit"] and state["drift"] == []
    project.ok("down", "--all")
    assert project.tables() & {"people", "audit"} == set()
    assert status(project)["pending"] == ["V1__people", "V2__audit"]


def test_lint_reads_the_sql_with_placeholders_replaced(project: Project) -> None:
    (project.path / "flyway.conf").write_text(CONF + "flyway.placeholders.db=main\n")
    write(project.migrations_dir,
          {"V3__things.sql": "CREATE TABLE ${db}.things (id INTEGER PRIMARY KEY);\n"})
    report = json.loads(project.ok("lint", "--format", "json"))
    assert report["migrations"] == 3
    assert [f for f in report["findings"] if f["rule"] == "unparsable-statement"] == []


def test_env_vars_define_and_override_with_lower_cased_names(project: Project) -> None:
    (project.migrations_dir / "flyway.conf").write_text(CONF)
    env = {"FLYWAY_PLACEHOLDERS_TABLE_NAME": "things", "FLYWAY_PLACEHOLDERS_GREETING": "hey"}
    project.ok("up", env=env)
    assert "things" in project.tables() and "people" not in project.tables()
    assert rows(project, "SELECT note FROM things") == [("hey from V1__people.sql",)]
    settings = load_settings(project.migrations_dir, env)
    assert settings.placeholders["table_name"] == "things"  # FLYWAY_PLACEHOLDERS_X -> x
    project.ok("down", "--all", env=env)
    assert "things" not in project.tables()


def test_env_vars_alone_are_enough(project: Project) -> None:
    env = {"FLYWAY_PLACEHOLDERS_TABLE_NAME": "solo", "FLYWAY_PLACEHOLDERS_GREETING": "yo"}
    project.ok("up", env=env)
    assert rows(project, "SELECT note FROM solo") == [("yo from V1__people.sql",)]


def test_sql_script_shows_the_replaced_sql(project: Project) -> None:
    (project.path / "flyway.conf").write_text(CONF)
    script = project.ok("up", "--sql")
    assert "CREATE TABLE people" in script and "'hi from V1__people.sql'" in script
    assert "${table_name}" not in script.split("INSERT INTO mig_")[0]


def test_undefined_placeholder_is_refused_before_anything_runs(project: Project) -> None:
    (project.path / "flyway.conf").write_text("flyway.placeholders.table_name=people\n")
    for command in ("validate", "up"):
        result = project.run(command)
        assert result.code == 2, result.err
        assert "V1__people.sql:2:" in result.err and "${greeting}" in result.err
        assert "FLYWAY_PLACEHOLDERS_GREETING" in result.err and "flyway.conf" in result.err
    assert project.tables() & {"people", "audit"} == set()
    assert project.executions() == []


def test_undefined_placeholder_in_an_undo_file_names_that_file(project: Project) -> None:
    (project.path / "flyway.conf").write_text(CONF)
    write(project.migrations_dir, {"U2__audit.sql": "-- tidy\nDROP TABLE ${audit_table};\n"})
    with pytest.raises(MigrationFileError) as caught:
        by_id(project.migrations_dir)
    assert caught.value.line == 2 and Path(str(caught.value.path)).name == "U2__audit.sql"


def test_connection_placeholders_are_refused_with_a_reason(project: Project) -> None:
    (project.path / "flyway.conf").write_text(CONF)
    write(project.migrations_dir, {"V3__grant.sql": "-- owner ${flyway:user}\nSELECT 1;\n"})
    result = project.run("validate")
    assert result.code == 2 and "V3__grant.sql:1:" in result.err
    assert "${flyway:user}" in result.err and "mig connects as" in result.err
    assert project.executions() == []


def test_default_schema_comes_from_the_configuration(project: Project) -> None:
    (project.path / "flyway.conf").write_text(CONF + "flyway.schemas=main,other\n")
    write(project.migrations_dir, {
        "V3__more.sql": "CREATE TABLE ${flyway:defaultSchema}.more (id INTEGER);\n"})
    project.ok("up")
    assert "more" in project.tables()


def test_replacement_turned_off_leaves_placeholders_alone(project: Project) -> None:
    write(project.migrations_dir, {
        "V1__people.sql": "CREATE TABLE people (id INTEGER PRIMARY KEY, note TEXT);\n"
                          "INSERT INTO people VALUES (1, '${not_a_placeholder}');\n",
        "U1__people.sql": "DROP TABLE people;\n",
        "V2__audit.sql": "CREATE TABLE audit (id INTEGER);\n",
    })
    (project.path / "flyway.conf").write_text("flyway.placeholderReplacement=false\n")
    assert project.run("validate").code == 0
    project.ok("up")
    assert rows(project, "SELECT note FROM people") == [("${not_a_placeholder}",)]


def test_prefix_and_suffix_are_configurable(tmp_path: Path) -> None:
    folder = write(tmp_path / "sql", {
        "V1__x.sql": "CREATE TABLE #[name] (v TEXT DEFAULT '${left alone}');\n"})
    (tmp_path / "flyway.toml").write_text(
        '[flyway]\nplaceholderPrefix = "#["\nplaceholderSuffix = "]"\n'
        '[flyway.placeholders]\nname = "t1"\n')
    m = by_id(folder)["V1__x"]
    assert m.up_statements[0].sql == "CREATE TABLE t1 (v TEXT DEFAULT '${left alone}');\n"


def test_builtins_that_need_no_connection(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "sql" / "sub").mkdir(parents=True)  # Flyway scans subfolders
    folder = write(tmp_path / "sql", {"sub/R__v.sql": (
        "-- ${flyway:filename} ${FLYWAY:TABLE} ${flyway:environment}\n"
        "-- ${flyway:workingDirectory}\n-- ${flyway:timestamp}\n")})
    (folder / "flyway.conf").write_text("flyway.table=history\n")
    monkeypatch.chdir(tmp_path)
    lines = by_id(folder)["R__v"].up_statements[0].sql.splitlines()
    assert lines[0] == "-- R__v.sql history default"
    assert lines[1] == f"-- {tmp_path}"
    assert re.fullmatch(r"-- \d{4}-\d\d-\d\d \d\d:\d\d:\d\d", lines[2])


def test_checksum_is_the_written_text_so_a_new_value_is_not_drift(project: Project) -> None:
    conf = project.path / "flyway.conf"
    conf.write_text(CONF)
    before = by_id(project.migrations_dir)["V1__people"]
    project.ok("up")
    conf.write_text(CONF.replace("greeting = hi", "greeting = hello"))
    after = by_id(project.migrations_dir)["V1__people"]
    assert after.checksum == before.checksum
    assert after.up_statements != before.up_statements  # what runs did change
    state = status(project)
    assert state["drift"] == [] and state["pending"] == []
    assert project.run("check").code == 0
    # ... while editing the file itself still is drift
    path = project.migrations_dir / "V2__audit.sql"
    path.write_text(path.read_text() + "-- edited\n")
    assert status(project)["drift"] == ["V2__audit"]


def test_folder_without_placeholders_is_split_as_before(tmp_path: Path) -> None:
    folder = write(tmp_path / "sql", {"V1__x.sql": "CREATE TABLE x (v TEXT);\n"})
    m = by_id(folder)["V1__x"]
    assert m.up_statements is None and m.down_statements is None


def test_callbacks_are_named_once_and_not_run(project: Project) -> None:
    (project.path / "flyway.conf").write_text(CONF)
    write(project.migrations_dir, {
        "beforeMigrate.sql": "CREATE TABLE before_ran (x INTEGER);\n",
        "afterMigrate__grants.sql": "CREATE TABLE after_ran (x INTEGER);\n",
        "afterEachMigrate.sql": "CREATE TABLE each_ran (x INTEGER);\n",
    })
    for command in ("validate", "up"):
        result = project.run(command)
        assert result.code == 0, result.err
        warnings = [line for line in result.err.splitlines() if "Flyway callbacks" in line]
        assert len(warnings) == 1, result.err
        for name in ("beforeMigrate.sql", "afterMigrate__grants.sql", "afterEachMigrate.sql"):
            assert name in warnings[0]
    assert project.tables() & {"before_ran", "after_ran", "each_ran"} == set()
    assert "people" in project.tables()


def test_no_callbacks_no_warning(project: Project) -> None:
    (project.path / "flyway.conf").write_text(CONF)
    assert "callbacks" not in project.run("validate").err


# -- Flyway's configuration files -------------------------------------------------------------


def test_conf_files_nearer_the_scripts_win(tmp_path: Path) -> None:
    folder = write(tmp_path / "sql", {"V1__x.sql": "SELECT 1;\n"})
    (tmp_path / "conf").mkdir()
    (tmp_path / "conf" / "flyway.conf").write_text(
        "flyway.placeholders.a=install\nflyway.placeholders.b=install\n"
        "flyway.placeholders.c=install\n")
    (tmp_path / "flyway.conf").write_text(
        "flyway.placeholders.b=project\nflyway.placeholders.c=project\n")
    (folder / "flyway.conf").write_text(
        "! a properties comment\nflyway.placeholders.c: \\\n  folder\n")
    settings = load_settings(folder, {})
    assert dict(settings.placeholders) == {"a": "install", "b": "project", "c": "folder"}
    assert [p.name for p in settings.files] == ["flyway.conf"] * 3


def test_conf_values_may_name_environment_variables(tmp_path: Path) -> None:
    folder = write(tmp_path / "sql", {"V1__x.sql": "SELECT 1;\n"})
    (folder / "flyway.conf").write_text(
        "flyway.placeholders.owner=${APP_OWNER}\nflyway.placeholders.other=${UNSET_VAR}\n")
    settings = load_settings(folder, {"APP_OWNER": "alice"})
    assert settings.placeholders == {"owner": "alice", "other": "${UNSET_VAR}"}


def test_toml_placeholders_and_environment_overrides(tmp_path: Path) -> None:
    folder = write(tmp_path / "sql", {"V1__x.sql": "SELECT 1;\n"})
    (tmp_path / "flyway.toml").write_text(
        '[environments.dev]\nurl = "jdbc:sqlite:dev.db"\n'
        '[environments.dev.flyway]\ntable = "dev_history"\n'
        '[environments.dev.flyway.placeholders]\nschema = "dev_app"\n'
        '[flyway]\nenvironment = "dev"\nschemas = ["s1", "s2"]\n'
        '[flyway.placeholders]\nschema = "app"\nmeta.owner = "ops"\nflag = true\n')
    dev = load_settings(folder, {})
    assert dev.environment == "dev" and dev.table == "dev_history"
    assert dict(dev.placeholders) == {"schema": "dev_app"}  # an override replaces whole
    base = load_settings(folder, {"flyway_environment": "prod"})
    assert dict(base.placeholders) == {"schema": "app", "meta.owner": "ops", "flag": "true"}
    assert base.default_schema == "s1" and base.table == "flyway_schema_history"
    (tmp_path / "flyway.user.toml").write_text('[flyway.placeholders]\nschema = "mine"\n')
    assert load_settings(folder, {"flyway_environment": "prod"}).placeholders["schema"] == "mine"


def test_bad_configuration_is_a_config_error(tmp_path: Path) -> None:
    folder = write(tmp_path / "sql", {"V1__x.sql": "SELECT 1;\n"})
    (folder / "flyway.toml").write_text("[flyway\n")
    with pytest.raises(ConfigError, match="flyway.toml"):
        load_settings(folder, {})
    (folder / "flyway.toml").unlink()
    with pytest.raises(ConfigError, match="placeholderReplacement"):
        load_settings(folder, {"FLYWAY_PLACEHOLDER_REPLACEMENT": "maybe"})


def test_import_history_matches_a_repeatable_by_its_replaced_text(project: Project) -> None:
    """Flyway sums a repeatable after replacing its placeholders (a versioned one as
    written), so `mig import --history` compares the same text."""
    from mig_formats.importer import run_import

    (project.path / "flyway.conf").write_text(CONF)
    write(project.migrations_dir,
          {"R__view.sql": "CREATE VIEW v AS SELECT * FROM ${table_name};\n"})
    replaced = "CREATE VIEW v AS SELECT * FROM people;\n"
    conn = sqlite3.connect(project.db_path)
    try:
        for sql in history_ddl("flyway", "sqlite"):
            conn.execute(sql)
        conn.execute(
            "INSERT INTO flyway_schema_history (installed_rank, version, description, type,"
            " script, checksum, installed_by, execution_time, success) VALUES"
            f" (1, NULL, 'view', 'SQL', 'R__view.sql', {flyway_checksum(replaced)}, 'f', 1, 1)")
        conn.commit()
    finally:
        conn.close()
    with project.engine() as engine:
        report = run_import(engine, source=None, directory=None, convert=None, history=True)
    assert report["adopted"] == ["R__view"]


def test_convert_warns_that_converted_files_keep_placeholders(
    project: Project, tmp_path: Path
) -> None:
    from mig_formats.importer import run_import

    (project.path / "flyway.conf").write_text(CONF)
    out = tmp_path / "converted"
    with project.engine() as engine:
        report = run_import(engine, source=None, directory=None, convert=out, history=False)
    warnings = [line for line in report["lines"] if line.startswith("warning:")]
    assert len(warnings) == 2 and "V1__people.sql" in warnings[0]  # V2: ${flyway:table}
    assert "${table_name}" in (out / "1_people.sql").read_text()


# -- PostgreSQL: a schema placeholder in a database of its own --------------------------------


@pytest.fixture
def postgres(tmp_path: Path) -> Iterator[DialectTarget]:
    target = new_target("postgres", tmp_path)
    try:
        yield target
    finally:
        target.drop()


@pytest.mark.server
def test_schema_placeholder_on_postgres(postgres: DialectTarget, tmp_path: Path) -> None:
    project = postgres.project(tmp_path)
    project.write_config(project.config_path.read_text(), migrations_format="flyway")
    schema = f"app_{uuid.uuid4().hex[:8]}"
    write(project.migrations_dir, {
        "V1__schema.sql": "CREATE SCHEMA ${schema};\n"
                          "CREATE TABLE ${schema}.items (id INTEGER PRIMARY KEY, label TEXT);\n",
        "U1__schema.sql": "DROP TABLE ${schema}.items;\nDROP SCHEMA ${schema};\n",
        "V2__seed.sql": "INSERT INTO ${flyway:defaultSchema}.items VALUES (1, '${schema}');\n",
        "U2__seed.sql": "DELETE FROM ${schema}.items;\n",
    })
    (project.path / "flyway.conf").write_text(
        f"flyway.placeholders.schema={schema}\nflyway.defaultSchema={schema}\n")
    project.ok("up")
    assert postgres.query(f"SELECT id, label FROM {schema}.items") == [(1, schema)]
    state = json.loads(project.ok("status", "--json"))
    assert state["applied"] == ["V1__schema", "V2__seed"] and state["drift"] == []
    project.ok("down", "--all")
    assert postgres.query(
        "SELECT 1 FROM information_schema.schemata WHERE schema_name = %s", (schema,)) == []


@pytest.fixture
def mariadb(tmp_path: Path) -> Iterator[DialectTarget]:
    target = new_target("mysql", tmp_path)
    try:
        yield target
    finally:
        target.drop()


@pytest.mark.server
def test_database_placeholder_from_the_environment_on_mariadb(
    mariadb: DialectTarget, tmp_path: Path
) -> None:
    project = mariadb.project(tmp_path)
    project.write_config(project.config_path.read_text(), migrations_format="flyway")
    write(project.migrations_dir, {
        "V1__items.sql": "CREATE TABLE ${schema}.items (id INT PRIMARY KEY, label VARCHAR(50));\n"
                         "INSERT INTO ${schema}.items VALUES (1, '${flyway:filename}');\n",
        "U1__items.sql": "DROP TABLE ${schema}.items;\n",
    })
    env = {"FLYWAY_PLACEHOLDERS_SCHEMA": urlsplit(mariadb.url).path.lstrip("/")}
    assert project.run("validate").code == 2  # no value without the variable
    project.ok("up", env=env)
    assert mariadb.query("SELECT id, label FROM items") == [(1, "V1__items.sql")]
    assert json.loads(project.ok("status", "--json", env=env))["drift"] == []
    project.ok("down", "--all", env=env)
    assert "items" not in mariadb.tables()
