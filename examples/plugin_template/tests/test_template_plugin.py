"""The template's own tests: they pass as copied, and show both ways to test a plugin."""

from __future__ import annotations

import json
import subprocess
import sys

import mig_template.plugin


def test_check_reports_tables_without_primary_key(mig_project, register_plugin):
    mig_project.write_migration(
        "001_tables", up="CREATE TABLE good (id INTEGER PRIMARY KEY); CREATE TABLE bad (x TEXT);",
        down="DROP TABLE bad; DROP TABLE good;",
    )
    assert mig_project.run("up").code == 0
    engine = mig_project.engine()
    plugins = engine.plugins.load()
    if plugins.pm.get_plugin("template") is None:  # not installed: register it for this test
        register_plugin(mig_template.plugin, plugins=plugins, name="template")
    problems = [p for p in engine.validate_database_integrity().problems
                if p.check == "template.primary_key"]
    assert [p.object for p in problems] == ["bad"]


def test_installed_plugin_is_found_through_its_entry_point():
    out = subprocess.run([sys.executable, "-m", "mig", "plugins", "--json"],
                         capture_output=True, text=True, check=False)
    listed = {p["name"]: p for p in json.loads(out.stdout)}
    assert "template" in listed, out.stderr
    assert listed["template"]["hooks"] == ["mig_integrity_check"]
    assert listed["template"]["error"] is None
