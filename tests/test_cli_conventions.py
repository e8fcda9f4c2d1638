"""Command-line conventions (issue 10, items 3, 5 and 6): help, version, completion, the
config found from a subfolder, a database that does not exist, "did you mean", --json,
dry runs, validate listing every bad file, history's page of 50, and the help cache."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from mig.testing import Project, server_unavailable

pytest_plugins = ["mig.testing"]

#: The console script's entry point (mig.launcher answers `mig --help` from its cache).
LAUNCHER = "import sys; sys.argv[0] = 'mig'; from mig.launcher import main; main()"


def launch(
    *args: str, cwd: Path, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    full = {k: v for k, v in os.environ.items() if k not in ("MIG_DATABASE", "MIG_CONFIG")}
    full.update(env or {})
    return subprocess.run([sys.executable, "-c", LAUNCHER, *args], cwd=cwd, env=full,
                          capture_output=True, text=True, timeout=60)


# -- help, version, completion ------------------------------------------------------------


def test_mig_alone_prints_help_and_succeeds(tmp_path: Path) -> None:
    for args in ((), ("-h",), ("--help",)):
        for cache in ("0", "1"):  # from typer, and from the launcher's cache
            proc = launch(*args, cwd=tmp_path, env={"MIG_NO_CACHE": cache,
                                                    "XDG_CACHE_HOME": str(tmp_path / "c")})
            assert proc.returncode == 0, proc.stderr
            assert proc.stdout.startswith("Usage: mig [OPTIONS] COMMAND"), proc.stdout
            assert "Commands:" in proc.stdout


def test_version_and_short_help(mig_project: Project) -> None:
    from mig import __version__

    assert mig_project.ok("--version").strip() == f"mig {__version__}"
    assert mig_project.ok("up", "-h").startswith("Usage: mig up [OPTIONS] [TARGET]")


HELP_OF_EVERY_COMMAND = """
import typer.main
from mig.cli import app
group = typer.main.get_command(app)
def walk(cmd, path):
    ctx = cmd.make_context(" ".join(path), [], resilient_parsing=True)
    print("=== " + " ".join(path))
    print(cmd.get_help(ctx))
    for name in getattr(cmd, "commands", {}):
        walk(cmd.commands[name], [*path, name])
