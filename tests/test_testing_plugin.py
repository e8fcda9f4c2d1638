"""The ``mig.testing`` fixtures themselves, and a fake plugin seeing real runs."""

from __future__ import annotations

from typing import Any

import pytest
from mig import MigrationEngine, MigrationStatus, hookimpl
from mig.config import load_config
from mig.plugins import Plugins
from mig.testing import Project

pytest_plugins = ("pytester",)


class Recorder:
    def __init__(self) -> None:
        self.events: list[tuple[str, str, str]] = []

    @hookimpl
    def mig_migration_after(self, ctx: Any, migration: Any, execution: Any, direction: str) -> None:
        self.events.append((direction, migration.id, execution.status.value))


def test_a_fake_plugin_sees_applies_and_rollbacks(
    mig_project: Project, register_plugin: Any
) -> None:
    mig_project.table_migration("001", "a")
    mig_project.write_migration("002_bad", "SELECT * FROM nowhere;", "SELECT 1;")
    recorder = Recorder()
    plugins = register_plugin(recorder, Plugins())
    assert any(info.hooks == ["mig_migration_after"] for info in plugins.infos.values())
    engine = MigrationEngine(config=load_config(mig_project.config_path), plugins=plugins)
    executions = engine.migrate_latest()
    assert [e.status for e in executions] == [MigrationStatus.COMPLETED, MigrationStatus.FAILED]
    assert engine.rollback_migration(executions[0].execution_id)
    engine.close()
    assert recorder.events == [
        ("up", "001_create_a", "COMPLETED"),
        ("up", "002_bad", "FAILED"),
        ("down", "001_create_a", "COMPLETED"),
    ]


def test_register_plugin_always_unregisters(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        """
        from mig import hookimpl
        from mig.plugins import Plugins

        SHARED = Plugins(autoload=False)

        class Fake:
            @hookimpl
            def mig_run_finished(self, ctx, executions):
                pass

        def test_registers_then_fails(register_plugin):
            register_plugin(Fake(), SHARED, name="fake")
            assert SHARED.pm.get_plugin("fake") is not None
            raise AssertionError("boom")

        def test_gone_afterwards():
            assert SHARED.pm.get_plugin("fake") is None
            assert "fake" not in SHARED.infos
        """
    )
    result = pytester.runpytest_inprocess("-p", "mig.testing", "-p", "no:cacheprovider")
    result.assert_outcomes(passed=1, failed=1)


def test_project_fixtures(mig_project: Project, example_project: Project) -> None:
    assert mig_project.config_path.read_text().startswith("[mig]")
    assert list(mig_project.migrations_dir.iterdir()) == []
    assert not mig_project.db_path.exists() and mig_project.tables() == set()
    assert len(list(example_project.migrations_dir.glob("*.sql"))) == 5
    path = mig_project.write_migration("001_x", "SELECT 1;", None, {"reversible": False,
                                                                      "dependencies": []})
    text = path.read_text()
    assert "-- @reversible: false" in text and "-- @dependencies: []" in text
    assert "-- DOWN" not in text
    code, out, err = mig_project.run("validate")
    assert (code, err) == (0, "") and "1 migration(s)" in out


class LockProbe:
    """Records, at the end of each run, whether the migration lock was free again."""

    def __init__(self) -> None:
        self.free: list[bool] = []

    @hookimpl
    def mig_run_finished(self, ctx: Any, executions: Any) -> None:
        from mig import LockTimeout

        try:
            with ctx.dialect.lock(0):
                self.free.append(True)
        except LockTimeout:
            self.free.append(False)


def test_run_finished_is_called_after_the_lock_is_released(
    mig_project: Project, register_plugin: Any
) -> None:
    mig_project.table_migration("001", "a")
    mig_project.table_migration("002", "b")
    probe = LockProbe()
    plugins = register_plugin(probe, Plugins())
    with MigrationEngine(config=load_config(mig_project.config_path), plugins=plugins) as engine:
        first = engine.migrate_latest()
        engine.down()
        engine.rollback(first[0].execution_id)
    assert probe.free == [True, True, True]
