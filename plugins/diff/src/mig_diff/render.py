"""The SQL of a migration that turns FROM into TO (UP) and back (DOWN).

PostgreSQL and MySQL: Alembic's operations from the comparison (``upgrade_ops`` and
``downgrade_ops``, plus CHECK constraints) rendered in Alembic's offline mode (``as_sql``)
for the TO connection's SQLAlchemy dialect.

SQLite: the database keeps every object's DDL as written (``sqlite_master``), so the
statements are those texts: an added column is ``ALTER TABLE ... ADD COLUMN`` with the
column's text; any other change to a table is SQLite's documented table rebuild
(https://www.sqlite.org/lang_altertable.html#otheralter): with foreign keys off, create the
new table under a temporary name, copy the common columns, drop the old table, rename the
new one, recreate its indexes and triggers, in one transaction; the migration is then
``@transactional: false`` because ``PRAGMA foreign_keys`` cannot change inside one.
"""

from __future__ import annotations

import io
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from mig.schema import normalise_sql, quoted_end

if TYPE_CHECKING:
    from sqlalchemy.engine import Connection

    from .compare import Comparison

#: Name prefix of the new table during a SQLite rebuild.
REBUILD_PREFIX = "_mig_diff_new_"


@dataclass
class Rendered:
    """A migration's two sections, and what could not be generated."""

    up: list[str]
    down: list[str]
    transactional: bool = True
    #: Differences no statement was written for (the file says so in comments).
    notes: list[str] = field(default_factory=list)


def render(comparison: Comparison) -> Rendered:
    if comparison.kind == "sqlite":
        return _sqlite(comparison)
    return _alembic(comparison)


# -- PostgreSQL, MySQL: Alembic operations, offline --------------------------------------------


def _alembic(comparison: Comparison) -> Rendered:
    from alembic.operations import ops

    upgrade, downgrade = comparison.script.upgrade_ops, comparison.script.downgrade_ops
    assert upgrade is not None and downgrade is not None  # produce_migrations sets both
    up: list[Any] = _flatten(upgrade.ops)
    down: list[Any] = _flatten(downgrade.ops)
    for check in comparison.checks_dropped:
        name = check.name or _missing_name(check.table)
        up.insert(0, ops.DropConstraintOp(name, check.table, type_="check"))
        down.append(ops.CreateCheckConstraintOp(name, check.table, _text(check.sqltext)))
    for check in comparison.checks_added:
        name = check.name or _missing_name(check.table)
        up.append(ops.CreateCheckConstraintOp(name, check.table, _text(check.sqltext)))
        down.insert(0, ops.DropConstraintOp(name, check.table, type_="check"))
    views = {name for kind, name in comparison.snapshot_only if kind == "views"}
    notes = [f"not generated: {d.line}" for d in comparison.differences
             if d.op == "schema" and d.name not in views]
    before, after = comparison.views_before, comparison.views_after
    assert comparison.dialect is not None
    quote = comparison.dialect.identifier_preparer.quote
    return Rendered(
        _drop_views(before, after, quote) + _offline(comparison, up) + _views(before, after),
        _drop_views(after, before, quote) + _offline(comparison, down) + _views(after, before),
        notes=notes,
    )


def _drop_views(old: dict[str, str], new: dict[str, str], quote: Any) -> list[str]:
    """Dropping the views of ``old`` that ``new`` lacks or defines otherwise: first, as
    they may use what the other statements change."""
    return [f"DROP VIEW {quote(name)};" for name in sorted(old) if old[name] != new.get(name)]


def _views(old: dict[str, str], new: dict[str, str]) -> list[str]:
    """Creating the views of ``new`` that ``old`` lacks or defines otherwise: last."""
    return [f"{new[name]};" for name in sorted(new) if new[name] != old.get(name)]


