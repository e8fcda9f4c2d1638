from __future__ import annotations

from importlib.metadata import entry_points

import mig_sqlfile.plugin
from mig import Statement
from mig.plugins import Plugins


def test_entry_point_names_the_plugin_module():
    (ep,) = [ep for ep in entry_points(group="mig") if ep.name == "sqlfile"]
    assert ep.value == "mig_sqlfile.plugin"
    assert ep.load() is mig_sqlfile.plugin


def test_hooks_work_through_the_plugin_manager(tmp_path):
    plugins = Plugins(autoload=False)
    plugins.register(mig_sqlfile.plugin, name="sqlfile")
    plugins.load()
    info = {i.name: i for i in plugins.plugin_infos()}["sqlfile"]
    assert info.api_version == 1
    assert info.hooks == ["mig_parse_migration", "mig_parse_split"]

    path = tmp_path / "001_users.sql"
    path.write_text("-- @name: Users\n-- UP\nCREATE TABLE u (id INT);\n-- DOWN\nDROP TABLE u;\n")
    migration = plugins.parse_migration(path, path.read_text())
    assert migration.id == "001_users"
    assert plugins.parse_migration(tmp_path / "notes.txt", "hello") is None
    assert plugins.split(migration.down_sql, "sqlite", migration.down_line, path) == [
        Statement("DROP TABLE u", 5)
    ]
