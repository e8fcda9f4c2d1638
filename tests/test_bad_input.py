"""Bad files, bad configuration and bad arguments: one clear line on stderr, the exit code of
SPEC §6, no traceback, and nothing applied."""

from __future__ import annotations

import pytest
from mig.testing import Project


def assert_clean_error(project: Project, args: tuple[str, ...], code: int, *needles: str) -> str:
    result = project.run(*args)
    assert result.code == code, result
    assert "Traceback" not in result.err and "Traceback" not in result.out
    lines = result.err.strip().splitlines()
    assert len(lines) == 1, result.err
    assert lines[0].startswith("mig: error: ")
    for needle in needles:
        assert needle in lines[0], (needle, lines[0])
    return lines[0]


def assert_nothing_applied(project: Project) -> None:
    assert project.tables() <= {
        "mig_migration_metadata", "mig_migration_executions", "mig_backup_info",
        "mig_schema_version", "mig_schema_snapshots",
    }
    assert project.executions() == []


@pytest.fixture
def project(mig_project: Project) -> Project:
    """A project whose first migration is fine: a bad later file must stop it too."""
    mig_project.table_migration("001", "first")
    return mig_project


def test_malformed_header(project: Project) -> None:
    path = project.migrations_dir / "002_bad.sql"
    path.write_text("-- @name: Bad\n-- @reversible maybe\n\n-- UP\nSELECT 1;\n-- DOWN\nSELECT 1;\n")
    assert_clean_error(project, ("up",), 2, "002_bad.sql:2")
    assert_clean_error(project, ("validate",), 2, "002_bad.sql:2")
    assert_nothing_applied(project)


def test_missing_name(project: Project) -> None:
    path = project.migrations_dir / "002_nameless.sql"
    path.write_text("-- @description: no name\n-- UP\nSELECT 1;\n-- DOWN\nSELECT 1;\n")
    assert_clean_error(project, ("up",), 2, "002_nameless.sql", "@name")
    assert_nothing_applied(project)


def test_bad_json_dependencies(project: Project) -> None:
    project.write_migration("002_b", "SELECT 1;", "SELECT 1;",
                            {"dependencies": '["001_create_first"'})
    assert_clean_error(project, ("up",), 2, "002_b.sql:2", "@dependencies")
    assert_nothing_applied(project)


def test_missing_dependency(project: Project) -> None:
    project.table_migration("002", "second", deps=["000_not_there"])
    assert_clean_error(project, ("up",), 2, "002_create_second.sql:2", "000_not_there")
    assert_nothing_applied(project)


def test_dependency_cycle_names_the_files(project: Project) -> None:
    project.table_migration("002", "b", deps=["003_create_c"])
    project.table_migration("003", "c", deps=["002_create_b"])
    line = assert_clean_error(project, ("up",), 2, "cycle")
    assert "002_create_b.sql" in line and "003_create_c.sql" in line
    assert_clean_error(project, ("validate",), 2, "cycle")
    assert_clean_error(project, ("graph",), 2, "cycle")
    assert_nothing_applied(project)


def test_duplicate_versions(mig_project: Project) -> None:
    mig_project.table_migration("1", "a")
    mig_project.table_migration("001", "b")
    line = assert_clean_error(mig_project, ("up",), 2, "duplicate version")
    assert "1_create_a.sql" in line and "001_create_b.sql" in line
    assert_nothing_applied(mig_project)


def test_reversible_migration_without_down(project: Project) -> None:
    project.write_migration("002_oneway", "CREATE TABLE oneway (id INTEGER);", down=None)
    assert_clean_error(project, ("up",), 2, "002_oneway.sql", "DOWN")
    project.write_migration("002_oneway", "CREATE TABLE oneway (id INTEGER);", "-- nothing")
    assert_clean_error(project, ("up",), 2, "002_oneway.sql", "DOWN")
    assert_nothing_applied(project)
    # Declared irreversible, it is fine.
    project.write_migration("002_oneway", "CREATE TABLE oneway (id INTEGER);", down=None,
                            headers={"reversible": False})
    project.ok("validate")


