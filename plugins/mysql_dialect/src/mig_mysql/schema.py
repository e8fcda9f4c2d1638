"""The normalised snapshot of a MySQL / MariaDB database (see :mod:`mig.schema`).

The connected database only (``DATABASE()``), read from ``information_schema`` with one query
per kind of object (eight in all), whatever the number of tables.

Choices beyond :mod:`mig.schema`'s common format:

- column ``type`` is ``COLUMN_TYPE`` in lower case (``varchar(255)``, ``int(11)`` on MariaDB,
  ``int`` on MySQL 8); a column may add ``extra`` (``auto_increment``, ``on update
  current_timestamp()``, ``stored generated``) and ``generated`` (the expression).
  Defaults are as the server reports them: MariaDB quotes text literals (``'x'``) and says
  ``NULL`` for no default, which becomes None; MySQL 8 reports literals unquoted, so they are
  quoted here unless they are expressions (``DEFAULT_GENERATED``).
- MySQL has no unique constraint apart from a unique index: a table's ``unique`` is always
  ``[]`` and unique keys are listed under ``indexes``, as are the indexes InnoDB adds for
  foreign keys. Only ``PRIMARY`` is left out (it is the table's ``primary_key``). Index names
  are unique per table only, so indexes are keyed ``"<table>.<index>"``; they add
  ``method`` (``btree``, ``fulltext``, ``spatial``, ``hash``). A column prefix shows as
  ``name(10)``, a descending column as ``name desc``.
- foreign key actions: ``restrict`` is reported as ``no action``, which InnoDB treats the
  same way (MariaDB reports RESTRICT for both).
- ``checks`` are ``CHECK_CLAUSE`` texts (MariaDB 10.2+, MySQL 8.0.16+; MariaDB's implicit
  ``json_valid`` check of a JSON column is one of them).
- views: the server's canonical ``VIEW_DEFINITION`` with the database's name taken out of
  the qualified names, so that two databases of different names compare equal; the
  ``DEFINER`` is not recorded.
- triggers add ``order`` (``ACTION_ORDER``, the firing order among triggers of the same
  timing and event); the definition is the trigger's statement.
- ``routines``: stored functions and procedures keyed by name (``"name (procedure)"`` if a
  function has the same name), with kind, parameters, return type and body.
- not recorded: storage engines, character sets and collations, table options, partitions,
  MariaDB sequences, events.
"""

from __future__ import annotations

from typing import Any

from mig.schema import Snapshot, normalise_sql, strip_parens

_TABLES = (
    " information_schema.TABLES t WHERE t.TABLE_SCHEMA = DATABASE()"
    " AND t.TABLE_TYPE IN ('BASE TABLE', 'SYSTEM VERSIONED')"
)

_COLUMNS = """
SELECT c.TABLE_NAME, c.COLUMN_NAME, c.COLUMN_TYPE, c.IS_NULLABLE, c.COLUMN_DEFAULT, c.EXTRA,
       c.GENERATION_EXPRESSION
FROM information_schema.COLUMNS c JOIN""" + _TABLES + """
 AND c.TABLE_SCHEMA = t.TABLE_SCHEMA AND c.TABLE_NAME = t.TABLE_NAME
ORDER BY c.TABLE_NAME, c.ORDINAL_POSITION
"""

_FOREIGN_KEYS = """
SELECT k.TABLE_NAME, k.CONSTRAINT_NAME, k.COLUMN_NAME,
       CASE WHEN k.REFERENCED_TABLE_SCHEMA = DATABASE() THEN k.REFERENCED_TABLE_NAME
            ELSE CONCAT(k.REFERENCED_TABLE_SCHEMA, '.', k.REFERENCED_TABLE_NAME) END,
       k.REFERENCED_COLUMN_NAME, r.DELETE_RULE, r.UPDATE_RULE
FROM information_schema.KEY_COLUMN_USAGE k
JOIN information_schema.REFERENTIAL_CONSTRAINTS r
  ON r.CONSTRAINT_SCHEMA = k.CONSTRAINT_SCHEMA AND r.CONSTRAINT_NAME = k.CONSTRAINT_NAME
 AND r.TABLE_NAME = k.TABLE_NAME
WHERE k.TABLE_SCHEMA = DATABASE() AND k.REFERENCED_TABLE_NAME IS NOT NULL
ORDER BY k.TABLE_NAME, k.CONSTRAINT_NAME, k.ORDINAL_POSITION
"""

