"""What differs between two databases of one dialect.

Tables, columns (type, nullability, default, comment), indexes, unique constraints and
foreign keys come from Alembic's autogenerate comparison (``produce_migrations``, which runs
``compare_metadata``) of the FROM database, through a ``MigrationContext`` on its connection,
with the TO database reflected by SQLAlchemy: the operations that turn FROM into TO.
Alembic does not compare CHECK constraints: they are compared here on the same reflected
tables. What neither reflects (primary key changes, views, triggers, sequences, enums,
routines) comes from mig's own schema snapshots (:func:`mig.schema.changes`).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from mig.schema import changes, normalise_sql, strip_parens

if TYPE_CHECKING:
    from alembic.operations.ops import MigrationScript
    from mig.schema import Snapshot
    from sqlalchemy import MetaData, Table
    from sqlalchemy.engine import Connection, Dialect

    from .connect import Side

#: Snapshot kinds Alembic does not compare; reported from mig's snapshots.
SNAPSHOT_KINDS = ("sequences", "enums", "views", "triggers", "routines")
#: Keys of a snapshot's table Alembic does not compare. Checks are compared on the reflected
#: tables; the snapshot's are reported only for a table where that found no difference
#: (SQLAlchemy does not reflect MariaDB's column-level CHECKs, for one).
SNAPSHOT_TABLE_KEYS = ("primary_key", "exclusions", "checks")


@dataclass(frozen=True)
class Difference:
    """One difference, as a line and as data (``op``: Alembic's name for it, such as
    ``add_column``, ``add_check``, or ``schema`` for one found in the snapshots)."""

    op: str
    line: str
    table: str | None = None
    name: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return {"op": self.op, "table": self.table, "name": self.name, "line": self.line}


@dataclass(frozen=True)
class Check:
    table: str
    name: str | None
    sqltext: str


@dataclass
class Comparison:
    """Everything :mod:`mig_diff.render` needs to write the migration."""

    kind: str
    differences: list[Difference]
    script: MigrationScript
    #: CHECK constraints in TO and not in FROM (added), and the other way round (dropped),
    #: on tables both have.
    checks_added: list[Check] = field(default_factory=list)
    checks_dropped: list[Check] = field(default_factory=list)
    #: Snapshot-level differences (kind, object name, or table name for table keys).
    snapshot_only: list[tuple[str, str]] = field(default_factory=list)
    before: Snapshot = field(default_factory=dict)
    after: Snapshot = field(default_factory=dict)
    #: The SQLAlchemy dialect of the TO connection (for rendering).
    dialect: Dialect | None = None
    #: SQLite: every object's DDL in FROM and in TO (see :func:`mig_diff.render.sqlite_objects`).
    sqlite_before: dict[tuple[str, str], tuple[str, str]] = field(default_factory=dict)
    sqlite_after: dict[tuple[str, str], tuple[str, str]] = field(default_factory=dict)
    #: PostgreSQL, MySQL: ``CREATE VIEW`` of each view that differs, in FROM and in TO.
    views_before: dict[str, str] = field(default_factory=dict)
    views_after: dict[str, str] = field(default_factory=dict)

    @property
    def equal(self) -> bool:
        return not self.differences


def compare(source: Side, target: Side, prefix: str) -> Comparison:
    """The differences from ``source`` (FROM) to ``target`` (TO), mig's tables (``prefix``)
    left out."""
    from alembic.autogenerate import produce_migrations
    from alembic.migration import MigrationContext
    from sqlalchemy import MetaData, event

    before, after = source.snapshot(prefix), target.snapshot(prefix)
    with source.engine.connect() as src, target.engine.connect() as dst:
        context = MigrationContext.configure(src, opts={
            "compare_type": True,
            "compare_server_default": True,
            "include_name": lambda name, type_, parent: not _own(name, type_, parent, prefix),
        })
        metadata = MetaData()
        # Reflect TO the way autogenerate reflects FROM (e.g. a PostgreSQL serial column's
        # nextval() default is the column's own, not a default to compare or render).
        target_context = MigrationContext.configure(dst)
        event.listen(metadata, "column_reflect", target_context.impl.autogen_column_reflect)
        metadata.reflect(dst, only=lambda name, _md: not name.startswith(prefix))
        script = produce_migrations(context, metadata)
        source_metadata = MetaData()
        source_metadata.reflect(src, only=lambda name, _md: not name.startswith(prefix))
        dialect = dst.dialect
        result = Comparison(source.kind, [], script, before=before, after=after, dialect=dialect)
        assert script.upgrade_ops is not None  # produce_migrations sets it
        result.differences.extend(_lines(script.upgrade_ops.as_diffs(), dialect))
        if source.kind == "sqlite":
            from .render import sqlite_objects

            result.sqlite_before = sqlite_objects(src, prefix)
            result.sqlite_after = sqlite_objects(dst, prefix)
        _compare_checks(result, source_metadata, metadata)
        _compare_snapshots(result, before, after)
        changed_views = [name for kind, name in result.snapshot_only if kind == "views"]
        if changed_views and source.kind != "sqlite":
            result.views_before = _view_ddl(src, changed_views)
            result.views_after = _view_ddl(dst, changed_views)
    return result


_MYSQL_VIEW_HEAD = re.compile(r"^CREATE\s.*?\bVIEW\s", re.IGNORECASE | re.DOTALL)


def _view_ddl(conn: Connection, names: list[str]) -> dict[str, str]:
    """``CREATE VIEW`` statements of those of the views ``names`` the database has: its
    stored definition (MySQL's without algorithm, definer and security clauses, which
    belong to the server it came from)."""
    from sqlalchemy import inspect

    inspector = inspect(conn)
    present = set(inspector.get_view_names())
    quote = conn.dialect.identifier_preparer.quote
    out: dict[str, str] = {}
    for name in names:
        if name not in present:
            continue
        definition = str(inspector.get_view_definition(name)).strip().rstrip(";")
        if _MYSQL_VIEW_HEAD.match(definition):
            out[name] = _MYSQL_VIEW_HEAD.sub("CREATE VIEW ", definition, count=1)
        else:
            out[name] = f"CREATE VIEW {quote(name)} AS {definition}"
    return out


def _own(name: str | None, type_: str, parent: Any, prefix: str) -> bool:
    """Whether an object belongs to mig's bookkeeping."""
    if type_ == "table":
        return bool(name and name.startswith(prefix))
    table = parent.get("table_name") if isinstance(parent, dict) else None
    return bool(table and str(table).startswith(prefix))


