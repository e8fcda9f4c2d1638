"""Read-only integrity checks of the schema mig works in.

- ``postgres.foreign_key``: foreign keys added ``NOT VALID`` and never validated
  (``pg_constraint.convalidated = false``), and foreign keys whose enforcing triggers are
  disabled; each with the number of rows that break it now.
- ``postgres.check_constraint``: ``CHECK`` constraints added ``NOT VALID``.
- ``postgres.invalid_index``: indexes left invalid by a failed ``CREATE INDEX CONCURRENTLY``
  (``pg_index.indisvalid = false``), which the server keeps up to date but never uses.
"""

from __future__ import annotations

from mig.models import Problem
from mig.protocols import Dialect

from .dialect import quote_ident

FOREIGN_KEY = "postgres.foreign_key"
CHECK_CONSTRAINT = "postgres.check_constraint"
INVALID_INDEX = "postgres.invalid_index"

_SCHEMA = "(SELECT oid FROM pg_namespace WHERE nspname = current_schema())"


def check(dialect: Dialect) -> list[Problem]:
    return foreign_key_problems(dialect) + check_problems(dialect) + index_problems(dialect)


def foreign_key_problems(dialect: Dialect) -> list[Problem]:
    rows = dialect.query(
        "SELECT c.oid, c.conname, c.conrelid::regclass::text, c.confrelid::regclass::text,"
        " c.convalidated"
        " FROM pg_constraint c"
        f" WHERE c.contype = 'f' AND c.connamespace = {_SCHEMA} AND (NOT c.convalidated"
        "  OR EXISTS (SELECT 1 FROM pg_trigger t"
        "             WHERE t.tgconstraint = c.oid AND t.tgenabled = 'D'))"
        " ORDER BY 3, 2"
    )
    problems = []
    for oid, name, table, parent, validated in rows:
        pairs = dialect.query(
            "SELECT a.attname, p.attname"
            " FROM pg_constraint c"
            " CROSS JOIN LATERAL unnest(c.conkey, c.confkey) WITH ORDINALITY AS k(ch, pa, n)"
            " JOIN pg_attribute a ON a.attrelid = c.conrelid AND a.attnum = k.ch"
            " JOIN pg_attribute p ON p.attrelid = c.confrelid AND p.attnum = k.pa"
            " WHERE c.oid = %s ORDER BY k.n",
            (oid,),
        )
        columns = ", ".join(child for child, _ in pairs)
        targets = ", ".join(col for _, col in pairs)
        orphans = _orphans(dialect, table, parent, pairs)
        why = "is NOT VALID (its existing rows were never checked)" if not validated else (
            "is not enforced (its triggers are disabled)"
        )
        fix = f"; fix them, then ALTER TABLE {table} VALIDATE CONSTRAINT {quote_ident(name)}" if (
            not validated
        ) else ""
        problems.append(Problem(
            check=FOREIGN_KEY,
            message=f"foreign key {name} on {table} ({columns} -> {parent}.{targets}) {why};"
                    f" {orphans} row(s) reference a missing row{fix}",
            object=table,
        ))
    return problems


def _orphans(dialect: Dialect, table: str, parent: str, pairs: list[tuple[str, str]]) -> int:
    """Rows of ``table`` whose key (all columns set: MATCH SIMPLE) is not in ``parent``."""
    not_null = " AND ".join(f"c.{quote_ident(child)} IS NOT NULL" for child, _ in pairs)
    joined = " AND ".join(f"p.{quote_ident(col)} = c.{quote_ident(child)}" for child, col in pairs)
    (count,) = dialect.query(
        f"SELECT count(*) FROM {table} c WHERE {not_null}"
        f" AND NOT EXISTS (SELECT 1 FROM {parent} p WHERE {joined})"
    )[0]
    return int(count)


def check_problems(dialect: Dialect) -> list[Problem]:
    rows = dialect.query(
        "SELECT c.conname, c.conrelid::regclass::text, pg_get_constraintdef(c.oid)"
        f" FROM pg_constraint c WHERE c.contype = 'c' AND NOT c.convalidated"
        f" AND c.connamespace = {_SCHEMA} ORDER BY 2, 1"
    )
    return [
        Problem(
            check=CHECK_CONSTRAINT,
            message=f"check constraint {name} on {table} ({definition}) is NOT VALID: its"
                    f" existing rows were never checked",
            object=table,
        )
        for name, table, definition in rows
    ]


def index_problems(dialect: Dialect) -> list[Problem]:
    rows = dialect.query(
        "SELECT i.indexrelid::regclass::text, i.indrelid::regclass::text"
        " FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid"
        f" WHERE NOT i.indisvalid AND c.relnamespace = {_SCHEMA} ORDER BY 2, 1"
    )
    return [
        Problem(
            check=INVALID_INDEX,
            message=f"index {index} on {table} is INVALID (a CREATE INDEX CONCURRENTLY failed"
                    f" or was interrupted): DROP INDEX {index} and create it again",
            object=index,
        )
        for index, table in rows
    ]
