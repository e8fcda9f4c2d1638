from __future__ import annotations

from pathlib import Path

import pytest
from mig import MigrationFileError
from mig.checksum import CHECKSUM_VERSION
from mig_sqlfile.plugin import mig_parse_migration

FULL = """\
-- @name: Create Users Table
-- @description: Create the main users table
-- @type: table_creation
-- @author: Database Migration System
-- @dependencies: ["000_base", "000_extra"]
-- @reversible: true
-- @backup_required: false
-- @transactional: FALSE

-- UP
CREATE TABLE users (id INTEGER PRIMARY KEY, email TEXT UNIQUE NOT NULL);
CREATE INDEX idx_users_email ON users(email);

-- DOWN
DROP INDEX IF EXISTS idx_users_email;
DROP TABLE IF EXISTS users;
"""

# What `mig new` writes: header lines, then each marker followed by a comment.
TEMPLATE = """\
-- @name: Add User Preferences
-- @description:
-- @type: table_modification
-- @author: A
-- @dependencies: []
-- @reversible: true

-- UP
-- Write the forward migration here.

-- DOWN
-- Write the statements that undo UP here.
"""


def parse(tmp_path: Path, text: str, name: str = "001_create_users.sql"):
    path = tmp_path / name
    path.write_bytes(text.encode("utf-8"))
    return mig_parse_migration(path=path, text=path.read_bytes().decode("utf-8"))


def error(tmp_path: Path, text: str, name: str = "001_create_users.sql") -> MigrationFileError:
    with pytest.raises(MigrationFileError) as info:
        parse(tmp_path, text, name)
    return info.value


def test_every_header_key(tmp_path):
    m = parse(tmp_path, FULL)
    assert m.id == "001_create_users"
    assert m.version == "001"
    assert m.number == 1
    assert m.path == tmp_path / "001_create_users.sql"
    assert m.name == "Create Users Table"
    assert m.description == "Create the main users table"
    assert m.migration_type == "table_creation"
    assert m.author == "Database Migration System"
    assert m.dependencies == ("000_base", "000_extra")
    assert m.reversible is True
    assert m.backup_required is False
    assert m.transactional is False
    assert m.metadata == {}
    assert dict(m.header_lines) == {
        "name": 1,
        "description": 2,
        "type": 3,
        "author": 4,
        "dependencies": 5,
        "reversible": 6,
        "backup_required": 7,
        "transactional": 8,
    }
    assert m.line_of("dependencies") == 5
    assert m.checksum_version == CHECKSUM_VERSION
    assert len(m.checksum) == 64


def test_sections_are_kept_as_written_with_their_lines(tmp_path):
    m = parse(tmp_path, FULL)
    assert m.up_sql == (
        "CREATE TABLE users (id INTEGER PRIMARY KEY, email TEXT UNIQUE NOT NULL);\n"
        "CREATE INDEX idx_users_email ON users(email);\n\n"
    )
    assert m.down_sql == "DROP INDEX IF EXISTS idx_users_email;\nDROP TABLE IF EXISTS users;\n"
    assert m.up_line == 11
    assert m.down_line == 15


def test_defaults(tmp_path):
    m = parse(tmp_path, "-- @name: Only a name\n-- UP\nSELECT 1;\n-- DOWN\nSELECT 2;\n")
    assert m.name == "Only a name"
    assert (m.description, m.migration_type, m.author) == ("", "", "")
    assert m.dependencies == ()
    assert (m.reversible, m.backup_required, m.transactional) == (True, True, True)
    assert m.metadata == {}
    assert dict(m.header_lines) == {"name": 1}
    assert m.line_of("author") == 1


def test_unknown_keys_are_metadata_not_errors(tmp_path):
    m = parse(
        tmp_path,
        "-- @name: X\n-- @ticket: ABC-12\n-- @Reviewed-By: Bo: and Al\n-- UP\nSELECT 1;\n"
        "-- DOWN\nSELECT 2;\n",
    )
    assert m.metadata == {"ticket": "ABC-12", "Reviewed-By": "Bo: and Al"}
    assert m.header_lines["ticket"] == 2
    assert m.header_lines["Reviewed-By"] == 3


def test_known_keys_are_case_insensitive(tmp_path):
    m = parse(tmp_path, "-- @Name: X\n-- @REVERSIBLE: False\n-- UP\nSELECT 1;\n")
    assert m.name == "X"
    assert m.reversible is False


def test_missing_name(tmp_path):
    exc = error(tmp_path, "-- @description: no name\n-- UP\nSELECT 1;\n-- DOWN\nSELECT 2;\n")
    assert "missing @name" in str(exc)
    assert str(tmp_path / "001_create_users.sql") in str(exc)
    assert exc.exit_code == 2


