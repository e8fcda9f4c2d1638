"""mig-formats' plain (Supabase, Atlas), Sqitch, Liquibase, Diesel and node-pg-migrate
folders on every dialect, and the SQL each tool's users write for their server: PL/pgSQL
bodies, ``CREATE INDEX CONCURRENTLY`` and scripts that commit their own transaction on
PostgreSQL, ``DELIMITER`` blocks on MariaDB. (Prisma's history import runs on every dialect
in test_dialects_formats.py.)"""

from __future__ import annotations

from pathlib import Path

import pytest
from dialect_targets import DialectTarget
from format_folders import write
from mig.testing import Project
from sqitch_project import FILES, IDS


def project_with(dialect: DialectTarget, tmp_path: Path, files: dict[str, str],
                 fmt: str = "auto") -> Project:
    project = dialect.project(tmp_path)
    write(project.migrations_dir, files)
    project.write_config(project.config_path.read_text(), migrations_format=fmt)
    return project


def test_sqitch_project_up_and_down(dialect: DialectTarget, tmp_path: Path) -> None:
    project = project_with(dialect, tmp_path, FILES)
    project.migrate()
    assert dialect.query("SELECT shelf_id, n FROM book_count") == [(1, 2)]
    with project.engine() as engine:
        assert [m.id for m in engine.migrations()] == IDS
        engine.down()  # the reworked view's revert script restores the first version
    assert dialect.query("SELECT n FROM book_count") == [(2,)]
    with project.engine() as engine:
        engine.down(everything=True)
    assert not {"shelves", "books", "book_count"} & dialect.user_tables()


SUPABASE_PG = {
    "20240101000000_profiles.sql": """\
create table public.profiles (
  id bigint generated always as identity primary key,
  handle text not null,
  updated_at timestamptz not null default now()
);
alter table public.profiles enable row level security;

create function public.touch_profile() returns trigger
language plpgsql as $$
begin
  new.updated_at := now(); -- a ';' inside the body
  return new;
end;
$$;

create trigger profiles_touch before update on public.profiles
  for each row execute function public.touch_profile();
""",
    # Supabase's CLI would run this outside a transaction too; mig sees the statement.
    "20240102000000_profiles_handle_idx.sql":
        "create index concurrently profiles_handle_idx on public.profiles (handle);\n",
}


def test_supabase_folder_with_plpgsql_on_postgres(dialect: DialectTarget, tmp_path: Path) -> None:
    if dialect.name != "postgres":
        pytest.skip("PL/pgSQL, row level security and CONCURRENTLY are PostgreSQL's")
    project = project_with(dialect, tmp_path, SUPABASE_PG)
    with project.engine() as engine:
        assert [m.transactional for m in engine.migrations()] == [True, False]
    project.migrate()
    dialect.execute("INSERT INTO profiles (handle) VALUES ('a')",
                    "UPDATE profiles SET updated_at = '2000-01-01' WHERE handle = 'a'")
    assert dialect.query("SELECT updated_at > '2001-01-01' FROM profiles") == [(True,)]
    assert dialect.query("SELECT indexname FROM pg_indexes WHERE indexname ="
                         " 'profiles_handle_idx'") == [("profiles_handle_idx",)]


SQITCH_PG = {
    "sqitch.plan": "%syntax-version=1.0.0\n%project=ledger\n\n"
                   "entries 2024-03-01T10:00:00Z Sam <sam@example.net> # entries\n"
                   "balance [entries] 2024-03-01T10:05:00Z Sam <sam@example.net> # function\n",
    "deploy/entries.sql": "BEGIN;\nCREATE SCHEMA ledger;\nCREATE TABLE ledger.entries"
                          " (id serial PRIMARY KEY, amount numeric(12,2) NOT NULL);\nCOMMIT;\n",
    "revert/entries.sql": "BEGIN;\nDROP SCHEMA ledger CASCADE;\nCOMMIT;\n",
    "deploy/balance.sql": "-- Deploy ledger:balance to pg\n-- requires: entries\n\nBEGIN;\n\n"
                          "CREATE FUNCTION ledger.balance() RETURNS numeric LANGUAGE plpgsql"
                          " AS $body$\nDECLARE total numeric;\nBEGIN\n"
                          "  SELECT COALESCE(SUM(amount), 0) INTO total FROM ledger.entries;\n"
                          "  RETURN total;\nEND;\n$body$;\n\nCOMMIT;\n",
    "revert/balance.sql": "BEGIN;\nDROP FUNCTION ledger.balance();\nCOMMIT;\n",
}