def test_bad_file_name(project: Project) -> None:
    (project.migrations_dir / "README.md").write_text("not a migration")
    (project.migrations_dir / "create_things.sql").write_text("-- @name: x\n-- UP\nSELECT 1;\n")
    assert_clean_error(project, ("up",), 2, "create_things.sql")
    assert_nothing_applied(project)
    (project.migrations_dir / "create_things.sql").unlink()
    assert project.run("validate").code == 0  # other files are ignored


def test_binary_files(project: Project) -> None:
    (project.migrations_dir / "diagram.png").write_bytes(b"\x89PNG\r\n\x1a\n\xff\xfe\x00")
    project.ok("validate")  # not a migration: ignored
    (project.migrations_dir / "002_binary.sql").write_bytes(b"-- @name: x\n\xff\xfe\n")
    assert_clean_error(project, ("up",), 2, "002_binary.sql", "UTF-8")
    assert_nothing_applied(project)


def test_unterminated_string(project: Project) -> None:
    project.write_migration("002_quote", "INSERT INTO first (note) VALUES ('oops);",
                            "DELETE FROM first;")
    assert_clean_error(project, ("up",), 2, "002_quote.sql:", "unterminated")
    assert_nothing_applied(project)


def test_unknown_config_key(project: Project) -> None:
    project.write_config(colour="blue")
    assert_clean_error(project, ("up",), 2, "colour")
    assert_clean_error(project, ("status",), 2, "colour")
    assert_nothing_applied(project)


def test_unknown_config_table(project: Project) -> None:
    project.write_config(project.config_path.read_text() + "\n[mig.retention]\nkeep_weeks = 2\n")
    assert_clean_error(project, ("up",), 2, "keep_weeks")


def test_wrong_config_value(project: Project) -> None:
    text = project.config_path.read_text().replace('backup = "none"', 'backup = "sometimes"')
    project.write_config(text)
    assert_clean_error(project, ("up",), 2, "backup", "sometimes", "full", "incremental", "none")
    assert_nothing_applied(project)


def test_wrong_config_type(project: Project) -> None:
    text = project.config_path.read_text().replace("lock_timeout = 10", 'lock_timeout = "soon"')
    project.write_config(text)
    assert_clean_error(project, ("up",), 2, "lock_timeout")


def test_invalid_toml(project: Project) -> None:
    project.config_path.write_text("[mig\ndatabase = ")
    assert_clean_error(project, ("status",), 2, "mig.toml")


def test_unreachable_database(project: Project) -> None:
    code, _, err = project.run("--database", "sqlite:///no/such/folder/app.db", "up")
    assert code == 2, err
    assert "Traceback" not in err and len(err.strip().splitlines()) == 1
    assert "no/such/folder" in err
    assert not (project.path / "no").exists()


def test_unknown_dialect(project: Project) -> None:
    assert_clean_error(project, ("--database", "oracle://db/x", "up"), 2, "oracle")


def test_unknown_target(project: Project) -> None:
    assert_clean_error(project, ("up", "042"), 2, "042")
    assert_clean_error(project, ("plan", "nope"), 2, "nope")
    assert_nothing_applied(project)
    project.migrate()
    assert_clean_error(project, ("down", "nope"), 2, "nope")


def test_unknown_execution_id(project: Project) -> None:
    project.migrate()
    assert_clean_error(project, ("rollback", "feedfacecafe"), 2, "feedfacecafe")
    assert len(project.executions()) == 1


def test_bad_options(project: Project) -> None:
    assert_clean_error(project, ("up", "--backup", "sometimes"), 2, "--backup")
    assert_clean_error(project, ("down", "--method", "magic"), 2, "--method")
    assert_nothing_applied(project)


def test_verbose_shows_the_traceback(project: Project) -> None:
    project.table_migration("002", "second", deps=["000_not_there"])
    code, _, err = project.run("-v", "up")
    assert code == 2
    assert "Traceback" in err and err.strip().splitlines()[-1].startswith("mig: error:")