def test_empty_name(tmp_path):
    exc = error(tmp_path, "-- @author: me\n-- @name:   \n-- UP\nSELECT 1;\n-- DOWN\nSELECT 2;\n")
    assert exc.line == 2
    assert "@name is empty" in str(exc)


def test_bad_json_dependencies_names_file_and_line(tmp_path):
    text = FULL.replace('["000_base", "000_extra"]', '["000_base",')
    exc = error(tmp_path, text)
    path = tmp_path / "001_create_users.sql"
    assert exc.path == path
    assert exc.line == 5
    assert str(exc).startswith(f"{path}:5: @dependencies is not a JSON list of migration ids: ")


@pytest.mark.parametrize("value", ['"000_base"', "[1, 2]", '{"a": 1}', '[""]'])
def test_dependencies_must_be_a_list_of_ids(tmp_path, value):
    exc = error(tmp_path, f"-- @name: X\n-- @dependencies: {value}\n-- UP\n")
    assert exc.line == 2
    assert "@dependencies is not a JSON list of migration ids" in str(exc)


def test_empty_dependencies_value_means_none(tmp_path):
    m = parse(tmp_path, "-- @name: X\n-- @dependencies:\n-- UP\n")
    assert m.dependencies == ()


@pytest.mark.parametrize("value", ["yes", "1", "", "tru"])
def test_bad_boolean_names_the_line(tmp_path, value):
    exc = error(tmp_path, f"-- @name: X\n\n-- @backup_required: {value}\n-- UP\nSELECT 1;\n")
    assert exc.line == 3
    assert "@backup_required must be true or false" in str(exc)


def test_duplicate_key(tmp_path):
    exc = error(tmp_path, "-- @name: X\n-- @author: a\n-- @author: b\n-- UP\n")
    assert exc.line == 3
    assert "duplicate header @author (first on line 2)" in str(exc)


def test_header_without_colon_is_an_error(tmp_path):
    exc = error(tmp_path, "-- @name: X\n-- @reversible false\n-- UP\nSELECT 1;\n")
    assert exc.line == 2
    assert "-- @key: value" in str(exc)


def test_comments_in_header_are_fine(tmp_path):
    m = parse(
        tmp_path,
        "-- A migration for users.\n\n/* a block\n   comment */\n-- @name: X\n-- @todo later\n"
        "-- UP\nSELECT 1;\n-- DOWN\nSELECT 2;\n",
    )
    assert m.name == "X"
    assert m.header_lines["name"] == 5


@pytest.mark.parametrize(
    "name",
    ["create_users.sql", "001.sql", "001_.sql", "001_a b.sql", "v1_users.sql", "001_a.b.sql"],
)
def test_bad_file_name(tmp_path, name):
    exc = error(tmp_path, FULL, name)
    assert "file name must be <version>_<slug>.sql" in str(exc)
    assert name in str(exc)


@pytest.mark.parametrize("name", ["001_users.txt", "README.md", "001_users.sql.bak", "notes"])
def test_other_files_are_not_ours(tmp_path, name):
    assert parse(tmp_path, FULL, name) is None


def test_slug_may_hold_digits_dashes_and_underscores(tmp_path):
    m = parse(tmp_path, FULL, "0042_add-user_2fa.sql")
    assert (m.id, m.version, m.number) == ("0042_add-user_2fa", "0042", 42)


def test_sql_before_up_marker(tmp_path):
    exc = error(tmp_path, "-- @name: X\n\nCREATE TABLE t (id INT);\n-- UP\nSELECT 1;\n")
    assert exc.line == 3
    assert "SQL before the -- UP marker" in str(exc)


@pytest.mark.parametrize(
    "up, down", [("--up", "--down"), ("  -- Up  ", "-- DOWN\t"), ("--  uP", "-- Down")]
)
def test_markers_are_case_insensitive(tmp_path, up, down):
    m = parse(tmp_path, f"-- @name: X\n{up}\nSELECT 1;\n{down}\nSELECT 2;\n")
    assert m.up_sql == "SELECT 1;\n"
    assert m.down_sql == "SELECT 2;\n"
    assert (m.up_line, m.down_line) == (3, 5)


def test_marker_must_be_the_whole_line(tmp_path):
    # "-- UP the table" is a comment, so this file has no UP marker at all.
    exc = error(tmp_path, "-- @name: X\n-- UP the table\nSELECT 1;\n")
    assert "missing -- UP marker" in str(exc)