def test_sqitch_scripts_with_their_own_transactions_on_postgres(
    dialect: DialectTarget, tmp_path: Path
) -> None:
    if dialect.name != "postgres":
        pytest.skip("schemas and PL/pgSQL are PostgreSQL's")
    project = project_with(dialect, tmp_path, SQITCH_PG, "sqitch")
    project.migrate()
    dialect.execute("INSERT INTO ledger.entries (amount) VALUES (2.50), (4.25)")
    assert [str(v) for (v,) in dialect.query("SELECT ledger.balance()")] == ["6.75"]
    with project.engine() as engine:
        engine.down(everything=True)
    assert dialect.query("SELECT count(*) FROM pg_namespace WHERE nspname = 'ledger'") == [(0,)]


ATLAS_MARIADB = {
    "20240101000000_stock.sql": "CREATE TABLE stock (sku VARCHAR(20) PRIMARY KEY,"
                                " qty INT NOT NULL);\n"
                                "CREATE TABLE stock_log (sku VARCHAR(20), qty INT);\n",
    "20240102000000_stock_trigger.sql": """\
DELIMITER //
CREATE TRIGGER stock_logged AFTER UPDATE ON stock FOR EACH ROW
BEGIN
  INSERT INTO stock_log (sku, qty) VALUES (NEW.sku, NEW.qty);
  UPDATE stock_log SET qty = qty WHERE sku = NEW.sku;
END//
DELIMITER ;
""",
}


def test_atlas_folder_with_a_delimiter_block_on_mariadb(
    dialect: DialectTarget, tmp_path: Path
) -> None:
    if dialect.name != "mysql":
        pytest.skip("DELIMITER blocks are the MySQL client's")
    project = project_with(dialect, tmp_path, ATLAS_MARIADB, "atlas")
    project.migrate()
    dialect.execute("INSERT INTO stock VALUES ('a', 1)", "UPDATE stock SET qty = 5")
    assert dialect.query("SELECT sku, qty FROM stock_log") == [("a", 5)]


LIQUIBASE_PG = """\
--liquibase formatted sql

--changeset dana:accounts
CREATE TABLE accounts (id serial PRIMARY KEY, email text NOT NULL, seen integer NOT NULL
  DEFAULT 0);
--rollback DROP TABLE accounts;

--changeset dana:seen-function splitStatements:false
--comment: a PL/pgSQL body with semicolons, kept whole
CREATE FUNCTION accounts_seen() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  NEW.seen := NEW.seen + 1;
  RETURN NEW;
END;
$$;
CREATE TRIGGER accounts_seen BEFORE INSERT ON accounts
  FOR EACH ROW EXECUTE FUNCTION accounts_seen();
--rollback DROP TRIGGER accounts_seen ON accounts;
--rollback DROP FUNCTION accounts_seen();

--changeset dana:email-index runInTransaction:false
CREATE INDEX CONCURRENTLY accounts_email ON accounts (email);
--rollback DROP INDEX CONCURRENTLY accounts_email;
"""


def test_liquibase_changelog_on_postgres(dialect: DialectTarget, tmp_path: Path) -> None:
    if dialect.name != "postgres":
        pytest.skip("PL/pgSQL and CONCURRENTLY are PostgreSQL's")
    project = project_with(dialect, tmp_path, {"db.changelog.sql": LIQUIBASE_PG})
    project.migrate()
    dialect.execute("INSERT INTO accounts (email) VALUES ('a@example.org')")
    assert dialect.query("SELECT seen FROM accounts") == [(1,)]
    with project.engine() as engine:
        assert [m.transactional for m in engine.migrations()] == [True, True, False]
        engine.down(everything=True)
    assert "accounts" not in dialect.user_tables()
    assert dialect.query("SELECT count(*) FROM pg_proc WHERE proname = 'accounts_seen'") == [(0,)]


LIQUIBASE_PORTABLE = """\
--liquibase formatted sql
--changeset erin:1
CREATE TABLE parcels (id INTEGER PRIMARY KEY, label VARCHAR(40) NOT NULL);
INSERT INTO parcels (id, label) VALUES (1, 'box; fragile');
--rollback DROP TABLE parcels;
--changeset erin:2
ALTER TABLE parcels ADD weight INTEGER;
--rollback ALTER TABLE parcels DROP COLUMN weight;
"""


def test_liquibase_changelog_up_and_down(dialect: DialectTarget, tmp_path: Path) -> None:
    project = project_with(dialect, tmp_path, {"changelog.sql": LIQUIBASE_PORTABLE})
    project.migrate()
    assert dialect.query("SELECT label, weight FROM parcels") == [("box; fragile", None)]
    with project.engine() as engine:
        engine.down(everything=True)
    assert "parcels" not in dialect.user_tables()


