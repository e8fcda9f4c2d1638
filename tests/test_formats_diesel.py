"""mig-formats' ``diesel`` format on real SQLite files: ``<version>_<name>/up.sql`` and
``down.sql`` folders run in place with ``mig up``/``status``/``down``, ``metadata.toml``'s
``run_in_transaction``, the folder errors, and adopting ``__diesel_schema_migrations``.
(PostgreSQL, with Diesel's own initial-setup folder: test_dialects_formats_more.py.)"""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import pytest
from format_folders import FOLDERS, history_ddl, history_rows, write
from mig import DependencyError, MigrationFileError
from mig.plugins import Plugins
from mig.testing import Project
from mig_formats import detect, load_folder

LIBRARY = {
    "2023-05-10-081500_create_books/up.sql":
        "CREATE TABLE books (id INTEGER PRIMARY KEY, title TEXT NOT NULL);\n"
        "INSERT INTO books (id, title) VALUES (1, 'Dune; Messiah');\n",
    "2023-05-10-081500_create_books/down.sql": "DROP TABLE books;\n",
    "2023-05-11-120000_add_loans/up.sql":
        "CREATE TABLE loans (id INTEGER PRIMARY KEY,"
        " book_id INTEGER NOT NULL REFERENCES books (id));\n",
    "2023-05-11-120000_add_loans/down.sql": "DROP TABLE loans;\n",
    "2023-05-11-120000_add_loans/metadata.toml": "run_in_transaction = true\n",
    "2023-06-01-000000_book_isbn/up.sql": "ALTER TABLE books ADD COLUMN isbn TEXT;\n",
    # what `diesel migration generate` writes into down.sql: a comment, no SQL
    "2023-06-01-000000_book_isbn/down.sql": "-- This file should undo anything in `up.sql`\n",
    "2023-06-01-000000_book_isbn/NOTES.md": "files beside up.sql are ignored\n",
}
IDS = ["2023-05-10-081500_create_books", "2023-05-11-120000_add_loans",
       "2023-06-01-000000_book_isbn"]


def load(path: Path) -> list:
    found = load_folder(path, "diesel")
    assert found is not None
    return Plugins().load().resolve_order(found[1])


def test_diesel_folders_are_one_migration_each(tmp_path: Path) -> None:
    path = write(tmp_path / "migrations", {
        **LIBRARY, "README.md": "not a migration\n", ".keep": "",
        # Diesel's own first folder (diesel setup): a migration like the others
        "00000000000000_diesel_initial_setup/up.sql": "-- helper functions\nSELECT 1;\n",
        "00000000000000_diesel_initial_setup/down.sql": "SELECT 2;\n",
    })
    assert detect(path) == "diesel"
    ms = load(path)
    assert [m.id for m in ms] == ["00000000000000_diesel_initial_setup", *IDS]
    assert [m.version for m in ms] == ["0", "20230510081500", "20230511120000",
                                       "20230601000000"]
    assert [m.metadata["diesel_version"] for m in ms[1:]] == [
        "20230510081500", "20230511120000", "20230601000000"]
    books = ms[1]
    assert books.path == path / IDS[0] / "up.sql" and books.name == "create books"
    assert books.up_sql == LIBRARY[f"{IDS[0]}/up.sql"] and books.down_sql == "DROP TABLE books;\n"
    assert books.reversible and books.transactional
    assert [m.reversible for m in ms[1:]] == [True, True, False]  # comment-only down.sql


@pytest.mark.parametrize("toml, transactional", [
    ("run_in_transaction = false\n", False),
    ("run_in_transaction = true\n", True),
    # Diesel's default (true) is for no metadata.toml; a file without the key reads false
    ("# nothing but a comment\n", False),
])
def test_diesel_metadata_toml_says_whether_in_a_transaction(
    tmp_path: Path, toml: str, transactional: bool
) -> None:
    path = write(tmp_path / "m", {"2024-01-01-000000_a/up.sql": "SELECT 1;\n",
                                  "2024-01-01-000000_a/metadata.toml": toml,
                                  "2024-01-02-000000_b/up.sql": "SELECT 2;\n"})
    assert [m.transactional for m in load(path)] == [transactional, True]
    # no down.sql at all: irreversible, like an empty one
    assert [m.reversible for m in load(path)] == [False, False]