def _compare_checks(result: Comparison, source: MetaData, target: MetaData) -> None:
    from sqlalchemy import CheckConstraint

    def checks(table: Table) -> dict[str, Check]:
        found: dict[str, Check] = {}
        for constraint in table.constraints:
            if isinstance(constraint, CheckConstraint):
                text = str(constraint.sqltext)
                name = constraint.name if isinstance(constraint.name, str) else None
                found[strip_parens(normalise_sql(text))] = Check(table.name, name, text)
        return found

    for name in sorted(set(source.tables) & set(target.tables)):
        old, new = checks(source.tables[name]), checks(target.tables[name])
        for key in sorted(set(old) - set(new)):
            result.checks_dropped.append(old[key])
            result.differences.append(Difference(
                "remove_check", f"table {name}: check ({key}) dropped", name, old[key].name))
        for key in sorted(set(new) - set(old)):
            result.checks_added.append(new[key])
            result.differences.append(Difference(
                "add_check", f"table {name}: check ({key}) added", name, new[key].name))


def _compare_snapshots(result: Comparison, before: Snapshot, after: Snapshot) -> None:
    """The lines of mig's snapshots for what Alembic and the checks above do not cover."""
    def reduce(snapshot: Snapshot, common: set[str]) -> Snapshot:
        tables = snapshot.get("tables") or {}
        reduced: Snapshot = {"tables": {
            name: {key: tables[name][key] for key in SNAPSHOT_TABLE_KEYS if key in tables[name]}
            for name in common
        }}
        for kind in SNAPSHOT_KINDS:
            if kind in snapshot:
                reduced[kind] = snapshot[kind]
        return reduced

    common = set(before.get("tables") or {}) & set(after.get("tables") or {})
    old, new = reduce(before, common), reduce(after, common)
    reflected = {d.table for d in result.differences
                 if d.op in ("add_check", "remove_check") and d.table is not None}
    for name in reflected:
        for snapshot in (old, new):
            snapshot["tables"][name].pop("checks", None)
    for kind in ("tables", *SNAPSHOT_KINDS):
        a, b = old.get(kind) or {}, new.get(kind) or {}
        for name in sorted(set(a) | set(b)):
            if a.get(name) == b.get(name) or _comes_with_table(kind, a, b, name, common):
                continue
            result.snapshot_only.append((kind, name))
            for line in changes({kind: {name: a[name]} if name in a else {}},
                                {kind: {name: b[name]} if name in b else {}}):
                table = name if kind == "tables" else None
                result.differences.append(Difference("schema", line, table, name))