# Diesel's first folder as `diesel setup` writes it on PostgreSQL (helper functions, in our
# own words), then a table that uses it and an index Diesel must build outside a transaction.
DIESEL_PG = {
    "00000000000000_diesel_initial_setup/up.sql":
        "-- Diesel's helpers: keep updated_at current\n"
        "CREATE OR REPLACE FUNCTION diesel_manage_updated_at(_tbl regclass) RETURNS VOID AS $$\n"
        "BEGIN\n    EXECUTE format('CREATE TRIGGER set_updated_at BEFORE UPDATE ON %s\n"
        "                    FOR EACH ROW EXECUTE PROCEDURE diesel_set_updated_at()', _tbl);\n"
        "END;\n$$ LANGUAGE plpgsql;\n\n"
        "CREATE OR REPLACE FUNCTION diesel_set_updated_at() RETURNS trigger AS $$\n"
        "BEGIN\n    IF (NEW IS DISTINCT FROM OLD AND NEW.updated_at IS NOT DISTINCT FROM"
        " OLD.updated_at) THEN\n        NEW.updated_at := current_timestamp;\n    END IF;\n"
        "    RETURN NEW;\nEND;\n$$ LANGUAGE plpgsql;\n",
    "00000000000000_diesel_initial_setup/down.sql":
        "DROP FUNCTION IF EXISTS diesel_manage_updated_at(_tbl regclass);\n"
        "DROP FUNCTION IF EXISTS diesel_set_updated_at();\n",
    "2024-02-01-093000_create_notes/up.sql":
        "CREATE TABLE notes (id SERIAL PRIMARY KEY, body TEXT NOT NULL,"
        " updated_at TIMESTAMP NOT NULL DEFAULT now());\n"
        "SELECT diesel_manage_updated_at('notes');\n",
    "2024-02-01-093000_create_notes/down.sql": "DROP TABLE notes;\n",
    "2024-02-02-080000_notes_body_idx/up.sql":
        "CREATE INDEX CONCURRENTLY notes_body_idx ON notes (body);\n",
    "2024-02-02-080000_notes_body_idx/down.sql": "DROP INDEX CONCURRENTLY notes_body_idx;\n",
    "2024-02-02-080000_notes_body_idx/metadata.toml": "run_in_transaction = false\n",
}


def test_diesel_initial_setup_and_no_transaction_on_postgres(
    dialect: DialectTarget, tmp_path: Path
) -> None:
    if dialect.name != "postgres":
        pytest.skip("diesel setup's helper functions are PL/pgSQL")
    project = project_with(dialect, tmp_path, DIESEL_PG)
    with project.engine() as engine:
        assert [m.transactional for m in engine.migrations()] == [True, True, False]
    project.migrate()
    dialect.execute("INSERT INTO notes (body, updated_at) VALUES ('a', '2000-01-01')",
                    "UPDATE notes SET body = 'b'")  # the helper's trigger stamps the row
    assert dialect.query("SELECT updated_at > '2001-01-01' FROM notes") == [(True,)]
    assert dialect.query("SELECT indexname FROM pg_indexes WHERE indexname ="
                         " 'notes_body_idx'") == [("notes_body_idx",)]
    project.ok("down", "--method", "down", "--yes")
    assert dialect.query("SELECT indexname FROM pg_indexes WHERE indexname ="
                         " 'notes_body_idx'") == []
    assert "notes" in dialect.user_tables()


NODE_PG_MIGRATE_PG = {
    "1706000000000_audit.sql":
        "-- Up Migration\nCREATE TABLE audit (id BIGSERIAL PRIMARY KEY, at TIMESTAMPTZ NOT NULL"
        " DEFAULT now(), what TEXT NOT NULL);\n"
        "CREATE FUNCTION audit_note(note TEXT) RETURNS BIGINT LANGUAGE plpgsql AS $fn$\n"
        "DECLARE new_id BIGINT;\nBEGIN\n  INSERT INTO audit (what) VALUES (note) RETURNING id"
        " INTO new_id;\n  RETURN new_id;\nEND;\n$fn$;\n\n"
        "-- Down Migration\nDROP FUNCTION audit_note(TEXT);\nDROP TABLE audit;\n",
    "1706000100000_audit-what-idx.sql":
        "-- no transaction\n\n-- Up Migration\n"
        "CREATE INDEX CONCURRENTLY audit_what_idx ON audit (what);\n\n"
        "-- Down Migration\nDROP INDEX CONCURRENTLY audit_what_idx;\n",
}


def test_node_pg_migrate_function_and_no_transaction_on_postgres(
    dialect: DialectTarget, tmp_path: Path
) -> None:
    if dialect.name != "postgres":
        pytest.skip("node-pg-migrate is PostgreSQL's")
    project = project_with(dialect, tmp_path, NODE_PG_MIGRATE_PG)
    with project.engine() as engine:
        assert [m.transactional for m in engine.migrations()] == [True, False]
    project.migrate()
    assert dialect.query("SELECT audit_note('a;b')") == [(1,)]
    assert dialect.query("SELECT indexname FROM pg_indexes WHERE indexname ="
                         " 'audit_what_idx'") == [("audit_what_idx",)]
    project.ok("down", "--method", "down", "--yes")
    project.ok("down", "--method", "down", "--yes")
    assert "audit" not in dialect.user_tables()
