from __future__ import annotations

import sqlite3
import time
from pathlib import Path

import pytest
from mig import MigrationFileError, Statement
from mig_sqlfile.plugin import mig_parse_migration, mig_parse_split

PATH = Path("migrations/007_example.sql")


def split(sql: str, dialect: str = "sqlite", first_line: int = 1) -> list[Statement]:
    return mig_parse_split(sql=sql, dialect=dialect, first_line=first_line, path=PATH)


def sqls(sql: str, dialect: str = "sqlite") -> list[str]:
    return [s.sql for s in split(sql, dialect)]


def error(sql: str, dialect: str = "sqlite", first_line: int = 1) -> MigrationFileError:
    with pytest.raises(MigrationFileError) as info:
        split(sql, dialect, first_line)
    assert info.value.path == PATH
    return info.value


# -- plain splitting ------------------------------------------------------------------------


def test_statements_come_without_semicolons_and_stripped():
    assert sqls("  CREATE TABLE a (id INT) ;\n\nINSERT INTO a VALUES (1);\nSELECT 1") == [
        "CREATE TABLE a (id INT)",
        "INSERT INTO a VALUES (1)",
        "SELECT 1",
    ]


@pytest.mark.parametrize("text", ["", "   \n\n", "-- only a comment\n", "/* a;\n b; */\n-- c;"])
def test_comment_only_sections_yield_nothing(text):
    assert split(text) == []


def test_empty_statements_are_skipped():
    assert sqls(";;SELECT 1;; ;\n;") == ["SELECT 1"]


@pytest.mark.parametrize("dialect", ["sqlite", "postgresql", "mysql", "duckdb"])
def test_semicolons_in_strings_comments_and_identifiers(dialect):
    text = (
        "INSERT INTO \"we;ird\" (note) VALUES ('a;b', 'it''s; fine'); -- trailing; comment\n"
        "/* block; comment */ SELECT 'x' -- also; here\n;"
    )
    assert sqls(text, dialect) == [
        "INSERT INTO \"we;ird\" (note) VALUES ('a;b', 'it''s; fine')",
        "SELECT 'x'",
    ]


def test_backtick_and_bracket_identifiers():
    assert sqls("SELECT `a;b` FROM [t;1]; SELECT 2", "sqlite") == [
        "SELECT `a;b` FROM [t;1]",
        "SELECT 2",
    ]
    assert sqls("SELECT `a;b``c` FROM t; SELECT 2", "mysql") == [
        "SELECT `a;b``c` FROM t",
        "SELECT 2",
    ]


def test_doubled_quotes_in_identifiers():
    assert sqls('CREATE TABLE "a"";b" (x INT); SELECT 1') == [
        'CREATE TABLE "a"";b" (x INT)',
        "SELECT 1",
    ]


def test_mysql_backslash_escapes():
    text = 'INSERT INTO t VALUES (\'it\\\'s; ok\', "say \\"hi;\\""); SELECT 2'
    assert sqls(text, "mysql") == [
        'INSERT INTO t VALUES (\'it\\\'s; ok\', "say \\"hi;\\"")',
        "SELECT 2",
    ]


def test_backslash_is_not_an_escape_in_standard_strings():
    # SQLite and PostgreSQL: 'C:\' is a whole string, so the semicolon after it splits.
    for dialect in ("sqlite", "postgresql"):
        assert sqls("SELECT 'C:\\'; SELECT 2", dialect) == ["SELECT 'C:\\'", "SELECT 2"]


def test_postgresql_e_strings():
    text = "SELECT E'it\\'s; ok', e'\\\\'; SELECT 2"
    assert sqls(text, "postgresql") == ["SELECT E'it\\'s; ok', e'\\\\'", "SELECT 2"]
    # A name ending in "e" before a string is not an E prefix.
    assert sqls("SELECT some'x\\'; SELECT 2", "postgresql") == ["SELECT some'x\\'", "SELECT 2"]


def test_mysql_comments():
    text = "SELECT 1 # a; comment\n; SELECT 2--1;\nSELECT 3 -- b; c\n"
    assert sqls(text, "mysql") == ["SELECT 1", "SELECT 2--1", "SELECT 3"]


def test_hash_is_not_a_comment_outside_mysql():
    assert sqls("SELECT '#'; SELECT 2 # x; SELECT 3", "sqlite") == [
        "SELECT '#'",
        "SELECT 2 # x",
        "SELECT 3",
    ]


def test_mysql_executable_comments_are_sql():
    text = "/*!40101 SET NAMES utf8mb4 */;\n/* plain */;\nSELECT /*+ hint; */ 1;"
    assert sqls(text, "mysql") == ["/*!40101 SET NAMES utf8mb4 */", "SELECT /*+ hint; */ 1"]


