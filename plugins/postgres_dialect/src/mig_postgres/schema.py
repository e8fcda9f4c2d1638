"""The normalised snapshot of a PostgreSQL schema (see :mod:`mig.schema`).

Only the connection's current schema is read: the one ``?schema=`` (or the ``schema`` option)
names, which the dialect puts alone on the ``search_path``, else the first schema of the
server's ``search_path`` (normally ``public``). One ``pg_catalog`` query per kind, whatever the
number of objects. Objects that belong to an extension are left out (the extension makes
them).

Choices beyond :mod:`mig.schema`'s common format:

- column ``type`` is ``format_type`` (``character varying(255)``, ``timestamp with time
  zone``); a column may add ``identity`` (``"always"``/``"by default"``), ``generated`` (the
  stored expression; its ``default`` is then None) and ``collation`` (when not the type's).
- defaults, checks, partial-index conditions and index expressions are the server's own
  deparsed text (``pg_get_expr``), which does not depend on how the DDL was spelt.
- ``sequences``: every sequence of the schema, including those owned by ``serial`` and
  identity columns, so a change to one is seen; ``owned_by`` says ``"table.column"`` (or
  None). Those owned by excluded tables are left out with them. Parameters only, never the
  current value.
- ``enums``: ``{"labels": [...]}`` in sort order.
- ``indexes`` add ``method`` (``btree``, ``gin``, ...) and ``include`` (INCLUDE columns);
  indexes that back a primary key, unique or exclusion constraint are not listed.
- ``triggers`` are keyed ``"<table>.<trigger>"``: PostgreSQL trigger names are unique per
  table only. The definition is ``pg_get_triggerdef``.
- ``routines``: functions and procedures of the schema keyed ``"name(argument types)"``,
  with their ``pg_get_functiondef`` text (aggregates and window functions are not listed).
- tables add ``exclusions`` (``pg_get_constraintdef`` texts) when they have any; materialised
  views are ``views`` with ``"materialized": true``.
"""

from __future__ import annotations

from typing import Any

from mig.schema import Snapshot, normalise_sql, strip_parens

# "Not made by an extension", for a pg_class / pg_type / pg_proc row aliased as the argument.
_NOT_EXTENSION = (
    " AND NOT EXISTS (SELECT 1 FROM pg_depend dep WHERE dep.classid = '{cat}'::regclass"
    " AND dep.objid = {alias}.oid AND dep.deptype = 'e')"
)

_TABLES = """
SELECT c.relname, a.attname, format_type(a.atttypid, a.atttypmod), NOT a.attnotnull,
       pg_get_expr(d.adbin, d.adrelid), a.attidentity, a.attgenerated,
       CASE WHEN a.attcollation <> t.typcollation THEN co.collname END
FROM pg_class c
JOIN pg_namespace n ON n.oid = c.relnamespace
LEFT JOIN pg_attribute a ON a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped
LEFT JOIN pg_type t ON t.oid = a.atttypid
LEFT JOIN pg_collation co ON co.oid = a.attcollation
LEFT JOIN pg_attrdef d ON d.adrelid = c.oid AND d.adnum = a.attnum
WHERE n.nspname = current_schema() AND c.relkind IN ('r', 'p')
""" + _NOT_EXTENSION.format(cat="pg_class", alias="c") + """
ORDER BY c.relname, a.attnum
"""

_CONSTRAINTS = """
SELECT c.relname, con.contype,
       ARRAY(SELECT a.attname FROM unnest(con.conkey) WITH ORDINALITY k(num, pos)
             JOIN pg_attribute a ON a.attrelid = con.conrelid AND a.attnum = k.num
             ORDER BY k.pos),
       CASE WHEN fn.nspname = current_schema() THEN fc.relname
            ELSE fn.nspname || '.' || fc.relname END,
       ARRAY(SELECT a.attname FROM unnest(con.confkey) WITH ORDINALITY k(num, pos)
             JOIN pg_attribute a ON a.attrelid = con.confrelid AND a.attnum = k.num
             ORDER BY k.pos),
       con.confdeltype, con.confupdtype,
       CASE WHEN con.contype = 'c' THEN pg_get_expr(con.conbin, con.conrelid)
            WHEN con.contype = 'x' THEN pg_get_constraintdef(con.oid) END
FROM pg_constraint con
JOIN pg_class c ON c.oid = con.conrelid
JOIN pg_namespace n ON n.oid = c.relnamespace
LEFT JOIN pg_class fc ON fc.oid = con.confrelid
LEFT JOIN pg_namespace fn ON fn.oid = fc.relnamespace
WHERE n.nspname = current_schema() AND con.contype IN ('p', 'u', 'f', 'c', 'x')
ORDER BY c.relname, con.contype, con.conname
"""

