"""The plugin surface as a plugin author meets it: broken, incompatible, conflicting and
unmet plugins are reported by name and never break commands that do not need them."""

from __future__ import annotations

import json
import shutil
import textwrap
from pathlib import Path

import pytest
from mig import hookdoc, hookimpl, hookspecs, protocols
from mig.errors import PluginError

ROOT = Path(__file__).resolve().parents[1]


def fake_distribution(site: Path, dist: str, entry: str, module: str, code: str | None) -> None:
    """A real installed distribution as importlib.metadata sees one: a ``.dist-info`` folder
    with an entry point in group ``mig``, and (unless ``code`` is None) its module."""
    info = site / f"{dist.replace('-', '_')}-1.0.dist-info"
    info.mkdir(parents=True)
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {dist}\nVersion: 1.0\n")
    (info / "entry_points.txt").write_text(f"[mig]\n{entry} = {module}\n")
    if code is not None:
        (site / f"{module}.py").write_text(textwrap.dedent(code))


@pytest.fixture
def site(tmp_path: Path) -> Path:
    path = tmp_path / "site"
    path.mkdir()
    return path


def plugins_json(project, site: Path) -> dict[str, dict]:
    result = project.run("plugins", "--json", env={"PYTHONPATH": str(site)})
    assert result.code == 0, result.err
    return {p["name"]: p for p in json.loads(result.out)}


def status_still_works(project, site: Path) -> None:
    project.table_migration("001", "things")
    result = project.run("up", env={"PYTHONPATH": str(site)})
    assert result.code == 0, result.err
    assert project.run("status", env={"PYTHONPATH": str(site)}).code == 0


def test_plugins_json_lists_distribution_version_api_and_hooks(mig_project):
    result = mig_project.run("plugins", "--json")
    listed = {p["name"]: p for p in json.loads(result.out)}
    sqlite = listed["sqlite_dialect"]
    assert sqlite["distribution"] == "mig-sqlite"
    assert sqlite["version"]
    assert sqlite["api_version"] == hookspecs.API_VERSION
    assert "mig_register_dialects" in sqlite["hooks"]
    assert sqlite["error"] is None
    assert listed["sqlfile"]["hooks"] == ["mig_parse_migration", "mig_parse_split"]


def test_a_plugin_installed_or_removed_between_commands_is_seen_at_once(mig_project, site):
    # Entry points are cached between commands (mig.caches); installing or removing a
    # distribution changes its site folder, which makes the next command look again.
    assert "hello" not in plugins_json(mig_project, site)
    fake_distribution(site, "mig-hello", "hello", "mig_hello", """
        from mig import hookimpl

        @hookimpl
        def mig_register_dialects():
            return []
    """)
    listed = plugins_json(mig_project, site)
    assert listed["hello"]["distribution"] == "mig-hello" and listed["hello"]["error"] is None
    assert listed["hello"]["hooks"] == ["mig_register_dialects"]
    shutil.rmtree(site / "mig_hello-1.0.dist-info")
    assert "hello" not in plugins_json(mig_project, site)
    assert "sqlite_dialect" in plugins_json(mig_project, site)


def test_unimportable_plugin_is_reported_and_others_keep_working(mig_project, site):
    fake_distribution(site, "mig-broken", "broken", "mig_broken_missing", None)
    listed = plugins_json(mig_project, site)
    assert "cannot be imported" in listed["broken"]["error"]
    assert "mig-broken 1.0" in listed["broken"]["error"]
    status_still_works(mig_project, site)


def test_hook_with_wrong_signature_is_refused_by_name(mig_project, site):
    fake_distribution(site, "mig-wrongsig", "wrongsig", "mig_wrongsig", """
        from mig import hookimpl

        @hookimpl
        def mig_register_dialects(flavour):
            return []
    """)
    listed = plugins_json(mig_project, site)
    error = listed["wrongsig"]["error"]
    assert "wrong signature" in error and "'wrongsig' (mig-wrongsig 1.0)" in error
    status_still_works(mig_project, site)


