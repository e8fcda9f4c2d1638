"""The example plugins under examples/, installed with pip as a user would install them, and
driven through the CLI on the bundled example."""

from __future__ import annotations

import gzip
import json
import stat
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
EXAMPLES = ("storage_gzip", "executor_jsonl", "plugin_template")


@pytest.fixture(scope="session")
def installed(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    """The examples pip-installed (not editable) into a folder of their own; the returned
    environment puts that folder on the path of the CLI runs."""
    target = tmp_path_factory.mktemp("site")
    subprocess.run(
        [sys.executable, "-m", "pip", "install", "--quiet", "--no-deps", "--no-build-isolation",
         "--target", str(target), *(str(ROOT / "examples" / name) for name in EXAMPLES)],
        check=True,
    )
    return {"PYTHONPATH": str(target)}


def test_examples_are_listed_by_mig_plugins(example_project, installed):
    result = example_project.run("plugins", "--json", env=installed)
    listed = {p["name"]: p for p in json.loads(result.out)}
    assert listed["storage_gzip"]["distribution"] == "mig-storage-gzip"
    assert listed["storage_gzip"]["hooks"] == ["mig_register_storage_targets"]
    assert listed["executor_jsonl"]["hooks"] == ["mig_migration_before", "mig_register_executors"]
    assert listed["template"]["hooks"] == ["mig_integrity_check"]
    assert all(p["error"] is None for p in listed.values())


def test_gzip_storage_backs_up_verifies_and_restores(example_project, installed, tmp_path):
    second = tmp_path / "second-disk"
    example_project.write_config(
        backup="full", storage="gzip", options={"gzip": {"directory": str(second)}}
    )
    assert example_project.run("up", env=installed).code == 0
    stored = sorted(p for p in second.rglob("*.gz"))
    assert stored, "no backups in the second directory"
    assert not (example_project.path / "backups").exists() or not any(
        (example_project.path / "backups").rglob("data")
    )
    for path in stored:
        assert stat.S_IMODE(path.stat().st_mode) == 0o600
        with gzip.open(path) as fh:
            fh.read(1)  # really gzip
    listed = json.loads(example_project.run("backup", "list", "--json", env=installed).out)
    assert len(listed) == 5
    assert example_project.run("backup", "verify", env=installed).code == 0

    before_003 = next(b for b in listed if b["migration_id"] == "003_create_orders_table")
    result = example_project.run("backup", "restore", before_003["backup_id"], "--yes",
                                 env=installed)
    assert result.code == 0, result.err
    assert {"orders", "trades"}.isdisjoint(example_project.tables())
    assert {"users", "portfolio"} <= example_project.tables()

    # One flipped byte inside the compressed object is refused, and nothing changes.
    victim = second / before_003["backup_id"] / "data.gz"
    raw = bytearray(gzip.decompress(victim.read_bytes()))
    raw[len(raw) // 2] ^= 0xFF
    victim.write_bytes(gzip.compress(bytes(raw)))
    before = example_project.db_path.read_bytes()
    result = example_project.run("backup", "restore", before_003["backup_id"], "--yes",
                                 env=installed)
    assert result.code == 1
    assert "damaged" in result.err
    assert example_project.db_path.read_bytes() == before


def test_jsonl_executor_logs_every_statement(example_project, installed):
    example_project.write_config(
        executor="jsonl_log", options={"jsonl_log": {"path": "audit/statements.jsonl"}}
    )
    assert example_project.run("up", env=installed).code == 0
    lines = (example_project.path / "audit" / "statements.jsonl").read_text().splitlines()
    logged = [json.loads(line) for line in lines]
    engine = example_project.engine()
    # mig_migration_before: one start line before each migration's statements
    starts = [e["migration"] for e in logged if e.get("event") == "start"]
    assert starts == [m.id for m in engine.migrations()]
    assert logged[0] == {**logged[0], "event": "start", "migration": starts[0], "direction": "up"}
    entries = [e for e in logged if "event" not in e]
    expected = sum(len(engine.split(m, "up")) for m in engine.migrations())
    assert len(entries) == expected
    assert {e["migration"] for e in entries} == {m.id for m in engine.migrations()}
    assert all(e["ok"] and e["direction"] == "up" and e["ms"] >= 0 for e in entries)
    assert entries[0]["sql"].startswith("CREATE TABLE users")

    assert example_project.run("down", env=installed).code == 0
    last = json.loads(
        (example_project.path / "audit" / "statements.jsonl").read_text().splitlines()[-1]
    )
    assert last["direction"] == "down" and last["migration"] == "005_add_user_preferences"


def test_jsonl_executor_logs_the_failing_statement(mig_project, installed):
    mig_project.write_config(executor="jsonl_log")
    mig_project.write_migration(
        "001_bad", "CREATE TABLE a (id INTEGER);\nINSERT INTO nowhere VALUES (1);", "DROP TABLE a;"
    )
    result = mig_project.run("up", env=installed)
    assert result.code == 1
    entries = [json.loads(x) for x in
               (mig_project.path / "mig-statements.jsonl").read_text().splitlines()]
    assert entries[0]["event"] == "start" and entries[0]["migration"] == "001_bad"
    entries = entries[1:]
    assert [e["ok"] for e in entries] == [True, False]
    assert "no such table" in entries[1]["error"]
    assert "a" not in mig_project.tables()


def test_template_passes_its_own_tests(installed):
    env = {**installed}
    result = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider",
         str(ROOT / "examples" / "plugin_template" / "tests")],
        cwd=ROOT / "examples" / "plugin_template",
        env={**__import__("os").environ, **env},
        capture_output=True, text=True,
    )
    assert result.returncode == 0, result.stdout + result.stderr
