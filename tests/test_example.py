"""End-to-end runs of the CLI over the bundled trading example (SPEC §9)."""

from __future__ import annotations

import json
import sqlite3

from mig.testing import Project

BOOKKEEPING = {
    "mig_migration_metadata",
    "mig_migration_executions",
    "mig_backup_info",
    "mig_schema_version",
    "mig_schema_snapshots",
}
EXAMPLE = [
    "001_create_users_table",
    "002_create_portfolio_table",
    "003_create_orders_table",
    "004_create_trades_table",
    "005_add_user_preferences",
]
USER_TABLES = {"users", "portfolio", "orders", "trades", "user_preferences"}


def foreign_keys(project: Project, table: str) -> set[tuple[str, str]]:
    rows = project.query(f"PRAGMA foreign_key_list({table})")
    return {(row[3], row[2]) for row in rows}  # (from column, parent table)


def indexes(project: Project) -> set[str]:
    rows = project.query("SELECT name FROM sqlite_master WHERE type = 'index' AND sql IS NOT NULL")
    return {name for (name,) in rows}


def test_up_applies_the_whole_example(example_project: Project) -> None:
    code, out, err = example_project.run("up")
    assert code == 0, err
    assert "applied 5 migration(s)" in out
    assert "version 005" in out
    assert example_project.tables() == USER_TABLES | BOOKKEEPING
    assert example_project.query("SELECT current_version, last_migration_id FROM"
                                 " mig_schema_version") == [("005", "005_add_user_preferences")]
    assert foreign_keys(example_project, "portfolio") == {("user_id", "users")}
    assert foreign_keys(example_project, "orders") == {("user_id", "users")}
    assert foreign_keys(example_project, "trades") == {("order_id", "orders"), ("user_id", "users")}
    assert foreign_keys(example_project, "user_preferences") == {("user_id", "users")}
    assert {
        "idx_users_user_id", "idx_users_email", "idx_portfolio_user", "idx_portfolio_symbol",
        "idx_orders_user_status", "idx_orders_symbol_created", "idx_trades_order",
        "idx_trades_user_executed",
    } <= indexes(example_project)
    triggers = example_project.query("SELECT name FROM sqlite_master WHERE type = 'trigger'")
    assert triggers == [("trg_orders_touch",)]
    code, out, _ = example_project.run("up")
    assert code == 0 and "nothing to do" in out


def test_constraints_of_the_example_hold(example_project: Project) -> None:
    example_project.migrate()
    conn = sqlite3.connect(example_project.db_path)
    conn.execute("PRAGMA foreign_keys = ON")
    conn.execute("INSERT INTO users (user_id, email, password_hash) VALUES ('u1', 'a@b.co', 'x')")
    for bad in (
        "INSERT INTO users (user_id, email, password_hash) VALUES ('u2', 'not-an-email', 'x')",
        "INSERT INTO portfolio (user_id, symbol) VALUES (99, 'AAPL')",
        "INSERT INTO orders (order_id, user_id, symbol, side, order_type, quantity)"
        " VALUES ('o1', 1, 'AAPL', 'hold', 'market', 1)",
    ):
        try:
            conn.execute(bad)
        except sqlite3.IntegrityError:
            continue
        raise AssertionError(f"accepted: {bad}")
    conn.close()


def test_down_all_leaves_only_the_bookkeeping_tables(example_project: Project) -> None:
    example_project.migrate()
    code, out, err = example_project.run("down", "--all")
    assert code == 0, err
    assert "rolled back 5 migration(s)" in out
    assert example_project.tables() == BOOKKEEPING
    objects = example_project.query(
        "SELECT type, name FROM sqlite_master WHERE name NOT LIKE 'mig\\_%' ESCAPE '\\'"
        " AND name NOT LIKE 'sqlite_%'"
    )
    assert objects == []
    assert example_project.query("SELECT current_version FROM mig_schema_version") == [("",)]
    # The audit trail keeps every apply (now rolled back) and every rollback.
    rows = example_project.executions()
    assert [(r["operation"], r["status"]) for r in rows].count(("apply", "ROLLED_BACK")) == 5
    assert [(r["operation"], r["status"]) for r in rows].count(("rollback", "COMPLETED")) == 5


def test_up_to_a_target_applies_everything_up_to_it(example_project: Project) -> None:
    code, out, err = example_project.run("up", "003")
    assert code == 0, err
    status = json.loads(example_project.run("status", "--json").out)
    assert status["applied"] == EXAMPLE[:3]
    assert status["pending"] == EXAMPLE[3:]
    assert status["current_version"] == "003"


def test_up_only_applies_the_target_and_its_dependencies(example_project: Project) -> None:
    code, out, err = example_project.run("up", "--only", "003")
    assert code == 0, err
    status = json.loads(example_project.run("status", "--json").out)
    assert status["applied"] == ["001_create_users_table", "003_create_orders_table"]
    assert status["pending"] == [
        "002_create_portfolio_table", "004_create_trades_table", "005_add_user_preferences"
    ]
    assert status["current_version"] == "003"
    only = json.loads(example_project.run("plan", "--only", "005", "--json").out)
    assert [p["id"] for p in only] == ["005_add_user_preferences"]
    assert example_project.tables() - BOOKKEEPING == {"users", "orders"}