# MariaDB names check constraints per table (CHECK_CONSTRAINTS has a TABLE_NAME); MySQL 8
# per schema, and says the table only in TABLE_CONSTRAINTS.
_CHECKS_MARIADB = """
SELECT TABLE_NAME, CHECK_CLAUSE FROM information_schema.CHECK_CONSTRAINTS
WHERE CONSTRAINT_SCHEMA = DATABASE()
"""
_CHECKS_MYSQL = """
SELECT tc.TABLE_NAME, cc.CHECK_CLAUSE
FROM information_schema.TABLE_CONSTRAINTS tc
JOIN information_schema.CHECK_CONSTRAINTS cc
  ON cc.CONSTRAINT_SCHEMA = tc.CONSTRAINT_SCHEMA AND cc.CONSTRAINT_NAME = tc.CONSTRAINT_NAME
WHERE tc.CONSTRAINT_SCHEMA = DATABASE() AND tc.CONSTRAINT_TYPE = 'CHECK'
"""

_INDEXES = """
SELECT TABLE_NAME, INDEX_NAME, NON_UNIQUE, COLUMN_NAME, SUB_PART, COLLATION, INDEX_TYPE, {}
FROM information_schema.STATISTICS
WHERE TABLE_SCHEMA = DATABASE()
ORDER BY TABLE_NAME, INDEX_NAME, SEQ_IN_INDEX
"""

_VIEWS = """
SELECT TABLE_NAME, VIEW_DEFINITION FROM information_schema.VIEWS
WHERE TABLE_SCHEMA = DATABASE() ORDER BY TABLE_NAME
"""

_TRIGGERS = """
SELECT TRIGGER_NAME, EVENT_OBJECT_TABLE, ACTION_TIMING, EVENT_MANIPULATION, ACTION_ORDER,
       ACTION_STATEMENT
FROM information_schema.TRIGGERS WHERE TRIGGER_SCHEMA = DATABASE() ORDER BY TRIGGER_NAME
"""

_ROUTINES = """
SELECT r.ROUTINE_NAME, r.ROUTINE_TYPE, r.DTD_IDENTIFIER, r.ROUTINE_DEFINITION,
       p.ORDINAL_POSITION, p.PARAMETER_MODE, p.PARAMETER_NAME, p.DTD_IDENTIFIER
FROM information_schema.ROUTINES r
LEFT JOIN information_schema.PARAMETERS p
  ON p.SPECIFIC_SCHEMA = r.ROUTINE_SCHEMA AND p.SPECIFIC_NAME = r.SPECIFIC_NAME
 AND p.ROUTINE_TYPE = r.ROUTINE_TYPE AND p.ORDINAL_POSITION > 0
WHERE r.ROUTINE_SCHEMA = DATABASE()
ORDER BY r.ROUTINE_NAME, r.ROUTINE_TYPE, p.ORDINAL_POSITION
"""


def snapshot(cursor: Any, exclude_prefix: str = "mig_") -> Snapshot:
    """The normalised snapshot of the connected database through the PyMySQL ``cursor``
    (read only)."""
    prefix = exclude_prefix.lower()

    def excluded(table: str) -> bool:
        return bool(prefix) and table.lower().startswith(prefix)

    def rows(sql: str) -> list[tuple[Any, ...]]:
        cursor.execute(sql)
        return [tuple(_text(v) for v in row) for row in cursor.fetchall()]

    ((version, database),) = rows("SELECT VERSION(), DATABASE()")
    mariadb = "mariadb" in str(version).lower()
    tables: dict[str, dict[str, Any]] = {}
    for table, name, type_, nullable, default, extra, generated in rows(_COLUMNS):
        if excluded(table):
            continue
        description = tables.setdefault(
            table,
            {"columns": [], "primary_key": [], "foreign_keys": [], "unique": [], "checks": []},
        )
        description["columns"].append(
            _column(name, type_, nullable, default, extra, generated, mariadb)
        )
    _foreign_keys(rows(_FOREIGN_KEYS), tables)
    for table, clause in rows(_CHECKS_MARIADB if mariadb else _CHECKS_MYSQL):
        if table in tables:
            tables[table]["checks"].append(strip_parens(normalise_sql(clause or "")))
    for description in tables.values():
        description["checks"].sort()
    indexes = _indexes(rows(_INDEXES.format("NULL" if mariadb else "EXPRESSION")), tables)
    qualifier = "`" + str(database).replace("`", "``") + "`."
    views = {
        name: {"definition": normalise_sql(definition or "").replace(qualifier, "")}
        for name, definition in rows(_VIEWS)
    }
    triggers = {
        name: {
            "table": table,
            "timing": str(timing).lower(),
            "event": str(event).lower(),
            "order": order,
            "definition": normalise_sql(statement or "", backslash_escapes=True),
        }
        for name, table, timing, event, order, statement in rows(_TRIGGERS)
        if not excluded(table)
    }
    return {
        "tables": tables, "indexes": indexes, "views": views, "triggers": triggers,
        "routines": _routines(rows(_ROUTINES)),
    }


