"""mig-formats' ``plain`` format (Supabase, Atlas, hand-rolled ``<version>_<name>.sql`` files
with no markers) on real SQLite files: detection that never steals another tool's folder or
mig's own, the whole file as an irreversible UP, name order, and the errors."""

from __future__ import annotations

import json
import re
import sqlite3
from pathlib import Path

import pytest
from format_folders import FOLDERS, write
from mig import MigrationFileError
from mig.plugins import Plugins
from mig.testing import Project
from mig_formats import detect, load_folder

USERS = "CREATE TABLE members (id INTEGER PRIMARY KEY, handle TEXT NOT NULL UNIQUE);\n"
NOTES = ("-- notes belong to a member\nCREATE TABLE notes (id INTEGER PRIMARY KEY,"
         " member_id INTEGER REFERENCES members (id), body TEXT);\n"
         "INSERT INTO members (id, handle) VALUES (1, 'semi;colon');\n")
TRIGGER = ("CREATE TRIGGER notes_touch AFTER INSERT ON notes BEGIN\n"
           "  UPDATE members SET handle = handle || '!' WHERE id = NEW.member_id;\nEND;\n")

SUPABASE = {
    "20230712094349_create_members.sql": USERS,
    "20230712100000_create_notes.sql": NOTES,
    "20230801080000_touch_trigger.sql": TRIGGER,
}
ATLAS = {
    "20221114165732_init.sql": USERS,
    "20221114170000_notes.sql": NOTES,
    # not a migration: Atlas's integrity file (as `atlas migrate hash` writes it for these
    # two files), checked as Atlas checks it
    "atlas.sum": "h1:0G0MzH986WsjxQ5TIBpmMqnXm15nljKVcT595tKBotE=\n"
                 "20221114165732_init.sql h1:zxkjzOaxw/GbtOvBxqBg5h+sLDavjLC7HGSqqMTESmU=\n"
                 "20221114170000_notes.sql h1:QGJ0/rP/WHqdCXA+9v/4DGlnDcYv8fXJdkKO4TNu+Uo=\n",
}


def load(path: Path, fmt: str = "plain") -> list:
    found = load_folder(path, fmt)
    assert found is not None
    return Plugins().load().resolve_order(found[1])


def test_supabase_and_atlas_folders_are_detected_as_plain(tmp_path: Path) -> None:
    supabase = write(tmp_path / "supabase" / "migrations", SUPABASE)
    atlas = write(tmp_path / "atlas", ATLAS)
    assert detect(supabase) == detect(atlas) == "plain"
    ms = load(supabase, "auto")
    assert [m.id for m in ms] == [n.removesuffix(".sql") for n in SUPABASE]
    assert [m.version for m in ms] == ["20230712094349", "20230712100000", "20230801080000"]
    first = ms[0]
    assert first.up_sql == USERS and first.down_sql == "" and not first.reversible
    assert first.transactional and first.name == "create members"
    assert [m.id for m in load(atlas, "atlas")] == ["20221114165732_init", "20221114170000_notes"]
    # the aliases name the same format
    assert load_folder(atlas, "supabase") == load_folder(atlas, "plain")


@pytest.mark.parametrize("tool", list(FOLDERS))
def test_other_tools_folders_are_never_plain(tmp_path: Path, tool: str) -> None:
    # Their files have markers or names of their own, checked before plain ones; a plain
    # file added beside them does not change that.
    path = write(tmp_path / "m", {**FOLDERS[tool][0], "99999_extra.sql": "SELECT 1;\n"})
    assert detect(path) == tool


def test_mig_files_are_never_plain(mig_project: Project, tmp_path: Path) -> None:
    mig_project.table_migration("001", "a")
    (mig_project.migrations_dir / "002_b.sql").write_text(USERS)  # a stray marker-less file
    assert detect(mig_project.migrations_dir) is None
    mig_project.write_config(migrations_format="auto")
    result = mig_project.run("validate")
    assert result.code == 2 and "002_b.sql" in result.err and "not a mig migration" in result.err
    # Named explicitly, plain refuses mig's file at its marker's line.
    mig_project.write_config(migrations_format="plain")
    result = mig_project.run("validate")
    assert result.code == 2
    assert "001_create_a.sql:" in result.err and "mig migration file" in result.err
    with pytest.raises(MigrationFileError, match="'-- UP' marker") as info:
        load(write(tmp_path / "x", {"1_x.sql": "-- a plain start\nSELECT 1;\n-- UP\n"}))
    assert info.value.line == 3


def test_supabase_folder_runs_with_up_status_and_down(mig_project: Project) -> None:
    write(mig_project.migrations_dir, SUPABASE)
    mig_project.write_config(migrations_format="auto", backup="full")
    mig_project.ok("up", "20230712100000")
    status = json.loads(mig_project.ok("status", "--json"))
    assert [m["id"] if isinstance(m, dict) else m for m in status["pending"]] == [
        "20230801080000_touch_trigger"]
    out = mig_project.ok("up")
    assert "database is at version 20230801080000" in out
    assert mig_project.applied() == [n.removesuffix(".sql") for n in SUPABASE]
    assert mig_project.query("SELECT handle FROM members") == [("semi;colon",)]
    with sqlite3.connect(mig_project.db_path) as conn:  # the trigger body was one statement
        conn.execute("INSERT INTO notes (member_id, body) VALUES (1, 'x')")
    assert mig_project.query("SELECT handle FROM members") == [("semi;colon!",)]
    assert "current version: 20230801080000" in mig_project.ok("status")
    # No DOWN: rolling back by DOWN is refused, by the backup taken before it works.
    refused = mig_project.run("down", "--method", "down")
    assert refused.code == 1 and "notes_touch" not in refused.err
    assert "20230801080000" in mig_project.ok("status")
    mig_project.ok("down", "--yes")
    assert "current version: 20230712100000" in mig_project.ok("status")
    names = {n for (n,) in mig_project.query("SELECT name FROM sqlite_master")}
    assert "notes_touch" not in names and {"members", "notes"} <= names