def test_nested_block_comments_in_postgresql_only():
    text = "/* outer /* inner */ still; comment */ SELECT 1; SELECT 2"
    assert sqls(text, "postgresql") == ["SELECT 1", "SELECT 2"]
    assert sqls(text, "sqlite") == ["still", "comment */ SELECT 1", "SELECT 2"]


# -- dollar quoting -------------------------------------------------------------------------

PG_FUNCTIONS = """\
CREATE FUNCTION add_one(integer) RETURNS integer AS $$
    SELECT $1 + 1;
$$ LANGUAGE sql;

CREATE OR REPLACE FUNCTION touch() RETURNS trigger AS $body$
BEGIN
    NEW.updated_at := now();  -- a comment; with a semicolon
    NEW.note := $$;$$ || 'x;';
    RETURN NEW;
END;
$body$ LANGUAGE plpgsql;

PREPARE q(int) AS SELECT $1 + 1; EXECUTE q(2);
"""


def test_postgresql_dollar_quotes():
    statements = split(PG_FUNCTIONS, "postgresql", first_line=20)
    assert [s.sql.split("\n")[0] for s in statements] == [
        "CREATE FUNCTION add_one(integer) RETURNS integer AS $$",
        "CREATE OR REPLACE FUNCTION touch() RETURNS trigger AS $body$",
        "PREPARE q(int) AS SELECT $1 + 1",
        "EXECUTE q(2)",
    ]
    assert statements[0].sql.endswith("$$ LANGUAGE sql")
    assert "NEW.note := $$;$$ || 'x;';\n    RETURN NEW;\nEND;\n$body$ LANGUAGE plpgsql" in (
        statements[1].sql
    )
    assert [s.line for s in statements] == [20, 24, 32, 32]


def test_dollar_parameter_and_dollar_in_names_are_not_quotes():
    assert sqls("SELECT $1, a$b$c FROM t WHERE x = $2; SELECT $q$;$q$", "postgresql") == [
        "SELECT $1, a$b$c FROM t WHERE x = $2",
        "SELECT $q$;$q$",
    ]


def test_postgresql_begin_atomic():
    text = (
        "CREATE FUNCTION f(a int) RETURNS int LANGUAGE sql\nBEGIN ATOMIC\n  SELECT 1;\n"
        "  SELECT CASE WHEN a > 1 THEN 2 END;\nEND;\nSELECT f(1);"
    )
    statements = split(text, "postgresql")
    assert [s.sql for s in statements] == [text[: text.rindex("END;") + 3], "SELECT f(1)"]


def test_top_level_begin_is_a_statement():
    text = "BEGIN;\nUPDATE t SET end_at = 1;\nCOMMIT;\nBEGIN TRANSACTION; END;"
    assert sqls(text) == ["BEGIN", "UPDATE t SET end_at = 1", "COMMIT", "BEGIN TRANSACTION", "END"]


# -- trigger and routine bodies -------------------------------------------------------------

SQLITE_TRIGGER = """\
CREATE TABLE orders (id INTEGER PRIMARY KEY, qty INTEGER, status TEXT, "end" TEXT);
CREATE TABLE audit (order_id INTEGER, kind TEXT, note TEXT);

-- Two statements in the body, one of them with a CASE expression and a semicolon in a string.
CREATE TRIGGER IF NOT EXISTS orders_audit AFTER INSERT ON orders
WHEN new.qty IS NOT NULL
BEGIN
    INSERT INTO audit VALUES (
        new.id,
        CASE WHEN new.qty > 100 THEN 'big' WHEN new.qty > 10 THEN 'medium' ELSE 'small' END,
        'inserted; ok'
    );
    UPDATE orders SET status = CASE new.status WHEN 'x' THEN 'X' ELSE 'new' END,
        "end" = 'begin'
    WHERE id = new.id;
END;

INSERT INTO orders (id, qty) VALUES (1, 500);
INSERT INTO orders (id, qty) VALUES (2, 5)
"""


def test_sqlite_trigger_with_several_statements_and_case():
    statements = split(SQLITE_TRIGGER, "sqlite", first_line=10)
    assert len(statements) == 5
    trigger = statements[2]
    assert trigger.sql.startswith("CREATE TRIGGER IF NOT EXISTS orders_audit")
    assert trigger.sql.endswith("WHERE id = new.id;\nEND")
    assert [s.line for s in statements] == [10, 11, 14, 27, 28]


