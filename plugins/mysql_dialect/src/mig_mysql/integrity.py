"""Read-only integrity checks: rows that break a foreign key.

MySQL checks foreign keys only while ``foreign_key_checks`` is on; a session that turned it
off (a bulk load, a restore) can leave rows referencing nothing. Each foreign key of the
database is checked with an anti-join (``LEFT JOIN`` the parent, keep the rows that found
none); a key with a NULL column is not checked, as MySQL does not check it either.
"""

from __future__ import annotations

from mig.models import Problem
from mig.protocols import Dialect

from .dialect import quote_ident

FOREIGN_KEY = "mysql.foreign_key"


def check(dialect: Dialect) -> list[Problem]:
    return foreign_key_problems(dialect)


def foreign_key_problems(dialect: Dialect) -> list[Problem]:
    rows = dialect.query(
        "SELECT TABLE_NAME, CONSTRAINT_NAME, COLUMN_NAME, REFERENCED_TABLE_SCHEMA,"
        " REFERENCED_TABLE_NAME, REFERENCED_COLUMN_NAME"
        " FROM information_schema.KEY_COLUMN_USAGE"
        " WHERE TABLE_SCHEMA = DATABASE() AND REFERENCED_TABLE_NAME IS NOT NULL"
        " ORDER BY TABLE_NAME, CONSTRAINT_NAME, ORDINAL_POSITION"
    )
    keys: dict[tuple[str, str], list[tuple[str, str, str, str]]] = {}
    for table, constraint, column, ref_schema, ref_table, ref_column in rows:
        keys.setdefault((str(table), str(constraint)), []).append(
            (str(column), str(ref_schema), str(ref_table), str(ref_column))
        )
    problems = []
    for (table, constraint), columns in keys.items():
        ref_schema, ref_table = columns[0][1], columns[0][2]
        parent = f"{quote_ident(ref_schema)}.{quote_ident(ref_table)}"
        on = " AND ".join(
            f"p.{quote_ident(ref)} = c.{quote_ident(col)}" for col, _, _, ref in columns
        )
        not_null = " AND ".join(f"c.{quote_ident(col)} IS NOT NULL" for col, _, _, _ in columns)
        first_ref = quote_ident(columns[0][3])
        (count,) = dialect.query(
            f"SELECT COUNT(*) FROM {quote_ident(table)} c LEFT JOIN {parent} p ON {on}"
            f" WHERE {not_null} AND p.{first_ref} IS NULL"
        )[0]
        if count:
            src = ", ".join(col for col, _, _, _ in columns)
            dest = ", ".join(ref for _, _, _, ref in columns)
            problems.append(Problem(
                check=FOREIGN_KEY,
                message=f"{table}: {count} row(s) reference a missing row in {ref_table}"
                        f" (foreign key {constraint}: {src} -> {ref_table}.{dest})",
                object=table,
            ))
    return problems