_INDEXES = """
SELECT i.relname, t.relname, ix.indisunique, pg_get_expr(ix.indpred, ix.indrelid), am.amname,
       ARRAY(SELECT pg_get_indexdef(ix.indexrelid, k, true)
                    || CASE WHEN ix.indoption[k - 1] & 1 = 1 THEN
                            ' DESC' || CASE WHEN ix.indoption[k - 1] & 2 = 0
                                            THEN ' NULLS LAST' ELSE '' END
                       WHEN ix.indoption[k - 1] & 2 = 2 THEN ' NULLS FIRST' ELSE '' END
             FROM generate_series(1, ix.indnkeyatts) k ORDER BY k),
       ARRAY(SELECT pg_get_indexdef(ix.indexrelid, k, true)
             FROM generate_series(ix.indnkeyatts + 1, ix.indnatts) k ORDER BY k)
FROM pg_index ix
JOIN pg_class i ON i.oid = ix.indexrelid
JOIN pg_class t ON t.oid = ix.indrelid
JOIN pg_namespace n ON n.oid = t.relnamespace
JOIN pg_am am ON am.oid = i.relam
WHERE n.nspname = current_schema()
  AND NOT EXISTS (SELECT 1 FROM pg_constraint con WHERE con.conindid = ix.indexrelid
                  AND con.conrelid = ix.indrelid AND con.contype IN ('p', 'u', 'x'))
""" + _NOT_EXTENSION.format(cat="pg_class", alias="t") + """
ORDER BY i.relname
"""

_VIEWS = """
SELECT c.relname, c.relkind = 'm', pg_get_viewdef(c.oid, true)
FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
WHERE n.nspname = current_schema() AND c.relkind IN ('v', 'm')
""" + _NOT_EXTENSION.format(cat="pg_class", alias="c") + """
ORDER BY c.relname
"""

_TRIGGERS = """
SELECT tg.tgname, c.relname, tg.tgtype, pg_get_triggerdef(tg.oid, true),
       ARRAY(SELECT a.attname FROM unnest(tg.tgattr) WITH ORDINALITY k(num, pos)
             JOIN pg_attribute a ON a.attrelid = tg.tgrelid AND a.attnum = k.num
             ORDER BY k.pos)
FROM pg_trigger tg
JOIN pg_class c ON c.oid = tg.tgrelid
JOIN pg_namespace n ON n.oid = c.relnamespace
WHERE n.nspname = current_schema() AND NOT tg.tgisinternal
ORDER BY c.relname, tg.tgname
"""

_SEQUENCES = """
SELECT c.relname, format_type(s.seqtypid, NULL), s.seqstart, s.seqincrement, s.seqmin,
       s.seqmax, s.seqcache, s.seqcycle, oc.relname, oa.attname
FROM pg_sequence s
JOIN pg_class c ON c.oid = s.seqrelid
JOIN pg_namespace n ON n.oid = c.relnamespace
LEFT JOIN pg_depend d ON d.classid = 'pg_class'::regclass AND d.objid = c.oid
     AND d.refclassid = 'pg_class'::regclass AND d.refobjsubid > 0 AND d.deptype IN ('a', 'i')
LEFT JOIN pg_class oc ON oc.oid = d.refobjid
LEFT JOIN pg_attribute oa ON oa.attrelid = d.refobjid AND oa.attnum = d.refobjsubid
WHERE n.nspname = current_schema()
""" + _NOT_EXTENSION.format(cat="pg_class", alias="c") + """
ORDER BY c.relname
"""

_ENUMS = """
SELECT t.typname, e.enumlabel
FROM pg_type t
JOIN pg_namespace n ON n.oid = t.typnamespace
JOIN pg_enum e ON e.enumtypid = t.oid
WHERE n.nspname = current_schema()
""" + _NOT_EXTENSION.format(cat="pg_type", alias="t") + """
ORDER BY t.typname, e.enumsortorder
"""

_ROUTINES = """
SELECT p.proname || '(' || pg_get_function_identity_arguments(p.oid) || ')',
       CASE p.prokind WHEN 'p' THEN 'procedure' ELSE 'function' END,
       pg_get_functiondef(p.oid)
FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace
WHERE n.nspname = current_schema() AND p.prokind IN ('f', 'p')
""" + _NOT_EXTENSION.format(cat="pg_proc", alias="p") + """
ORDER BY 1
"""

_ACTIONS = {"a": "no action", "r": "restrict", "c": "cascade", "n": "set null",
            "d": "set default"}
_IDENTITY = {"a": "always", "d": "by default"}
_TIMING = {2: "before", 64: "instead of"}
_EVENTS = ((4, "insert"), (8, "delete"), (16, "update"), (32, "truncate"))