def test_misspelt_hook_is_refused(mig_project, site):
    fake_distribution(site, "mig-typo", "typo", "mig_typo", """
        from mig import hookimpl

        @hookimpl
        def mig_register_dialect():
            return []
    """)
    listed = plugins_json(mig_project, site)
    assert "mig_register_dialect, which is not a mig hook" in listed["typo"]["error"]
    status_still_works(mig_project, site)


def test_plugin_needing_a_newer_api_is_refused(mig_project, site):
    fake_distribution(site, "mig-future", "future", "mig_future", """
        MIG_API_VERSION = 99
    """)
    listed = plugins_json(mig_project, site)
    assert "needs mig plugin API 99" in listed["future"]["error"]
    assert "mig-future 1.0" in listed["future"]["error"]
    status_still_works(mig_project, site)


def test_two_plugins_claiming_one_backup_type_conflict_only_where_used(mig_project, site):
    code = """
        from mig import hookimpl
        from mig.protocols import BackupStrategy

        class Twin(BackupStrategy):
            name = "twin"
            chained = False

        @hookimpl
        def mig_register_backup_types():
            return [Twin]
    """
    fake_distribution(site, "mig-twin-a", "twin_a", "mig_twin_a", code)
    fake_distribution(site, "mig-twin-b", "twin_b", "mig_twin_b", code)
    status_still_works(mig_project, site)
    result = mig_project.run("backup", "create", "--type", "twin", env={"PYTHONPATH": str(site)})
    assert result.code == 2
    assert "two plugins register the backup type 'twin'" in result.err
    assert "twin_a" in result.err and "twin_b" in result.err
    assert "Traceback" not in result.err


def test_class_that_does_not_subclass_its_protocol_is_refused_where_used(mig_project, site):
    fake_distribution(site, "mig-loose", "loose", "mig_loose", """
        from mig import hookimpl

        class LooseStorage:
            name = "loose"

            def __init__(self, location, *, options):
                pass

        @hookimpl
        def mig_register_storage_targets():
            return [LooseStorage]
    """)
    status_still_works(mig_project, site)
    mig_project.write_config(storage="loose")
    result = mig_project.run("backup", "create", env={"PYTHONPATH": str(site)})
    assert result.code == 2
    assert result.err.strip().endswith(
        "plugin 'loose' registers the storage target class mig_loose.LooseStorage, which does"
        " not subclass mig.protocols.StorageTarget"
    ), result.err
    assert "Traceback" not in result.err


class _Registers:
    """A plugin registering ``classes`` through the registry hook ``hook``."""

    def __init__(self, hook: str, classes: list[object]) -> None:
        setattr(self, hook, hookimpl(specname=hook)(lambda: classes))


def _loose(name: str) -> type:
    return type("Loose", (), {"name": name, "__module__": "fake_plugin"})


REGISTRIES = [
    ("mig_register_dialects", "dialects", "dialect", protocols.Dialect),
    ("mig_register_backup_types", "backup_types", "backup type", protocols.BackupStrategy),
    ("mig_register_storage_targets", "storage_targets", "storage target",
     protocols.StorageTarget),
    ("mig_register_rollback_methods", "rollback_methods", "rollback method",
     protocols.RollbackMethod),
]


@pytest.mark.parametrize(("hook", "registry", "what", "protocol"), REGISTRIES)
def test_each_registry_refuses_a_class_outside_its_protocol(
    register_plugin, hook, registry, what, protocol
):
    plugins = register_plugin(_Registers(hook, [_loose("loose")]), name="fake")
    with pytest.raises(PluginError) as caught:
        getattr(plugins, registry)()
    assert str(caught.value) == (
        f"plugin 'fake' registers the {what} class fake_plugin.Loose, which does not subclass"
        f" mig.protocols.{protocol.__name__}"
    )