def _flatten(items: list[Any]) -> list[Any]:
    from alembic.operations import ops

    out: list[Any] = []
    for op in items:
        if isinstance(op, ops.OpContainer):
            out.extend(_flatten(op.ops))
        else:
            out.append(op)
    return out


def _missing_name(table: str) -> str:
    from mig.errors import ConfigError

    raise ConfigError(f"table {table}: a CHECK constraint without a name cannot be dropped"
                      " by name; write this migration by hand")


def _text(sql: str) -> Any:
    from sqlalchemy import text

    return text(sql)


def _offline(comparison: Comparison, operations: list[Any]) -> list[str]:
    from alembic.migration import MigrationContext
    from alembic.operations import Operations

    buffer = io.StringIO()
    context = MigrationContext.configure(
        dialect=comparison.dialect, opts={"as_sql": True, "output_buffer": buffer})
    runner = Operations(context)
    for op in operations:
        runner.invoke(op)
    return [s.strip() + ";" for s in _split(buffer.getvalue()) if s.strip()]


def _split(output: str) -> list[str]:
    """Alembic's offline output, one statement per element (it ends each with ``;`` and a
    blank line)."""
    return [part.strip() for part in output.split(";\n\n")]


# -- SQLite: the stored DDL, ALTER TABLE ADD COLUMN or the table rebuild -----------------------

#: ``sqlite_master`` rows by (type, name): (table name, SQL text).
Objects = dict[tuple[str, str], tuple[str, str]]


def sqlite_objects(conn: Connection, prefix: str) -> Objects:
    """Every user object of a SQLite database with its DDL, mig's own left out."""
    from sqlalchemy import text

    rows = conn.execute(text(
        "SELECT type, name, tbl_name, sql FROM sqlite_master WHERE sql IS NOT NULL"
        " AND name NOT LIKE 'sqlite\\_%' ESCAPE '\\'"
    )).all()
    return {
        (str(kind), str(name)): (str(table), str(sql))
        for kind, name, table, sql in rows
        if not str(table).startswith(prefix) and not str(name).startswith(prefix)
    }


def _sqlite(comparison: Comparison) -> Rendered:
    old, new = comparison.sqlite_before, comparison.sqlite_after
    up, up_rebuilds = _sqlite_steps(old, new, comparison.before, comparison.after)
    down, down_rebuilds = _sqlite_steps(new, old, comparison.after, comparison.before)
    transactional = not (up_rebuilds or down_rebuilds)
    if not transactional:
        up, down = _without_foreign_keys(up), _without_foreign_keys(down)
    return Rendered(up, down, transactional)


def _without_foreign_keys(statements: list[str]) -> list[str]:
    return [
        "PRAGMA foreign_keys = OFF;", "PRAGMA legacy_alter_table = ON;", "BEGIN;",
        *statements,
        "COMMIT;", "PRAGMA legacy_alter_table = OFF;", "PRAGMA foreign_keys = ON;",
    ]


def _body(sql: str) -> str:
    """A CREATE statement from its first ``(`` on, normalised: the same object whatever
    quoting its name had."""
    return normalise_sql(sql[sql.find("("):] if "(" in sql else sql)


