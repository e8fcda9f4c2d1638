"""The normalised snapshot of a SQLite database's user schema (see :mod:`mig.schema`).

Five queries, whatever the number of tables: ``sqlite_master`` once, then ``sqlite_master``
joined with the table-valued pragma functions for the columns (``pragma_table_xinfo``), the
foreign keys (``pragma_foreign_key_list``) and the unique constraints (``pragma_index_list``
with ``pragma_index_info``).

What SQLite keeps only as text is read from the stored ``CREATE`` statements with a small
scanner that knows SQLite's quotes (``'...'``, ``"..."``, ```...```, ``[...]``), comments and
parentheses:

- CHECK constraints: every ``CHECK ( ... )`` of a ``CREATE TABLE``, column or table
  constraint, is taken out as its normalised expression. This was chosen over storing the
  whole ``CREATE TABLE`` text because that text is not a description of the table but of its
  history: ``ALTER TABLE ... ADD COLUMN`` appends to it verbatim and ``RENAME`` rewrites it,
  so equal tables could differ; and :func:`mig.schema.changes` can then say which check was
  added or dropped.
- indexes made by ``CREATE INDEX``: their columns or expressions as written and the partial
  ``WHERE``; uniqueness from the statement. Indexes SQLite makes for a PRIMARY KEY or UNIQUE
  constraint (``sqlite_autoindex_*``) are not listed: the table lists those constraints.
- triggers: timing and event from the statement head.

A table's description depends on its ``CREATE TABLE`` text alone (SQLite rewrites that text
on every ``ALTER``), so descriptions are kept per process by name and text: a snapshot queries
the pragmas only for the tables it has not seen in that form (``mig test`` takes two
snapshots per migration; with hundreds of tables the pragmas dominated them).

Column types are the declared types as written (SQLite has no other), whitespace collapsed.
Not recorded: collations, ``AUTOINCREMENT``, ``WITHOUT ROWID``/``STRICT``, and the expressions
of generated columns (their kind is: ``"generated": "virtual"`` or ``"stored"``).
"""

from __future__ import annotations

import copy
import sqlite3
from collections.abc import Iterator
from typing import Any

from mig.schema import Snapshot, normalise_sql, quoted_end

_GENERATED = {2: "virtual", 3: "stored"}
#: (table name, CREATE TABLE text) -> the table's description; cleared when it grows past
#: :data:`_KEEP` entries.
_DESCRIBED: dict[tuple[str, str], dict[str, Any]] = {}
_KEEP = 20_000
#: (table, CREATE INDEX text) -> the index's description, likewise.
_PARSED: dict[tuple[str, str], dict[str, Any]] = {}


def snapshot(conn: sqlite3.Connection, exclude_prefix: str = "mig_") -> Snapshot:
    """The normalised snapshot of the user schema on ``conn`` (read only)."""
    prefix = exclude_prefix.lower()

    def excluded(table: str) -> bool:
        return bool(prefix) and table.lower().startswith(prefix)

    master = conn.execute(
        "SELECT type, name, tbl_name, sql FROM sqlite_master"
        " WHERE name NOT LIKE 'sqlite\\_%' ESCAPE '\\' ORDER BY name"
    ).fetchall()
    tables: dict[str, dict[str, Any]] = {}
    indexes: dict[str, Any] = {}
    views: dict[str, Any] = {}
    triggers: dict[str, Any] = {}
    create_table: dict[str, str] = {}
    fresh: dict[str, dict[str, Any]] = {}
    for kind, name, table, sql in master:
        if excluded(table):
            continue
        if kind == "table":
            create_table[name] = sql or ""
            known = _DESCRIBED.get((name, sql or ""))
            if known is not None:  # shared, but for the keys _implied_references sets
                tables[name] = {**known, "foreign_keys": [
                    {**fk, "referenced_columns": list(fk["referenced_columns"])}
                    for fk in known["foreign_keys"]
                ]}
                continue
            tables[name] = fresh[name] = {
                "columns": [],
                "primary_key": [],
                "foreign_keys": [],
                "unique": [],
                "checks": sorted(set(check_constraints(sql or ""))),
            }
        elif kind == "index" and sql:
            parsed = _PARSED.get((table, sql))
            if parsed is None:
                if len(_PARSED) > _KEEP:
                    _PARSED.clear()
                parsed = _PARSED[(table, sql)] = _index(table, sql)
            indexes[name] = dict(parsed)
        elif kind == "view":
            views[name] = {"definition": normalise_sql(sql or "")}
        elif kind == "trigger":
            triggers[name] = _trigger(table, sql or "")
    if fresh:
        _columns(conn, fresh)
        _foreign_keys(conn, fresh)
        _unique(conn, fresh)
        if len(_DESCRIBED) + len(fresh) > _KEEP:
            _DESCRIBED.clear()
        for name, description in fresh.items():
            _DESCRIBED[(name, create_table[name])] = copy.deepcopy(description)
    _implied_references(tables)
    return {"tables": tables, "indexes": indexes, "views": views, "triggers": triggers}