def test_sqlite_trigger_statements_execute():
    db = sqlite3.connect(":memory:")
    try:
        for statement in split(SQLITE_TRIGGER, "sqlite"):
            db.execute(statement.sql)
        assert db.execute(
            "SELECT order_id, kind, note FROM audit ORDER BY order_id"
        ).fetchall() == [
            (1, "big", "inserted; ok"),
            (2, "small", "inserted; ok"),
        ]
        assert db.execute('SELECT status, "end" FROM orders ORDER BY id').fetchall() == [
            ("new", "begin"),
            ("new", "begin"),
        ]
    finally:
        db.close()


MYSQL_PROCEDURE = """\
CREATE DEFINER=`admin`@`%` PROCEDURE fill(IN n INT)
BEGIN
    DECLARE i INT DEFAULT 0;
    IF n < 0 THEN
        SIGNAL SQLSTATE '45000' SET MESSAGE_TEXT = 'negative; no';
    ELSEIF n = 0 THEN
        SET i = 0;
    END IF;
    outer_loop: WHILE i < n DO
        BEGIN
            DECLARE CONTINUE HANDLER FOR SQLEXCEPTION BEGIN END;
            INSERT INTO t VALUES (i, CASE WHEN i % 2 = 0 THEN 'even' ELSE 'odd' END);
        END;
        SET i = i + 1;
    END WHILE outer_loop;
    CASE n
        WHEN 1 THEN SELECT 'one';
        ELSE BEGIN SELECT 'many'; END;
    END CASE;
    REPEAT SET i = i - 1; UNTIL i <= 0 END REPEAT;
    l: LOOP LEAVE l; END LOOP l;
END;
CALL fill(3);
"""


def test_mysql_procedure_without_delimiter():
    statements = split(MYSQL_PROCEDURE, "mysql", first_line=5)
    assert [s.sql for s in statements] == [
        MYSQL_PROCEDURE[: MYSQL_PROCEDURE.index("END;\nCALL") + 3],
        "CALL fill(3)",
    ]
    assert [s.line for s in statements] == [5, 27]


def test_mysql_trigger_function_and_event():
    text = (
        "CREATE TRIGGER t1 BEFORE INSERT ON t FOR EACH ROW SET NEW.a = 1;\n"
        "CREATE FUNCTION f(x INT) RETURNS INT DETERMINISTIC BEGIN RETURN x + 1; END;\n"
        "CREATE EVENT e ON SCHEDULE EVERY 1 DAY DO BEGIN DELETE FROM t; DELETE FROM u; END;\n"
        "SELECT f(1);"
    )
    assert [s.sql.split(" ")[1] for s in split(text, "mysql")] == [
        "TRIGGER",
        "FUNCTION",
        "EVENT",
        "f(1)",
    ]


MYSQL_CLIENT_SCRIPT = """\
DROP PROCEDURE IF EXISTS bump;
-- the mysql client's way of writing a body
delimiter //
CREATE PROCEDURE bump()
BEGIN
  UPDATE t SET note = 'a // inside; a string'; -- a // in a comment
END //
DELIMITER $$ (the rest of the line is ignored)
CREATE TRIGGER tr BEFORE INSERT ON t FOR EACH ROW BEGIN SET NEW.n = 1; END$$
SELECT 1; SELECT 2$$
DELIMITER ;
CALL bump(); SELECT delimiter_count FROM t;
"""


def test_mysql_delimiter_command_changes_what_ends_a_statement():
    statements = split(MYSQL_CLIENT_SCRIPT, "mysql")
    assert [s.sql for s in statements] == [
        "DROP PROCEDURE IF EXISTS bump",
        "CREATE PROCEDURE bump()\nBEGIN\n  UPDATE t SET note = 'a // inside; a string';"
        " -- a // in a comment\nEND",
        "CREATE TRIGGER tr BEFORE INSERT ON t FOR EACH ROW BEGIN SET NEW.n = 1; END",
        "SELECT 1; SELECT 2",
        "CALL bump()",
        "SELECT delimiter_count FROM t",
    ]
    assert [s.line for s in statements] == [1, 4, 9, 10, 12, 12]
    # The client takes the word right after the command, space or none.
    assert sqls("DELIMITER$$\nSELECT 1; SELECT 2$$\nDELIMITER;\nSELECT 3;", "mysql") == [
        "SELECT 1; SELECT 2", "SELECT 3"
    ]


def test_delimiter_is_the_mysql_clients_command_only():
    # Elsewhere it is SQL like any other (and the database says what it thinks of it).
    assert sqls("DELIMITER //\nSELECT 1 //\nSELECT 2;") == ["DELIMITER //\nSELECT 1 //\nSELECT 2"]
    assert error("SELECT 1;\nDELIMITER\nSELECT 2;", "mysql").line == 2