def test_status_json(example_project: Project) -> None:
    code, out, err = example_project.run("status", "--json")
    assert code == 2 and "does not exist" in err  # not a database with everything pending
    assert not example_project.db_path.exists()  # status never creates the database
    example_project.db_path.touch()  # an empty SQLite database
    before = json.loads(example_project.ok("status", "--json"))
    assert before["current_version"] is None
    assert before["pending"] == EXAMPLE and before["applied"] == []
    example_project.migrate("002")
    after = json.loads(example_project.run("status", "--json").out)
    assert after["current_version"] == "002"
    assert after["applied"] == EXAMPLE[:2]
    assert after["pending"] == EXAMPLE[2:]
    for key in ("failed", "drift", "missing", "out_of_order"):
        assert after[key] == []


def test_history_is_newest_first_and_limited(example_project: Project) -> None:
    example_project.migrate()
    example_project.ok("down")
    code, out, _ = example_project.run("history", "--json")
    assert code == 0
    rows = json.loads(out)
    assert len(rows) == 6
    assert [(r["operation"], r["migration_id"]) for r in rows[:2]] == [
        ("rollback", "005_add_user_preferences"), ("apply", "005_add_user_preferences")
    ]
    assert [r["migration_id"] for r in rows[1:]] == EXAMPLE[::-1]
    assert rows[1]["status"] == "ROLLED_BACK"
    assert all(r["execution_id"] for r in rows)
    limited = json.loads(example_project.run("history", "--json", "--limit", "2").out)
    assert [r["execution_id"] for r in limited] == [r["execution_id"] for r in rows[:2]]
    assert example_project.run("history", "--limit", "-1").code == 2
    code, out, _ = example_project.run("history", "--limit", "1")
    assert code == 0 and "005_add_user_preferences" in out and "004" not in out


def test_graph_formats(example_project: Project) -> None:
    example_project.migrate("001")
    code, text, _ = example_project.run("graph")
    assert code == 0
    lines = text.splitlines()
    assert lines[0] == "[x] 001_create_users_table"
    assert lines[3] == (
        "[ ] 004_create_trades_table  <- 001_create_users_table, 003_create_orders_table"
    )
    code, dot, _ = example_project.run("graph", "--format", "dot")
    assert code == 0
    assert dot.startswith("digraph migrations {") and dot.rstrip().endswith("}")
    assert '"003_create_orders_table" -> "004_create_trades_table";' in dot
    assert dot.count("->") == 5
    code, mermaid, _ = example_project.run("graph", "--format", "mermaid")
    assert code == 0
    assert mermaid.startswith("graph LR")
    assert "m001 --> m004" in mermaid and "m003 --> m004" in mermaid
    assert "001_create_users_table (applied)" in mermaid
    assert "002_create_portfolio_table (pending)" in mermaid
    code, _, err = example_project.run("graph", "--format", "png")
    assert code == 2 and "text, dot, mermaid" in err


def test_plan_json(example_project: Project) -> None:
    code, _, err = example_project.run("plan", "--json")
    assert code == 2 and "does not exist" in err  # plan reads an existing database only
    assert not example_project.db_path.exists()  # and creates none
    example_project.db_path.touch()
    code, out, _ = example_project.run("plan", "--json")
    assert code == 0
    plan = json.loads(out)
    assert [p["id"] for p in plan] == EXAMPLE
    assert plan[3]["dependencies"] == ["001_create_users_table", "003_create_orders_table"]
    assert plan[0]["version"] == "001" and plan[0]["name"] == "Create Users Table"
    target = json.loads(example_project.run("plan", "004", "--json").out)
    assert [p["id"] for p in target] == EXAMPLE[:4]
    example_project.migrate()
    assert json.loads(example_project.run("plan", "--json").out) == []


def test_validate_touches_no_database(example_project: Project) -> None:
    code, out, err = example_project.run("validate")
    assert code == 0, err
    assert "5 migration(s)" in out and "OK" in out
    assert not example_project.db_path.exists()


def test_check_finds_a_foreign_key_violation(example_project: Project) -> None:
    example_project.migrate()
    code, out, err = example_project.run("check")
    assert code == 0, out + err
    assert "no problems" in out
    conn = sqlite3.connect(example_project.db_path)
    conn.execute("PRAGMA foreign_keys = OFF")
    conn.execute("INSERT INTO portfolio (user_id, symbol) VALUES (42, 'AAPL')")
    conn.commit()
    conn.close()
    code, out, _ = example_project.run("check")
    assert code == 4
    assert "portfolio" in out and "users" in out
    code, out, _ = example_project.run("check", "--json")
    assert code == 4
    report = json.loads(out)
    assert report["ok"] is False
    assert [p["check"] for p in report["problems"]] == ["sqlite.foreign_key"]