def _implied_references(tables: dict[str, dict[str, Any]]) -> None:
    """``REFERENCES parent`` without columns means the parent's primary key (kept as None
    in the per-table descriptions, since the parent may change on its own)."""
    for description in tables.values():
        for fk in description["foreign_keys"]:
            if None in fk["referenced_columns"]:
                parent = tables.get(fk["references"]) or {}
                fk["referenced_columns"] = list(parent.get("primary_key") or [])
        description["foreign_keys"].sort(key=_fk_order)


_USER_TABLES = (
    " FROM sqlite_master AS m, {} WHERE m.type = 'table'"
    " AND m.name NOT LIKE 'sqlite\\_%' ESCAPE '\\'"
)


def _only(tables: dict[str, dict[str, Any]]) -> tuple[str, list[str]]:
    """The condition (and its parameters) that limits a pragma query to ``tables``."""
    names = list(tables)
    if len(names) > 500:  # past SQLite's parameter limits: filter in Python instead
        return "", []
    return f" AND m.name IN ({', '.join('?' * len(names))})", names


def _columns(conn: sqlite3.Connection, tables: dict[str, dict[str, Any]]) -> None:
    rows = conn.execute(
        'SELECT m.name, c.name, c.type, c."notnull", c.dflt_value, c.pk, c.hidden'
        + _USER_TABLES.format("pragma_table_xinfo(m.name) AS c") + _only(tables)[0]
        + " ORDER BY m.name, c.cid", _only(tables)[1]
    ).fetchall()
    keys: dict[str, list[tuple[int, str]]] = {}
    for table, name, type_, notnull, default, pk, hidden in rows:
        if table not in tables or hidden == 1:
            continue
        column: dict[str, Any] = {
            "name": name,
            "type": normalise_sql(type_ or ""),
            "nullable": not notnull,
            "default": _default(default),
        }
        if hidden in _GENERATED:
            column["generated"] = _GENERATED[hidden]
        tables[table]["columns"].append(column)
        if pk:
            keys.setdefault(table, []).append((pk, name))
    for table, key in keys.items():
        tables[table]["primary_key"] = [name for _, name in sorted(key)]


def _default(value: str | None) -> str | None:
    if value is None:
        return None
    text = normalise_sql(value)
    return None if text.upper() == "NULL" else text


def _foreign_keys(conn: sqlite3.Connection, tables: dict[str, dict[str, Any]]) -> None:
    rows = conn.execute(
        'SELECT m.name, f.id, f."table", f."from", f."to", f.on_update, f.on_delete'
        + _USER_TABLES.format("pragma_foreign_key_list(m.name) AS f") + _only(tables)[0]
        + " ORDER BY m.name, f.id, f.seq", _only(tables)[1]
    ).fetchall()
    found: dict[tuple[str, int], dict[str, Any]] = {}
    for table, fk_id, parent, child_col, parent_col, on_update, on_delete in rows:
        if table not in tables:
            continue
        fk = found.setdefault(
            (table, fk_id),
            {
                "columns": [],
                "references": parent,
                "referenced_columns": [],
                "on_delete": _action(on_delete),
                "on_update": _action(on_update),
            },
        )
        fk["columns"].append(child_col)
        fk["referenced_columns"].append(parent_col)
    for (table, _), fk in found.items():
        tables[table]["foreign_keys"].append(fk)


def _fk_order(fk: dict[str, Any]) -> tuple[Any, ...]:
    return (fk["columns"], fk["references"], fk["referenced_columns"], fk["on_delete"],
            fk["on_update"])


def _action(rule: str | None) -> str:
    return " ".join((rule or "NO ACTION").lower().split())


def _unique(conn: sqlite3.Connection, tables: dict[str, dict[str, Any]]) -> None:
    rows = conn.execute(
        "SELECT m.name, il.name, ii.name"
        + _USER_TABLES.format("pragma_index_list(m.name) AS il, pragma_index_info(il.name) AS ii")
        + _only(tables)[0] + " AND il.origin = 'u' ORDER BY m.name, il.name, ii.seqno",
        _only(tables)[1],
    ).fetchall()
    found: dict[tuple[str, str], list[str]] = {}
    for table, index, column in rows:
        if table in tables:
            found.setdefault((table, index), []).append(column)
    for (table, _), columns in found.items():
        tables[table]["unique"].append(columns)
    for description in tables.values():
        description["unique"].sort()


