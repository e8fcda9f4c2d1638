"""Configuration precedence (SPEC §5, §10) and the project commands: init, new, plugins."""

from __future__ import annotations

import json
import stat
import tomllib
from pathlib import Path

import pytest
from mig import ConfigError
from mig.config import load_config
from mig.testing import Project


def database_file(project: Project, *args: str, env: dict[str, str] | None = None,
                  cwd: Path | None = None) -> set[str]:
    """Run ``mig up`` and return the database files it created under the project."""
    result = project.run(*args, "up", env=env, cwd=cwd)
    assert result.code == 0, result.err
    return {str(p.relative_to(project.path)) for p in project.path.rglob("*.db")}


@pytest.fixture
def project(mig_project: Project) -> Project:
    mig_project.table_migration("001", "a")
    return mig_project


def test_database_precedence_on_the_command_line(project: Project) -> None:
    env = {"MIG_DATABASE": "sqlite:///env.db"}
    assert database_file(project, "--database", "sqlite:///cli.db", env=env) == {"cli.db"}
    assert database_file(project, env=env) == {"cli.db", "env.db"}
    assert database_file(project) == {"cli.db", "env.db", "app.db"}


def test_relative_urls_follow_where_they_were_given(project: Project) -> None:
    sub = project.path / "sub"
    sub.mkdir()
    # From the config file: relative to the config file, wherever mig runs.
    assert database_file(project, "--config", "../mig.toml", cwd=sub) == {"app.db"}
    # From --database or MIG_DATABASE: relative to the working directory.
    assert database_file(project, "--config", "../mig.toml", "--database", "sqlite:///cli.db",
                         cwd=sub) == {"app.db", "sub/cli.db"}
    assert database_file(project, "--config", "../mig.toml", cwd=sub,
                         env={"MIG_DATABASE": "sqlite:///env.db"}) == {
        "app.db", "sub/cli.db", "sub/env.db"
    }
    absolute = project.path / "abs.db"
    assert f"sqlite:///{absolute}".startswith("sqlite:////")
    assert "abs.db" in database_file(project, "--config", "../mig.toml", "--database",
                                     f"sqlite:///{absolute}", cwd=sub)


def test_config_file_precedence(project: Project) -> None:
    (project.path / "other.toml").write_text('[mig]\ndatabase = "sqlite:///other.db"\n'
                                             'backup = "none"\n')
    (project.path / "pyproject.toml").write_text(
        '[project]\nname = "x"\n\n[tool.mig]\ndatabase = "sqlite:///py.db"\nbackup = "none"\n'
    )
    assert database_file(project, "--config", "other.toml") == {"other.db"}
    assert database_file(project) == {"other.db", "app.db"}
    project.config_path.unlink()
    assert database_file(project) == {"other.db", "app.db", "py.db"}


def test_pyproject_without_tool_mig_is_not_a_config(tmp_path: Path) -> None:
    (tmp_path / "pyproject.toml").write_text('[project]\nname = "x"\n')
    config = load_config(cwd=tmp_path, environ={})
    assert config.path is None and config.database is None
    assert config.migrations_dir == tmp_path / "migrations"


def test_load_config_in_process(tmp_path: Path) -> None:
    (tmp_path / "conf").mkdir()
    path = tmp_path / "conf" / "mig.toml"
    path.write_text('[mig]\ndatabase = "sqlite:///app.db"\nmigrations_dir = "m"\n'
                    'lock_timeout = 2\n[mig.retention]\nkeep_days = 0\n'
                    '[mig.plugins]\ndisable = ["rollback_restore"]\n')
    config = load_config(path, cwd=tmp_path, environ={"MIG_DATABASE": "sqlite:///e.db"})
    assert config.database == "sqlite:///e.db" and config.database_base_dir == tmp_path
    assert config.base_dir == tmp_path / "conf"
    assert config.migrations_dir == tmp_path / "conf" / "m"
    assert config.lock_timeout == 2.0 and config.keep_days == 0
    assert config.disable == ["rollback_restore"]
    config = load_config(path, database="sqlite:///d.db", cwd=tmp_path,
                         environ={"MIG_DATABASE": "sqlite:///e.db"})
    assert config.database == "sqlite:///d.db"
    config = load_config(path, cwd=tmp_path, environ={})
    assert config.database == "sqlite:///app.db" and config.database_base_dir == tmp_path / "conf"


@pytest.mark.parametrize(
    ("text", "needles"),
    [
        ('out_of_order = "maybe"', ("out_of_order", "allow", "error")),
        ("lock_timeout = true", ("lock_timeout",)),
        ("lock_timeout = -1", ("lock_timeout",)),
        ("table_prefix = 3", ("table_prefix",)),
        ('table_prefix = "my-app_"', ("table_prefix", "my-app_")),
        ('table_prefix = "x; DROP TABLE users; --"', ("table_prefix",)),
        ('databse = "sqlite:///x.db"', ("databse",)),
        ("[mig.retention]\nkeep_days = \"ten\"", ("keep_days",)),
        ("[mig.plugins]\ndisable = \"sqlfile\"", ("disable",)),
        ("[mig.plugins]\nenable = []", ("enable",)),
    ],
)
def test_invalid_config_names_the_key(tmp_path: Path, text: str, needles: tuple[str, ...]) -> None:
    path = tmp_path / "mig.toml"
    path.write_text("[mig]\n" + text + "\n")
    with pytest.raises(ConfigError) as info:
        load_config(path, environ={})
    for needle in needles:
        assert needle in str(info.value)