def _comes_with_table(kind: str, a: Any, b: Any, name: str, common: set[str]) -> bool:
    """A sequence owned by a column of a table added or dropped (a ``serial``): the table's
    line says it."""
    if kind != "sequences":
        return False
    owner = (b.get(name) or a.get(name) or {}).get("owned_by")
    return isinstance(owner, str) and owner.split(".", 1)[0] not in common


# -- Alembic's diffs as lines -----------------------------------------------------------------


def _lines(diffs: list[Any], dialect: Dialect) -> list[Difference]:
    out: list[Difference] = []
    for diff in diffs:
        if isinstance(diff, list):  # modify_* of one column come grouped
            out.extend(_modify(item, dialect) for item in diff)
        else:
            out.append(_one(diff, dialect))
    return out


def _one(diff: tuple[Any, ...], dialect: Dialect) -> Difference:
    op = diff[0]
    if op in ("add_table", "remove_table"):
        table = diff[1]
        return Difference(op, f"table {table.name} {_verb(op)}", table.name, table.name)
    if op in ("add_column", "remove_column"):
        table, column = diff[2], diff[3]
        detail = f" ({_column(column, dialect)})" if op == "add_column" else ""
        return Difference(op, f"table {table}: column {column.name} {_verb(op)}{detail}",
                          table, column.name)
    if op in ("add_index", "remove_index"):
        index = diff[1]
        noun = "unique index" if index.unique else "index"
        cols = ", ".join(_expr(e) for e in index.expressions)
        return Difference(op, f"index {index.name} {_verb(op)} ({noun} on {index.table.name}:"
                          f" {cols})", index.table.name, index.name)
    if op in ("add_constraint", "remove_constraint"):
        constraint = diff[1]
        cols = ", ".join(c.name for c in constraint.columns)
        label = f" {constraint.name}" if isinstance(constraint.name, str) else ""
        return Difference(op, f"table {constraint.table.name}: unique{label} ({cols})"
                          f" {_verb(op)}", constraint.table.name, _name(constraint.name))
    if op in ("add_fk", "remove_fk"):
        fk = diff[1]
        cols = ", ".join(fk.column_keys)
        # "table.column" (or "schema.table.column"): the referenced column's name is last.
        refs = ", ".join(e.target_fullname.rsplit(".", 1)[-1] for e in fk.elements)
        label = f" {fk.name}" if isinstance(fk.name, str) else ""
        actions = "".join(f" on {what} {rule.lower()}" for what, rule in
                          (("delete", fk.ondelete), ("update", fk.onupdate)) if rule)
        return Difference(op, f"table {fk.table.name}: foreign key{label} ({cols}) ->"
                          f" {fk.referred_table.name}({refs}){actions} {_verb(op)}",
                          fk.table.name, _name(fk.name))
    if op in ("add_table_comment", "remove_table_comment"):
        table = diff[1]
        return Difference(op, f"table {table.name}: comment changed", table.name, table.name)
    return Difference(op, " ".join(str(part) for part in diff))  # a kind Alembic added later


def _modify(diff: tuple[Any, ...], dialect: Dialect) -> Difference:
    op, table, column, old, new = diff[0], diff[2], diff[3], diff[5], diff[6]
    where = f"table {table}: column {column}"
    if op == "modify_type":
        line = f"{where} type changed ({_type(old, dialect)} -> {_type(new, dialect)})"
    elif op == "modify_nullable":
        line = f"{where} changed (nullable: {_bool(old)} -> {_bool(new)})"
    elif op == "modify_default":
        line = f"{where} default changed ({_default(old)} -> {_default(new)})"
    elif op == "modify_comment":
        line = f"{where} comment changed ({old!r} -> {new!r})"
    else:
        line = f"{where} {op} ({old!r} -> {new!r})"
    return Difference(op, line, table, column)


def _verb(op: str) -> str:
    return "added" if op.startswith("add") else "dropped"


def _name(name: Any) -> str | None:
    return name if isinstance(name, str) else None


def _bool(value: Any) -> str:
    return "true" if value else "false"


def _type(value: Any, dialect: Dialect) -> str:
    try:
        return str(value.compile(dialect=dialect))
    except Exception:  # a type the dialect cannot compile: its Python name says enough
        return repr(value)


def _default(value: Any) -> str:
    if value is None:
        return "NULL"
    text = getattr(value, "arg", value)
    return normalise_sql(str(getattr(text, "text", text)))


def _expr(value: Any) -> str:
    return str(getattr(value, "name", None) or value)


def _column(column: Any, dialect: Dialect) -> str:
    parts = [_type(column.type, dialect)]
    if not column.nullable:
        parts.append("NOT NULL")
    if column.server_default is not None:
        parts.append(f"DEFAULT {_default(column.server_default)}")
    return " ".join(parts)