def test_missing_up_marker(tmp_path):
    exc = error(tmp_path, "-- @name: X\n-- @reversible: false\n")
    assert "missing -- UP marker" in str(exc)


@pytest.mark.parametrize(
    "text", ["CREATE TABLE a (x INT);\nCREATE TABLE b (y INT);\n", "", "-- migrate:up\nSELECT 1;\n"]
)
def test_a_file_with_neither_header_nor_markers_is_not_a_mig_file(tmp_path, text):
    # Plain numbered SQL files (or another tool's): say so, and how to read another format.
    exc = error(tmp_path, text)
    assert exc.line == 1
    assert "missing -- UP marker: not a mig migration file" in str(exc)
    assert "migrations_format" in str(exc)


def test_down_before_up(tmp_path):
    exc = error(tmp_path, "-- @name: X\n-- DOWN\nSELECT 2;\n-- UP\nSELECT 1;\n")
    assert exc.line == 2
    assert "-- DOWN marker before -- UP" in str(exc)


def test_markers_at_most_once(tmp_path):
    exc = error(tmp_path, "-- @name: X\n-- UP\nSELECT 1;\n-- DOWN\nSELECT 2;\n-- down\n")
    assert exc.line == 6
    assert "second -- DOWN marker" in str(exc)
    exc = error(tmp_path, "-- @name: X\n-- UP\nSELECT 1;\n-- UP\n")
    assert exc.line == 4


def test_reversible_without_down_marker_is_an_error(tmp_path):
    exc = error(tmp_path, "-- @name: X\n-- UP\nCREATE TABLE t (id INT);\n\n")
    assert "reversible migration has no DOWN section (add one or set @reversible: false)" in str(
        exc
    )
    assert exc.line == 4  # the last line
    assert exc.path == tmp_path / "001_create_users.sql"


def test_reversible_with_comment_only_down_is_an_error(tmp_path):
    exc = error(
        tmp_path,
        "-- @name: X\n-- UP\nCREATE TABLE t (id INT);\n-- DOWN\n-- nothing\n/* to do */\n",
    )
    assert exc.line == 4  # the DOWN marker
    assert "reversible migration has no DOWN section" in str(exc)


def test_irreversible_without_down_is_fine(tmp_path):
    m = parse(tmp_path, "-- @name: X\n-- @reversible: false\n-- UP\nDELETE FROM t;\n")
    assert m.reversible is False
    assert m.up_sql == "DELETE FROM t;\n"
    assert m.down_sql == ""
    assert m.down_line == 0


def test_template_written_by_mig_new_is_a_valid_no_op(tmp_path):
    m = parse(tmp_path, TEMPLATE, "006_add_user_preferences.sql")
    assert m.name == "Add User Preferences"
    assert m.description == ""
    assert m.reversible is True
    assert m.up_sql == "-- Write the forward migration here.\n\n"
    assert m.down_sql == "-- Write the statements that undo UP here.\n"
    assert (m.up_line, m.down_line) == (9, 12)


def test_checksum_ignores_header_edits(tmp_path):
    before = parse(tmp_path, FULL)
    after = parse(tmp_path, FULL.replace("Create the main users table", "Users, described better"))
    assert after.description == "Users, described better"
    assert after.checksum == before.checksum


def test_checksum_changes_with_up_and_down(tmp_path):
    before = parse(tmp_path, FULL)
    up = parse(tmp_path, FULL.replace("email TEXT UNIQUE", "email TEXT"))
    down = parse(tmp_path, FULL.replace("DROP TABLE IF EXISTS users", "DROP TABLE users"))
    assert len({before.checksum, up.checksum, down.checksum}) == 3


def test_checksum_ignores_line_endings_and_bom(tmp_path):
    lf = parse(tmp_path, FULL)
    crlf = parse(tmp_path, "\ufeff" + FULL.replace("\n", "\r\n"))
    cr = parse(tmp_path, FULL.replace("\n", "\r"))
    assert crlf.checksum == lf.checksum == cr.checksum
    assert crlf.up_sql == lf.up_sql
    assert crlf.name == "Create Users Table"
    assert (crlf.up_line, crlf.down_line) == (lf.up_line, lf.down_line)


def test_markers_on_the_last_line_without_newline(tmp_path):
    m = parse(tmp_path, "-- @name: X\n-- @reversible: false\n-- UP\nSELECT 1;\n-- DOWN")
    assert m.up_sql == "SELECT 1;\n"
    assert (m.down_sql, m.down_line) == ("", 6)
    exc = error(tmp_path, "-- @name: X\n-- UP\nSELECT 1;\n-- DOWN")
    assert exc.line == 4