@pytest.mark.parametrize(
    ("setting", "needles"),
    [
        (
            {"backup": "sometimes"},
            ("backup = 'sometimes'", "full", "schema", "incremental", "none"),
        ),
        ({"rollback": "sideways"}, ("rollback = 'sideways'", "down", "restore", "auto")),
    ],
)
def test_backup_and_rollback_names_are_checked_against_the_installed_plugins(
    mig_project, setting: dict[str, str], needles: tuple[str, ...]
) -> None:
    # Plugins may add backup types and rollback methods, so these two are checked once the
    # plugins are loaded: still exit 2, naming the key and every allowed value.
    mig_project.write_config(**setting)
    result = mig_project.run("status")
    assert result.code == 2, result
    for needle in needles:
        assert needle in result.err, (needle, result.err)



def test_another_table_prefix(project: Project) -> None:
    project.write_config(table_prefix="app_mig_")
    project.migrate()
    assert project.tables() == {
        "a", "app_mig_migration_metadata", "app_mig_migration_executions",
        "app_mig_backup_info", "app_mig_schema_version", "app_mig_schema_snapshots",
    }
    assert "[x] 001_create_a" in project.ok("graph")


def test_init(tmp_path: Path) -> None:
    project = Project(tmp_path / "p")
    project.config_path.unlink()
    project.migrations_dir.rmdir()
    code, out, err = project.run("init")
    assert code == 0, err
    data = tomllib.loads(project.config_path.read_text())
    assert data["mig"]["database"] == "sqlite:///app.db"
    assert data["mig"]["backup"] in ("full", "schema", "data", "incremental", "none")
    assert project.migrations_dir.is_dir()
    backups = project.path / "backups"
    assert stat.S_IMODE(backups.stat().st_mode) == 0o700
    config = load_config(project.config_path, environ={})
    assert config.migrations_dir == project.migrations_dir
    code, _, err = project.run("init")
    assert code == 2 and "already exists" in err
    code, _, err = project.run("--config", "nowhere/mig.toml", "init")
    assert code == 2 and "nowhere" in err and "does not exist" in err
    # A fresh folder with its own URL.
    other = tmp_path / "q"
    other.mkdir()
    code, _, err = project.run("init", "--database", "sqlite:///data.db", cwd=other)
    assert code == 0, err
    assert tomllib.loads((other / "mig.toml").read_text())["mig"]["database"] == (
        "sqlite:///data.db"
    )


def test_new_numbers_the_next_file(mig_project: Project) -> None:
    out = mig_project.ok("new", "Add users", "--type", "table_creation", "--author", "Ann",
                         "--description", "the users")
    first = Path(out.strip())
    assert first == mig_project.migrations_dir / "001_add_users.sql"
    text = first.read_text()
    for line in ("-- @name: Add users", "-- @type: table_creation", "-- @author: Ann",
                 "-- @description: the users", "-- @dependencies: []"):
        assert line in text
    out = mig_project.ok("new", "Second step", "--depends", "001_add_users")
    second = Path(out.strip())
    assert second.name == "002_second_step.sql"
    assert '-- @dependencies: ["001_add_users"]' in second.read_text()
    code, _, err = mig_project.run("new", "Third", "--depends", "999_nothing")
    assert code == 2 and "999_nothing" in err
    assert sorted(p.name for p in mig_project.migrations_dir.iterdir()) == [
        "001_add_users.sql", "002_second_step.sql"
    ]
    # Templates validate and apply as no-ops.
    assert "2 migration(s)" in mig_project.ok("validate")
    mig_project.ok("up")
    assert json.loads(mig_project.ok("status", "--json"))["current_version"] == "002"


def test_new_keeps_the_width_of_existing_versions(mig_project: Project) -> None:
    mig_project.table_migration("0009", "a")
    out = mig_project.ok("new", "next")
    assert Path(out.strip()).name == "0010_next.sql"


def test_plugins_json_lists_the_installed_plugins(mig_project: Project) -> None:
    plugins = {p["name"]: p for p in json.loads(mig_project.ok("plugins", "--json"))}
    expected = {
        "sqlfile": "mig-sqlfile",
        "sqlite_dialect": "mig-sqlite",
        "rollback_down": "mig-rollback-down",
    }
    for name, dist in expected.items():
        assert plugins[name]["distribution"] == dist
        assert plugins[name]["version"]
        assert plugins[name]["error"] is None
        assert plugins[name]["hooks"]
    assert "mig_register_dialects" in plugins["sqlite_dialect"]["hooks"]
    assert "mig_parse_migration" in plugins["sqlfile"]["hooks"]
    out = mig_project.ok("plugins")
    assert "mig-sqlite" in out


def test_disabled_plugins_are_not_loaded(mig_project: Project) -> None:
    mig_project.write_config(plugins={"disable": ["rollback_down"]})
    names = {p["name"] for p in json.loads(mig_project.ok("plugins", "--json"))}
    assert "rollback_down" not in names and "sqlfile" in names
    mig_project.table_migration("001", "a")
    mig_project.ok("up")
    code, _, err = mig_project.run("down", "--method", "down")
    assert code == 2 and "--method = 'down' is not one of" in err
    assert "disabled: rollback_down" in err
    assert "a" in mig_project.tables()


def test_missing_migrations_folder(mig_project: Project) -> None:
    mig_project.migrations_dir.rmdir()
    code, _, err = mig_project.run("status")
    assert code == 2 and "migrations" in err and "does not exist" in err