def test_postgres_rule_with_several_actions_ends_outside_its_parentheses():
    text = (
        "CREATE OR REPLACE RULE soft_delete AS ON DELETE TO items WHERE old.note <> ')'\n"
        "  DO INSTEAD (UPDATE items SET gone = true WHERE id = old.id; NOTIFY items_gone);\n"
        "CREATE RULE quiet AS ON UPDATE TO items DO INSTEAD NOTHING;\n"
        "SELECT '(';"
    )
    statements = split(text, "postgresql")
    assert [s.sql.split()[-1] for s in statements] == ["items_gone)", "NOTHING", "'('"]
    assert [s.line for s in statements] == [1, 3, 4]
    failure = error("SELECT 1;\nCREATE RULE r AS ON INSERT TO t DO ALSO (NOTIFY a;\n", "postgresql")
    assert failure.line == 2 and "parenthesis" in str(failure)


def test_keywords_inside_strings_comments_and_names_do_not_count():
    text = (
        "CREATE TRIGGER tr AFTER INSERT ON a BEGIN\n"
        "  INSERT INTO b (begin_at, \"end\", legend) VALUES ('END;', new.end, 'case');\n"
        "  -- END;\n"
        "  /* END; */\n"
        "END;\nSELECT 1"
    )
    statements = sqls(text)
    assert len(statements) == 2
    assert statements[1] == "SELECT 1"


# -- line numbers ---------------------------------------------------------------------------


def test_line_of_each_statement_skips_blank_lines_and_comments():
    text = "\n-- a comment\n\n/* block\n comment */  SELECT 1;\nSELECT\n2; SELECT 3;\n\n  'x';"
    statements = split(text, first_line=40)
    assert statements == [
        Statement("SELECT 1", 44),
        Statement("SELECT\n2", 45),
        Statement("SELECT 3", 46),
        Statement("'x'", 48),
    ]


def test_lines_match_the_file_after_parsing(tmp_path):
    path = tmp_path / "003_orders.sql"
    path.write_text(
        "-- @name: Orders\n\n-- UP\nCREATE TABLE o (id INT);\n\nCREATE INDEX i ON o(id);\n"
        "-- DOWN\n-- drop the index first\nDROP INDEX i;\nDROP TABLE o;\n"
    )
    m = mig_parse_migration(path=path, text=path.read_text())
    lines = path.read_text().split("\n")
    up = mig_parse_split(sql=m.up_sql, dialect="sqlite", first_line=m.up_line, path=path)
    down = mig_parse_split(sql=m.down_sql, dialect="sqlite", first_line=m.down_line, path=path)
    for statement in up + down:
        assert lines[statement.line - 1].startswith(statement.sql.split("\n")[0])
    assert [s.line for s in up + down] == [4, 6, 9, 10]


# -- errors ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "text, dialect, line, what",
    [
        ("SELECT 1;\n\nINSERT INTO t VALUES ('never closed);\nSELECT 2;", "sqlite", 12, "string"),
        ("SELECT 1;\nSELECT 'it\\'s;\n", "mysql", 11, "string"),
        ("SELECT E'x\\';\n", "postgresql", 10, "string"),
        ('SELECT 1;\nSELECT "name;\n', "sqlite", 11, "quoted identifier"),
        ("SELECT `name;\n", "mysql", 10, "quoted identifier"),
        ("SELECT 1;\n\n/* a comment;\nSELECT 2;", "sqlite", 12, "block comment"),
        ("SELECT 1; /* outer /* inner */ still open\n", "postgresql", 10, "block comment"),
        (
            "SELECT 1;\nCREATE FUNCTION f() RETURNS int AS $fn$\nBEGIN RETURN 1; END;\n$$;",
            "postgresql",
            11,
            "dollar-quoted string",
        ),
        (
            "CREATE TABLE t (id INT);\nCREATE TRIGGER tr AFTER INSERT ON t\nBEGIN\n"
            "  SELECT 1;\nSELECT 2;\n",
            "sqlite",
            12,
            "BEGIN ... END block",
        ),
    ],
)
def test_unterminated_things_name_the_line_they_start_on(text, dialect, line, what):
    exc = error(text, dialect, first_line=10)
    assert exc.line == line
    assert str(exc) == f"{PATH}:{line}: unterminated {what} starting here"


# -- speed ----------------------------------------------------------------------------------


def test_a_megabyte_of_inserts_splits_fast():
    row = "INSERT INTO users (id, email, note) VALUES ({0}, 'u{0}@example.com', 'it''s; {0}');\n"
    text = "".join(row.format(i) for i in range(15_000))
    text = text[: text.rindex("\n", 0, 1_000_000) + 1]
    started = time.perf_counter()
    statements = split(text, "postgresql")
    elapsed = time.perf_counter() - started
    assert len(statements) == text.count("\n")
    assert statements[-1].line == len(statements)
    assert elapsed < 0.5