walk(group, ["mig"])
"""


def test_help_has_no_placeholders_and_whole_summaries(tmp_path: Path) -> None:
    proc = subprocess.run([sys.executable, "-c", HELP_OF_EVERY_COMMAND], cwd=tmp_path,
                          capture_output=True, text=True, timeout=60, check=True)
    text = proc.stdout
    assert text.count("=== ") >= 15  # every command and the backup group's
    assert "<str>" not in text and "<int>" not in text and "<path>" not in text
    assert "{" not in text.replace("{task", "")  # no {execution_id}
    assert "EXECUTION_ID" in text and "[TARGET]" in text
    commands = text.split("Commands:")[1].split("===")[0]
    assert "..." not in commands  # summaries are whole, not cut at the width
    up = " ".join(text.split("=== mig up\n")[1].split("===")[0].split())
    assert "full | schema | data | incremental | none" in up  # --backup
    down = " ".join(text.split("=== mig down\n")[1].split("===")[0].split())
    assert "down | restore | auto" in down  # --method
    graph = text.split("=== mig graph\n")[1].split("===")[0]
    assert "text|dot|mermaid" in graph  # --format


def test_install_completion(mig_project: Project, tmp_path: Path) -> None:
    home = tmp_path / "home"
    home.mkdir()
    # typer finds the shell among the parent processes, which under pytest may hold none;
    # its own switch lets the shell be named instead
    env = {"HOME": str(home), "_TYPER_COMPLETE_TEST_DISABLE_SHELL_DETECTION": "1"}
    code, out, err = mig_project.run("--show-completion", "bash", env=env)
    assert code == 0, err
    assert "_MIG_COMPLETE" in out
    code, out, err = mig_project.run("--install-completion", "bash", env=env)
    assert code == 0, err
    assert "completion installed" in out
    assert "mig" in (home / ".bashrc").read_text()
    # the completion itself: what `mig st<TAB>` offers
    completion = mig_project.run(env={"_MIG_COMPLETE": "complete_bash",
                                      "COMP_WORDS": "mig st", "COMP_CWORD": "1"})
    assert "status" in completion.out


# -- the config, from a subfolder or MIG_CONFIG ----------------------------------------------


def test_config_found_from_a_subfolder_and_mig_config(mig_project: Project,
                                                      tmp_path: Path) -> None:
    mig_project.table_migration("001", "users")
    deep = mig_project.migrations_dir / "sub"
    deep.mkdir()
    code, out, err = mig_project.run("validate", cwd=deep)
    assert code == 0, err
    assert str(mig_project.migrations_dir) in out
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    code, out, err = mig_project.run("validate", cwd=elsewhere,
                                     env={"MIG_CONFIG": str(mig_project.config_path)})
    assert code == 0, err
    code, out, err = mig_project.run("validate", cwd=elsewhere)
    assert code == 2
    assert "no mig.toml found in" in err and "MIG_CONFIG" in err
    assert "migrations/migrations" not in err
    code, _, err = mig_project.run("validate", cwd=elsewhere,
                                   env={"MIG_CONFIG": str(tmp_path / "nope.toml")})
    assert code == 2 and "MIG_CONFIG" in err and "does not exist" in err


def test_did_you_mean(mig_project: Project) -> None:
    mig_project.table_migration("001", "users")
    mig_project.write_migration("002_posts", "CREATE TABLE posts (id INTEGER);",
                                "DROP TABLE posts;", {"dependencies": ["001_create_user"]})
    code, _, err = mig_project.run("validate")
    assert code == 2 and "did you mean '001_create_users'?" in err
    (mig_project.migrations_dir / "002_posts.sql").unlink()
    code, _, err = mig_project.run("up", "001_create_user")
    assert code == 2 and "did you mean '001_create_users'?" in err
    code, _, err = mig_project.run("stauts")
    assert code == 2 and "status" in err
    mig_project.config_path.write_text('[mig]\ndatabse = "sqlite:///app.db"\n')
    code, _, err = mig_project.run("status")
    assert code == 2 and "did you mean 'database'?" in err


# -- a database that does not exist ----------------------------------------------------------


@pytest.mark.parametrize("command", ["status", "plan", "history"])
def test_missing_sqlite_database(mig_project: Project, command: str) -> None:
    mig_project.table_migration("001", "users")
    code, out, err = mig_project.run(command)
    assert code == 2, out
    assert "does not exist" in err and "`mig up` creates it" in err
    code, out, err = mig_project.run("-d", "sqlite:///no/such/folder/app.db", command)
    assert code == 2, out
    assert "folder" in err and "does not exist" in err
    assert not mig_project.db_path.exists()  # reading created nothing


@pytest.mark.parametrize("url", [
    "postgresql://postgres@127.0.0.1:5432/mig_no_such_database",
    "mysql://root@127.0.0.1:3306/mig_no_such_database",
])
def test_missing_server_database(mig_project: Project, url: str) -> None:
    mig_project.table_migration("001", "users")
    code, out, err = mig_project.run("-d", url, "status")
    if "does not exist" not in err and ("connect" in err.lower() or "refused" in err.lower()):
        server_unavailable(err.strip())
    assert code == 2, (out, err)
    assert "mig_no_such_database" in err and "does not exist" in err


# -- JSON, dry runs, validate, history ------------------------------------------------------


def test_json_of_up_down_rollback(mig_project: Project) -> None:
    mig_project.table_migration("001", "users")
    mig_project.table_migration("002", "posts")
    up = json.loads(mig_project.ok("up", "--json"))
    assert up["ok"] is True and up["version"] == "002"
    assert [e["status"] for e in up["executions"]] == ["COMPLETED", "COMPLETED"]
    assert all(e["execution_time"] >= 0 for e in up["executions"])
    down = json.loads(mig_project.ok("down", "--json"))
    assert down["executions"][0]["migration_id"] == "002_create_posts"
    assert down["version"] == "001"
    first = up["executions"][0]["execution_id"]
    back = json.loads(mig_project.ok("rollback", first, "--json"))
    assert back["ok"] and back["executions"][0]["operation"] == "rollback"
    mig_project.write_migration("003_bad", "INSERT INTO nowhere VALUES (1);", "SELECT 1;")
    code, out, err = mig_project.run("up", "--json")
    assert code == 1
    failed = json.loads(out)
    assert failed["ok"] is False and "nowhere" in failed["error"]
    assert failed["executions"][-1]["status"] == "FAILED"


def test_failed_migration_says_it_was_rolled_back(mig_project: Project) -> None:
    mig_project.table_migration("001", "users")
    mig_project.write_migration("002_half", "CREATE TABLE half (id INTEGER);\n"
                                "INSERT INTO nowhere VALUES (1);", "DROP TABLE half;")
    code, out, err = mig_project.run("up")
    assert code == 1
    assert "002_half failed" in err
    assert "rolled back: the database is as before 002_half" in err
    assert "half" not in mig_project.tables()


def test_dry_runs_of_down_and_rollback(mig_project: Project) -> None:
    mig_project.table_migration("001", "users")
    up = json.loads(mig_project.ok("up", "--json"))
    out = mig_project.ok("down", "--dry-run")
    assert "DROP TABLE users;" in out and "nothing was changed" in out
    out = mig_project.ok("rollback", up["executions"][0]["execution_id"], "--dry-run")
    assert "DROP TABLE users;" in out
    assert "users" in mig_project.tables()


def test_validate_reports_every_bad_file(mig_project: Project) -> None:
    mig_project.table_migration("001", "users")
    (mig_project.migrations_dir / "002_a.sql").write_text("-- UP\nSELECT 1;\n")
    (mig_project.migrations_dir / "003_b.sql").write_text("-- @name: b\nno sections\n")
    code, out, err = mig_project.run("validate")
    assert code == 2
    assert "002_a.sql" in err and "003_b.sql" in err and "2 problems in" in err
    code, out, err = mig_project.run("validate", "--json")
    report = json.loads(out)
    assert code == 2 and report["ok"] is False
    assert sorted(Path(e["file"]).name for e in report["errors"]) == ["002_a.sql", "003_b.sql"]
    assert report["migrations"] == ["001_create_users"]


def test_history_newest_50_in_utc(mig_project: Project) -> None:
    for i in range(1, 53):
        mig_project.write_migration(f"{i:03d}_m", f"CREATE TABLE t{i} (id INTEGER);",
                                    f"DROP TABLE t{i};")
    mig_project.ok("up")
    out = mig_project.ok("history")
    assert "STARTED (UTC)" in out.splitlines()[0]
    assert sum(" apply " in line for line in out.splitlines()) == 50
    assert "--all" in out.splitlines()[-1]
    out = mig_project.ok("history", "--all")
    assert sum(" apply " in line for line in out.splitlines()) == 52
    assert mig_project.run("history", "--all", "-n", "3").code == 2


# -- the help cache --------------------------------------------------------------------------


def test_help_cache_needs_no_typer_and_follows_changes(mig_project: Project,
                                                      tmp_path: Path) -> None:
    env = {"XDG_CACHE_HOME": str(tmp_path / "cache")}
    probe = ("import sys\nsys.argv = ['mig', '--help']\nfrom mig.launcher import main\n"
             "try:\n    main()\nexcept SystemExit:\n    pass\n"
             "print('TYPER' if 'typer' in sys.modules else 'NO TYPER')")

    def run() -> str:
        full = {**os.environ, **env}
        return subprocess.run([sys.executable, "-c", probe], cwd=mig_project.path, env=full,
                              capture_output=True, text=True, check=True).stdout

    first = run()
    assert first.endswith("TYPER\n") and not first.endswith("NO TYPER\n")
    second = run()
    assert second.endswith("NO TYPER\n")
    assert second.removesuffix("NO TYPER\n") == first.removesuffix("TYPER\n")
    # a changed config file (it may disable a plugin with commands) rebuilds it
    mig_project.write_config(plugins={"disable": ["storage_s3"]})
    assert run().endswith("\nTYPER\n")
    assert run().endswith("NO TYPER\n")


PLUGIN = '''
import typer

import mig

MIG_API_VERSION = 1


@mig.hookimpl
def mig_cli_commands(app):
    @app.command("hello")
    def hello():
        """SUMMARY"""
        typer.echo("hello from a plugin")
'''


def test_plugin_commands_in_help_and_its_cache(mig_project: Project, tmp_path: Path) -> None:
    site = tmp_path / "site"
    (site / "mig_hello-1.0.dist-info").mkdir(parents=True)
    (site / "mig_hello-1.0.dist-info" / "METADATA").write_text(
        "Metadata-Version: 2.1\nName: mig-hello\nVersion: 1.0\n")
    (site / "mig_hello-1.0.dist-info" / "entry_points.txt").write_text("[mig]\nhello = mig_hello\n")
    module = site / "mig_hello.py"
    module.write_text(PLUGIN.replace("SUMMARY", "Say hello from a plugin."))
    env = {"PYTHONPATH": str(site), "XDG_CACHE_HOME": str(tmp_path / "cache")}

    def commands() -> str:
        proc = launch("--help", cwd=mig_project.path, env=env)
        assert proc.returncode == 0, proc.stderr
        return " ".join(proc.stdout.split("Commands:")[1].split())

    assert "hello Say hello from a plugin." in commands()  # loads the plugins
    assert "hello Say hello from a plugin." in commands()  # from the cache
    assert launch("hello", cwd=mig_project.path, env=env).stdout == "hello from a plugin\n"
    helo = launch("helo", cwd=mig_project.path, env=env)
    assert helo.returncode == 2 and "hello" in helo.stderr
    module.write_text(PLUGIN.replace("SUMMARY", "Greet the world."))
    os.utime(module, ns=(1, 1))  # a different mtime even on a coarse clock
    assert "hello Greet the world." in commands()
    env["PYTHONPATH"] = ""  # uninstalled
    assert "hello" not in commands()