@pytest.mark.parametrize(("hook", "registry", "what", "protocol"), REGISTRIES)
def test_each_registry_takes_a_subclass_with_the_protocols_defaults(
    register_plugin, hook, registry, what, protocol
):
    member = type("Member", (protocol,), {"name": "member"})
    plugins = register_plugin(_Registers(hook, [member]), name="fake")
    assert getattr(plugins, registry)()["member"] is member


def test_registries_refuse_an_instance_and_leave_executor_factories_alone(register_plugin):
    instance = type("Storage", (protocols.StorageTarget,), {"name": "instance"})
    plugins = register_plugin(
        _Registers("mig_register_storage_targets", [instance.__new__(instance)]), name="fake"
    )
    with pytest.raises(PluginError, match="^plugin 'fake' registers the storage target class"
                       " <.*Storage object at .*>, which does not subclass"):
        plugins.storage_targets()

    def factory(inner, *, options, config):
        return inner

    factory.name = "plain"  # type: ignore[attr-defined]
    plugins = register_plugin(_Registers("mig_register_executors", [factory]), name="fake")
    assert plugins.executors()["plain"] is factory


def test_protocol_defaults_reach_explicit_subclasses():
    class Strategy(protocols.BackupStrategy):
        name = "s"
        chained = False

    class Plain(protocols.Dialect):
        name = "plain"

    dialect = Plain("plain://", base_dir=ROOT, options={})
    assert Strategy.keeps_schema is False
    assert Strategy().calls_finish(dialect) is False
    assert dialect.backup_handler("full") is None
    assert protocols.BackupHandler.finishes_atomically is False


def test_chained_types_share_the_max_chain_setting():
    from types import SimpleNamespace

    from mig.backup_types import max_chain
    from mig.errors import ConfigError

    def ctx(table):
        return SimpleNamespace(config=SimpleNamespace(options={"incremental": table}))

    assert max_chain(ctx({}), "incremental") == 50
    assert max_chain(ctx({"max_chain": 3, "hash": "blake2b"}), "incremental") == 3
    for bad in (0, "many", True):
        with pytest.raises(ConfigError, match="^incremental.max_chain must be a whole number"):
            max_chain(ctx({"max_chain": bad}), "incremental")


def test_disabled_plugin_that_another_needs(mig_project, site):
    fake_distribution(site, "mig-base", "base_thing", "mig_base_thing", "")
    fake_distribution(site, "mig-addon", "addon", "mig_addon", """
        MIG_REQUIRES = ("base_thing",)
    """)
    mig_project.write_config(plugins={"disable": ["base_thing"]})
    listed = plugins_json(mig_project, site)
    assert "base_thing" not in listed
    assert listed["addon"]["error"] == (
        "plugin 'addon' (mig-addon 1.0) needs 'base_thing', which is disabled in [mig.plugins]"
    )
    status_still_works(mig_project, site)


def test_missing_dialect_error_names_the_broken_plugin(mig_project, site):
    mig_project.write_config(plugins={"disable": ["sqlite_dialect"]})
    result = mig_project.run("status")
    assert result.code == 2
    assert "no dialect plugin handles 'sqlite' URLs" in result.err
    assert "disabled: sqlite_dialect" in result.err


def test_hook_reference_in_docs_is_generated_from_the_hookspecs():
    doc = ROOT / "docs" / "plugins.md"
    assert hookdoc.section(doc) == hookdoc.render(), (
        "docs/plugins.md is stale: run `python -m mig.hookdoc docs/plugins.md`"
    )
    for name in hookspecs.all_hooks():
        assert f"### `{name}`" in doc.read_text()


def test_every_hookspec_has_a_full_docstring_and_since_version():
    for name, func in hookspecs.all_hooks().items():
        doc = func.__doc__ or ""
        assert name.startswith("mig_") and len(doc.split()) > 15, name
        assert "Since API" in doc, name