def snapshot(conn: Any, exclude_prefix: str = "mig_") -> Snapshot:
    """The normalised snapshot of the current schema on the psycopg connection ``conn``
    (read only: catalogue queries, no transaction of its own)."""
    prefix = exclude_prefix.lower()

    def excluded(table: str | None) -> bool:
        return bool(prefix) and table is not None and table.lower().startswith(prefix)

    def rows(sql: str) -> list[tuple[Any, ...]]:
        return list(conn.execute(sql).fetchall())

    tables = _tables(rows(_TABLES), excluded)
    _constraints(rows(_CONSTRAINTS), tables)
    indexes = {
        name: _index(table, unique, where, method, keys, include)
        for name, table, unique, where, method, keys, include in rows(_INDEXES)
        if not excluded(table)
    }
    views = {}
    for name, materialized, definition in rows(_VIEWS):
        view: dict[str, Any] = {"definition": normalise_sql(definition or "")}
        if materialized:
            view["materialized"] = True
        views[name] = view
    triggers = {
        f"{table}.{name}": _trigger(table, tgtype, definition, columns)
        for name, table, tgtype, definition, columns in rows(_TRIGGERS)
        if not excluded(table)
    }
    sequences = {}
    for name, type_, start, step, low, high, cache, cycle, owner, column in rows(_SEQUENCES):
        if excluded(owner):
            continue
        sequences[name] = {
            "type": type_, "start": start, "increment": step, "min": low, "max": high,
            "cache": cache, "cycle": cycle,
            "owned_by": f"{owner}.{column}" if owner is not None else None,
        }
    enums: dict[str, Any] = {}
    for name, label in rows(_ENUMS):
        enums.setdefault(name, {"labels": []})["labels"].append(label)
    routines = {
        key: {"kind": kind, "definition": normalise_sql(definition or "")}
        for key, kind, definition in rows(_ROUTINES)
    }
    return {
        "tables": tables, "indexes": indexes, "views": views, "triggers": triggers,
        "sequences": sequences, "enums": enums, "routines": routines,
    }


def _tables(rows: list[tuple[Any, ...]], excluded: Any) -> dict[str, dict[str, Any]]:
    tables: dict[str, dict[str, Any]] = {}
    for table, name, type_, nullable, default, identity, generated, collation in rows:
        if excluded(table):
            continue
        description = tables.setdefault(
            table,
            {"columns": [], "primary_key": [], "foreign_keys": [], "unique": [], "checks": []},
        )
        if name is None:  # a table without columns
            continue
        column: dict[str, Any] = {
            "name": name,
            "type": normalise_sql(type_).lower(),
            "nullable": bool(nullable),
            "default": None if generated else _expression(default),
        }
        if identity in _IDENTITY:
            column["identity"] = _IDENTITY[identity]
        if generated:
            column["generated"] = _expression(default)
        if collation is not None:
            column["collation"] = collation
        description["columns"].append(column)
    return tables


def _constraints(rows: list[tuple[Any, ...]], tables: dict[str, dict[str, Any]]) -> None:
    for table, kind, columns, parent, ref_columns, on_delete, on_update, text in rows:
        description = tables.get(table)
        if description is None:
            continue
        if kind == "p":
            description["primary_key"] = list(columns)
        elif kind == "u":
            description["unique"].append(list(columns))
        elif kind == "c":
            description["checks"].append(_expression(text))
        elif kind == "x":
            description.setdefault("exclusions", []).append(normalise_sql(text))
        elif kind == "f":
            description["foreign_keys"].append({
                "columns": list(columns),
                "references": parent,
                "referenced_columns": list(ref_columns),
                "on_delete": _ACTIONS.get(on_delete, on_delete),
                "on_update": _ACTIONS.get(on_update, on_update),
            })
    for description in tables.values():
        for key in ("unique", "checks", "exclusions"):
            if key in description:
                description[key].sort()
        description["foreign_keys"].sort(
            key=lambda fk: (fk["columns"], fk["references"], fk["referenced_columns"],
                            fk["on_delete"], fk["on_update"])
        )


def _index(
    table: str, unique: bool, where: str | None, method: str, keys: list[str],
    include: list[str],
) -> dict[str, Any]:
    index: dict[str, Any] = {
        "table": table,
        "columns": [normalise_sql(key) for key in keys],
        "unique": bool(unique),
        "where": _expression(where),
        "method": method,
    }
    if include:
        index["include"] = [normalise_sql(column) for column in include]
    return index


def _trigger(table: str, tgtype: int, definition: str, columns: list[str]) -> dict[str, Any]:
    timing = next((name for bit, name in _TIMING.items() if tgtype & bit), "after")
    events = " or ".join(
        f"{name} of {', '.join(columns)}" if name == "update" and columns else name
        for bit, name in _EVENTS
        if tgtype & bit
    )
    return {
        "table": table,
        "timing": timing,
        "event": events,
        "definition": normalise_sql(definition or ""),
    }


def _expression(text: str | None) -> str | None:
    """Deparsed SQL, normalised, without the outer parentheses the server puts around it."""
    return None if text is None else strip_parens(normalise_sql(text))