def test_atlas_directives_and_own_transactions(tmp_path: Path) -> None:
    path = write(tmp_path / "m", {
        "1_a.sql": "-- atlas:txmode none\n-- atlas:nolint\n\nCREATE TABLE a (x int);\n",
        "2_b.sql": "BEGIN;\nCREATE TABLE b (x int);\nCOMMIT;\n",
        "3_c.sql": "CREATE INDEX CONCURRENTLY c ON a (x);\n",
        "4_d.sql": "-- atlas:txmode file\nCREATE TABLE d (x int);\n",
    })
    assert [m.transactional for m in load(path)] == [False, False, False, True]
    with pytest.raises(MigrationFileError, match="atlas:delimiter") as info:
        load(write(tmp_path / "d", {"1_p.sql": "-- a\n-- atlas:delimiter //\nSELECT 1//\n"}))
    assert info.value.line == 2
    with pytest.raises(MigrationFileError, match="none, file or all"):
        load(write(tmp_path / "t", {"1_p.sql": "-- atlas:txmode sometimes\n\nSELECT 1;\n"}))
    # Directives are the leading comments only when a blank line parts them from the SQL, as
    # Atlas reads them: here the comment belongs to the statement.
    (attached,) = load(write(tmp_path / "a", {"1_p.sql": "-- atlas:txmode none\nSELECT 1;\n"}))
    assert attached.transactional


def test_atlas_sum_is_checked_as_atlas_checks_it(tmp_path: Path) -> None:
    from mig_formats.plain import atlas_sum

    path = write(tmp_path / "atlas", ATLAS)
    assert [h for _, h in atlas_sum(path, ["20221114165732_init.sql", "20221114170000_notes.sql"])
            ] == ["zxkjzOaxw/GbtOvBxqBg5h+sLDavjLC7HGSqqMTESmU=",
                  "QGJ0/rP/WHqdCXA+9v/4DGlnDcYv8fXJdkKO4TNu+Uo="]
    # edited after `atlas migrate hash`: the first file that differs is named
    (path / "20221114165732_init.sql").write_text(USERS.replace("UNIQUE", ""))
    with pytest.raises(MigrationFileError, match="does not match atlas.sum .line 2.") as info:
        load(path)
    assert info.value.path == path / "20221114165732_init.sql"
    # added without hashing (a second branch's migration, say)
    path = write(tmp_path / "added", {**ATLAS, "20221114165800_between.sql": "SELECT 1;\n"})
    with pytest.raises(MigrationFileError, match="not in atlas.sum") as info:
        load(path)
    assert info.value.path == path / "20221114165800_between.sql"
    # removed
    path = write(tmp_path / "removed", ATLAS)
    (path / "20221114165732_init.sql").unlink()
    with pytest.raises(MigrationFileError, match="lists 20221114165732_init.sql") as info:
        load(path)
    assert info.value.line == 2
    # the sum file edited by hand
    sums = {**ATLAS, "atlas.sum": ATLAS["atlas.sum"].replace("h1:0G0M", "h1:1G0M")}
    with pytest.raises(MigrationFileError, match="edited by hand"):
        load(write(tmp_path / "hand", sums))
    # "-- atlas:sum ignore" on the first line leaves a file's content out of the sum
    first = "20221114165732_init.sql h1:zxkjzOaxw/GbtOvBxqBg5h+sLDavjLC7HGSqqMTESmU=\n"
    ignored = {**ATLAS, "20221114170000_notes.sql": "-- atlas:sum ignore\n" + NOTES,
               "atlas.sum": "h1:sjUqSBeqsMgdYIdnT/Fcjy+O5ytf0GN5AOmtqZEu2Jw=\n" + first}
    assert len(load(write(tmp_path / "ignored", ignored))) == 2


@pytest.mark.parametrize("files, message", [
    ({"1_a.sql": "SELECT 1;\n", "01_b.sql": "SELECT 2;\n"}, "duplicate version 1"),
    ({"9_a.sql": "SELECT 1;\n", "10_b.sql": "SELECT 2;\n"},
     "9_a.sql comes after 10_b.sql by name .* same number of digits"),
    ({"1_a.sql": "SELECT 1;\n", "seed.sql": "SELECT 2;\n"}, "seed.sql: not named <version>"),
])
def test_folders_plain_cannot_order_are_refused(
    mig_project: Project, files: dict[str, str], message: str
) -> None:
    write(mig_project.migrations_dir, files)
    mig_project.write_config(migrations_format="plain")
    result = mig_project.run("validate")
    assert result.code == 2
    assert re.search(message, result.err), result.err
    assert mig_project.run("up").code == 2 and mig_project.executions() == []


def test_plain_converts_but_has_no_history_to_adopt(mig_project: Project) -> None:
    write(mig_project.migrations_dir, ATLAS)
    mig_project.write_config(migrations_format="atlas")
    report = json.loads(mig_project.ok("import", "--convert", "out", "--json"))
    assert report["format"] == "plain" and len(report["converted"]) == 2
    text = (mig_project.path / "out" / report["converted"][0]).read_text()
    assert "-- @reversible: false" in text and text.endswith("-- UP\n" + USERS)
    result = mig_project.run("import", "--history")
    assert result.code == 2 and "cannot read plain's history" in result.err
    assert "mig baseline" in result.err