def _sqlite_steps(old: Objects, new: Objects, before: Any, after: Any) -> tuple[list[str], bool]:
    """Statements that turn the objects ``old`` into ``new``, and whether a table rebuild is
    among them."""
    def of(kind: str, objects: Objects) -> dict[str, tuple[str, str]]:
        return {name: value for (k, name), value in objects.items() if k == kind}

    def changed(kind: str) -> tuple[list[str], list[str], list[str]]:
        a, b = of(kind, old), of(kind, new)
        gone = sorted(n for n in a if n not in b)
        added = sorted(n for n in b if n not in a)
        differ = sorted(n for n in a if n in b and _body(a[n][1]) != _body(b[n][1]))
        return gone, added, differ

    tables_gone, tables_added, tables_differ = changed("table")
    new_tables, old_tables = of("table", new), of("table", old)
    altered: list[str] = []
    rebuilt: list[str] = []
    for name in tables_differ:
        added_columns = _appended_columns(old_tables[name][1], new_tables[name][1])
        if added_columns is None:
            rebuilt.append(name)
        else:
            altered.extend(f"ALTER TABLE {_quote(name)} ADD COLUMN {c};" for c in added_columns)

    out: list[str] = []
    for kind in ("view", "trigger", "index"):
        gone, _, differ = changed(kind)
        out.extend(f"DROP {kind.upper()} {_quote(n)};" for n in (*gone, *differ))
    out.extend(new_tables[n][1].strip().rstrip(";") + ";" for n in tables_added)
    out.extend(altered)
    columns_before = _columns(before)
    columns_after = _columns(after)
    for name in rebuilt:
        tmp = _quote(REBUILD_PREFIX + name)
        sql = new_tables[name][1]
        keep = [c for c in columns_after.get(name, []) if c in columns_before.get(name, [])]
        cols = ", ".join(_quote(c) for c in keep)
        out += [
            f"CREATE TABLE {tmp} {sql[sql.find('('):].strip().rstrip(';')};",
            f"INSERT INTO {tmp} ({cols}) SELECT {cols} FROM {_quote(name)};" if keep else "",
            f"DROP TABLE {_quote(name)};",
            f"ALTER TABLE {tmp} RENAME TO {_quote(name)};",
        ]
    out.extend(f"DROP TABLE {_quote(n)};" for n in tables_gone)
    for kind in ("index", "trigger", "view"):
        _, added, differ = changed(kind)
        objects = of(kind, new)
        again = [n for n, (table, _) in objects.items() if table in rebuilt and n not in differ]
        for n in sorted({*added, *differ, *again}):
            out.append(objects[n][1].strip().rstrip(";") + ";")
    return [s for s in out if s], bool(rebuilt)


def _columns(snapshot: Any) -> dict[str, list[str]]:
    """Each table's insertable columns (generated ones left out)."""
    tables = snapshot.get("tables") or {}
    return {
        name: [c["name"] for c in table["columns"] if not c.get("generated")]
        for name, table in tables.items()
    }


def _appended_columns(old: str, new: str) -> list[str] | None:
    """The column definitions SQLite's ``ALTER TABLE ADD COLUMN`` appended to ``old`` to
    give ``new``, or None when ``new`` is not ``old`` plus columns."""
    a, b = _body(old), _body(new)
    if not (a.endswith(")") and b.endswith(")")) or not b.startswith(a[:-1].rstrip()):
        return None
    rest = b[len(a[:-1].rstrip()):-1].strip()
    if not rest.startswith(","):
        return None
    parts = _top_level_split(rest[1:])
    upper = [p.upper() for p in parts]
    constraint_words = ("CONSTRAINT", "PRIMARY", "UNIQUE", "CHECK", "FOREIGN")
    if not parts or any(p.split(" ", 1)[0] in constraint_words for p in upper):
        return None
    # What SQLite's ADD COLUMN refuses: the column must then come by a rebuild.
    if any(" PRIMARY KEY" in p or " UNIQUE" in p or (" NOT NULL" in p and " DEFAULT " not in p)
           for p in upper):
        return None
    return parts


def _top_level_split(text: str) -> list[str]:
    """``text`` split at commas outside parentheses and quotes, each part stripped."""
    parts: list[str] = []
    depth, start, i = 0, 0, 0
    while i < len(text):
        ch = text[i]
        if ch in "'\"`[":
            i = quoted_end(text, i)
            continue
        if ch == "(":
            depth += 1
        elif ch == ")":
            depth -= 1
        elif ch == "," and depth == 0:
            parts.append(text[start:i].strip())
            start = i + 1
        i += 1
    parts.append(text[start:].strip())
    return [p for p in parts if p]


def _quote(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'