# -- reading the stored CREATE statements --------------------------------------------------


def _tokens(sql: str) -> Iterator[tuple[int, int]]:
    """(start, end) of each token of ``sql``: a quoted string or name, a word, or one other
    character. Whitespace and comments are skipped."""
    i, n = 0, len(sql)
    while i < n:
        ch = sql[i]
        if ch.isspace():
            i += 1
        elif sql.startswith("--", i):
            end = sql.find("\n", i)
            i = n if end < 0 else end + 1
        elif sql.startswith("/*", i):
            end = sql.find("*/", i + 2)
            i = n if end < 0 else end + 2
        elif ch in "'\"`[":
            end = quoted_end(sql, i)
            yield i, end
            i = end
        elif ch.isalnum() or ch in "_$":
            end = i + 1
            while end < n and (sql[end].isalnum() or sql[end] in "_$"):
                end += 1
            yield i, end
            i = end
        else:
            yield i, i + 1
            i += 1


def _closing(sql: str, tokens: list[tuple[int, int]], open_at: int) -> int:
    """The index in ``tokens`` of the ``)`` matching the ``(`` at ``tokens[open_at]``."""
    depth = 0
    for k in range(open_at, len(tokens)):
        text = sql[slice(*tokens[k])]
        if text == "(":
            depth += 1
        elif text == ")":
            depth -= 1
            if depth == 0:
                return k
    return len(tokens) - 1


def check_constraints(sql: str) -> list[str]:
    """The normalised expression of each ``CHECK ( ... )`` in a ``CREATE TABLE`` text."""
    if "CHECK" not in sql.upper():
        return []
    tokens = list(_tokens(sql))
    found = []
    for k, (start, end) in enumerate(tokens[:-1]):
        if sql[start:end].upper() == "CHECK" and sql[slice(*tokens[k + 1])] == "(":
            close = _closing(sql, tokens, k + 1)
            found.append(normalise_sql(sql[tokens[k + 1][1] : tokens[close][0]]))
    return found


def _words(sql: str, tokens: list[tuple[int, int]]) -> list[str]:
    return [sql[s:e].upper() for s, e in tokens]


def _index(table: str, sql: str) -> dict[str, Any]:
    tokens = list(_tokens(sql))
    words = _words(sql, tokens)
    open_at = words.index("(") if "(" in words else len(words)
    columns: list[str] = []
    where: str | None = None
    if open_at < len(words):
        close = _closing(sql, tokens, open_at)
        depth, start = 0, tokens[open_at][1]
        for k in range(open_at + 1, close + 1):
            word = words[k]
            if word == "(":
                depth += 1
            elif word == ")" and depth:
                depth -= 1
            elif (word == "," and depth == 0) or k == close:
                columns.append(normalise_sql(sql[start : tokens[k][0]]))
                start = tokens[k][1]
        if close + 1 < len(words) and words[close + 1] == "WHERE":
            where = normalise_sql(sql[tokens[close + 1][1] :])
    return {
        "table": table,
        "columns": columns,
        "unique": "UNIQUE" in words[:open_at],
        "where": where,
    }


def _trigger(table: str, sql: str) -> dict[str, Any]:
    tokens = list(_tokens(sql))
    words = _words(sql, tokens)
    k = words.index("TRIGGER") + 1 if "TRIGGER" in words else len(words)
    if words[k : k + 3] == ["IF", "NOT", "EXISTS"]:
        k += 3
    k += 3 if words[k + 1 : k + 2] == ["."] else 1  # the name, maybe schema-qualified
    timing = "before"  # SQLite's default
    event = ""
    while k < len(words) and words[k] != "ON":
        word = words[k]
        if word in ("BEFORE", "AFTER"):
            timing = word.lower()
        elif word == "INSTEAD":
            timing = "instead of"
            k += 1
        elif word in ("INSERT", "DELETE"):
            event = word.lower()
        elif word == "UPDATE":
            event = "update"
            if words[k + 1 : k + 2] == ["OF"]:
                end = words.index("ON", k) if "ON" in words[k:] else len(words) - 1
                columns = normalise_sql(sql[tokens[k + 1][1] : tokens[end][0]])
                event = f"update of {columns}"
                k = end
                continue
        k += 1
    return {"table": table, "timing": timing, "event": event, "definition": normalise_sql(sql)}