def test_diesel_folder_runs_with_up_status_and_down(mig_project: Project) -> None:
    write(mig_project.migrations_dir, LIBRARY)
    mig_project.write_config(migrations_format="auto", backup="full")
    mig_project.ok("up", IDS[1])
    state = json.loads(mig_project.ok("status", "--json"))
    assert [p["id"] if isinstance(p, dict) else p for p in state["pending"]] == IDS[2:]
    assert "database is at version 20230601000000" in mig_project.ok("up")
    assert mig_project.applied() == IDS
    assert mig_project.query("SELECT title FROM books") == [("Dune; Messiah",)]
    # the last down.sql holds no SQL: --method down is refused, the backup restores
    assert mig_project.run("down", "--method", "down").code == 1
    mig_project.ok("down", "--yes")
    assert [r[1] for r in mig_project.query("PRAGMA table_info(books)")] == ["id", "title"]
    # the next one down runs its down.sql
    mig_project.ok("down", "--method", "down", "--yes")
    assert "loans" not in mig_project.tables() and "books" in mig_project.tables()
    assert "current version: 20230510081500" in mig_project.ok("status")


@pytest.mark.parametrize("files, error, message", [
    ({"2024-01-01-000000_a/down.sql": "SELECT 1;\n"}, MigrationFileError,
     "2024-01-01-000000_a/ has no up.sql"),
    ({"init_users/up.sql": "SELECT 1;\n"}, MigrationFileError,
     "init_users/ is not named <version>_<name>"),
    ({"2024-01-01-000000_a/up.sql": "-- TODO\n"}, MigrationFileError, "up.sql holds no SQL"),
    ({"2024-01-01-000000_a/up.sql": "SELECT 1;\n",
      "2024-01-01-000000_a/metadata.toml": "run_in_transaction = \n"},
     MigrationFileError, "metadata.toml is not valid TOML"),
    ({"2024-01-01_a/up.sql": "SELECT 1;\n", "20240101_b/up.sql": "SELECT 2;\n"},
     DependencyError, "duplicate version 20240101"),
    ({"9_a/up.sql": "SELECT 1;\n", "10_b/up.sql": "SELECT 2;\n"}, DependencyError,
     "9_a comes after 10_b"),
])
def test_diesel_folder_errors_name_the_folder(
    tmp_path: Path, files: dict[str, str], error: type, message: str
) -> None:
    path = write(tmp_path / "m", files)
    with pytest.raises(error, match=message) as info:
        load(path)
    assert info.value.path is not None and path in Path(info.value.path).parents


def diesel_ran(project: Project, count: int) -> list[str]:
    """What ``diesel migration run`` leaves after applying the first ``count`` folders."""
    ids = FOLDERS["diesel"][1][:count]
    with sqlite3.connect(project.db_path) as conn:
        for m in load(project.migrations_dir)[:count]:
            conn.executescript(m.up_sql)
        for sql in history_ddl("diesel", "sqlite") + history_rows(
            "diesel", "sqlite", project.migrations_dir, ids
        ):
            conn.execute(sql)
    return ids


def test_diesel_history_is_adopted(mig_project: Project) -> None:
    write(mig_project.migrations_dir, FOLDERS["diesel"][0])
    mig_project.write_config(migrations_format="auto")
    ran = diesel_ran(mig_project, 2)
    out = mig_project.ok("import", "--history")
    assert "adopted 2 migration(s) from diesel's __diesel_schema_migrations" in out
    notes = {r["migration_id"]: r["error_message"] for r in mig_project.executions()}
    assert list(notes) == ran and "Diesel __diesel_schema_migrations version 20240101100000" in (
        notes[ran[0]])
    mig_project.migrate()
    assert mig_project.applied() == FOLDERS["diesel"][1] and "posts" in mig_project.tables()


def test_diesel_history_of_a_missing_folder_is_refused(mig_project: Project) -> None:
    write(mig_project.migrations_dir, FOLDERS["diesel"][0])
    mig_project.write_config(migrations_format="diesel")
    diesel_ran(mig_project, 1)
    with sqlite3.connect(mig_project.db_path) as conn:
        conn.execute("INSERT INTO __diesel_schema_migrations (version) VALUES ('20231231000000')")
    result = mig_project.run("import", "--history")
    assert result.code == 1 and "20231231000000" in result.err
    assert "restore the missing files" in result.err
    assert mig_project.executions() == []


def test_diesel_converts_with_both_files_as_source(mig_project: Project) -> None:
    write(mig_project.migrations_dir, FOLDERS["diesel"][0])
    mig_project.write_config(migrations_format="diesel")
    report = json.loads(mig_project.ok("import", "--convert", "out", "--json"))
    # mig's file names carry Diesel's version, dashes dropped
    assert report["converted"] == ["20240101100000_create_users.sql",
                                   "20240101110000_add_index.sql",
                                   "20240102090000_create_posts.sql"]
    first = (mig_project.path / "out" / report["converted"][0]).read_text()
    folder = FOLDERS["diesel"][1][0]
    assert f"-- @source: {folder}/up.sql, {folder}/down.sql\n" in first
    assert "-- DOWN\nDROP TABLE users;\n" in first
    second = (mig_project.path / "out" / report["converted"][1]).read_text()
    assert "-- @reversible: false" in second