def _text(value: Any) -> Any:
    """information_schema answers some columns as bytes on some servers."""
    return value.decode("utf-8") if isinstance(value, bytes | bytearray) else value


def _column(
    name: str, type_: str, nullable: str, default: str | None, extra: str | None,
    generated: str | None, mariadb: bool,
) -> dict[str, Any]:
    words = [w for w in str(extra or "").lower().split() if w != "default_generated"]
    if default is not None and mariadb and default.upper() == "NULL":
        default = None
    elif default is not None and not mariadb and "DEFAULT_GENERATED" not in str(extra):
        default = "'" + default.replace("'", "''") + "'"
    column: dict[str, Any] = {
        "name": name,
        "type": " ".join(str(type_).lower().split()),
        "nullable": nullable == "YES",
        "default": None if default is None or generated else normalise_sql(default),
    }
    if words:
        column["extra"] = " ".join(words)
    if generated:
        column["generated"] = normalise_sql(generated, backslash_escapes=True)
    return column


def _foreign_keys(rows: list[tuple[Any, ...]], tables: dict[str, dict[str, Any]]) -> None:
    found: dict[tuple[str, str], dict[str, Any]] = {}
    for table, name, column, parent, parent_column, on_delete, on_update in rows:
        if table not in tables:
            continue
        fk = found.setdefault((table, name), {
            "columns": [],
            "references": parent,
            "referenced_columns": [],
            "on_delete": _action(on_delete),
            "on_update": _action(on_update),
        })
        fk["columns"].append(column)
        fk["referenced_columns"].append(parent_column)
    for (table, _), fk in sorted(
        found.items(),
        key=lambda item: (item[1]["columns"], item[1]["references"],
                          item[1]["referenced_columns"]),
    ):
        tables[table]["foreign_keys"].append(fk)


def _action(rule: str | None) -> str:
    # InnoDB treats RESTRICT and NO ACTION alike, and MariaDB reports RESTRICT for both.
    text = str(rule or "NO ACTION").lower()
    return "no action" if text == "restrict" else text


def _indexes(
    rows: list[tuple[Any, ...]], tables: dict[str, dict[str, Any]]
) -> dict[str, Any]:
    indexes: dict[str, Any] = {}
    for table, name, non_unique, column, sub_part, collation, method, expression in rows:
        if table not in tables:
            continue
        if name == "PRIMARY":
            tables[table]["primary_key"].append(column)
            continue
        index = indexes.setdefault(f"{table}.{name}", {
            "table": table,
            "columns": [],
            "unique": not int(non_unique),
            "where": None,
            "method": str(method).lower(),
        })
        term = column if column is not None else strip_parens(normalise_sql(expression or ""))
        if sub_part is not None:
            term += f"({sub_part})"
        if collation == "D":
            term += " desc"
        index["columns"].append(term)
    return indexes


def _routines(rows: list[tuple[Any, ...]]) -> dict[str, Any]:
    routines: dict[str, Any] = {}
    keys: dict[tuple[str, str], str] = {}
    for name, kind, returns, body, position, mode, param, param_type in rows:
        kind = str(kind).lower()
        key = keys.get((name, kind))
        if key is None:
            key = name if name not in routines else f"{name} ({kind})"
            keys[(name, kind)] = key
            routines[key] = {
                "kind": kind,
                "parameters": [],
                "returns": returns if kind == "function" else None,
                "definition": normalise_sql(body or "", backslash_escapes=True),
            }
        if position is not None:
            text = f"{param} {param_type}"
            if kind == "procedure" and mode:
                text = f"{str(mode).lower()} {text}"
            routines[key]["parameters"].append(text)
    return routines
