"""``mig test --data``: rows in every table, and whether DOWN keeps them.

A small generator of our own (no dependency): per table, a few rows whose values follow the
column types of the snapshot, distinct where a column is unique, taken from the referenced
rows for foreign keys (tables are filled parents first), from the list of a ``CHECK (c IN
(...))`` or an enum's labels, and left to the default where the column has one. A row the
database refuses is tried again with other values, then with NULLs; a table that cannot be
filled is a note, not a finding. The values depend only on the seed, the table and the row.

Rows are matched before UP and after DOWN by table name and by the primary key, where its
columns survive (else as a multiset), on the columns that exist before UP, after UP and after
DOWN: a column UP adds or drops does not count, the other columns' values must survive. A
table UP renames keeps its rows through a DOWN that renames it back. A table UP drops loses
its rows by design, and is not reported.
"""

from __future__ import annotations

import random
import re
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from mig.schema import Snapshot

from .sqltext import quote

#: Rows put in each table.
ROWS = 5
_TRIES = 4
_OMIT = object()
_IN_LIST = r"(?:\b|[\"`]){column}(?:\b|[\"`])\s+IN\s*\(([^()]*)\)"
_LITERAL = re.compile(r"'((?:[^']|'')*)'|(-?\d+(?:\.\d+)?)")
_LENGTH = re.compile(r"\((\d+)")

#: Rows of one table: its column names and its rows (tuples in that column order).
TableRows = tuple[list[str], list[tuple[Any, ...]]]


class DataCheck:
    """Seeds tables and compares their rows around a DOWN (see the module docstring)."""

    def __init__(self, seed: int = 0) -> None:
        self.seed_value = seed
        self._noted: set[str] = set()

    # -- seeding ------------------------------------------------------------------------------

    def seed(self, dialect: Any, schema: Snapshot) -> list[str]:
        """Fill every empty table of ``schema``; returns a note per table it could not fill."""
        tables = schema.get("tables") or {}
        notes = []
        for name in _parents_first(tables):
            if dialect.query(f"SELECT COUNT(*) FROM {quote(dialect, name)}")[0][0]:
                continue
            problem = self._fill(dialect, schema, name)
            if problem and name not in self._noted:
                self._noted.add(name)
                notes.append(f"--data: table {name} could not be filled: {problem}")
        return notes

    def _fill(self, dialect: Any, schema: Snapshot, table: str) -> str | None:
        desc = schema["tables"][table]
        columns = [c for c in desc.get("columns") or []
                   if not c.get("generated") and c.get("identity") != "always"]
        checks = desc.get("checks") or []
        enums = schema.get("enums") or {}
        parents = {i: _column_values(dialect, fk) for i, fk in
                   enumerate(desc.get("foreign_keys") or [])}
        mark = "?" if dialect.paramstyle == "qmark" else "%s"
        for row in range(ROWS):
            problem = None
            for attempt in range(_TRIES):
                rng = random.Random(f"{self.seed_value}:{table}:{row}:{attempt}")
                values: dict[str, Any] = {}
                for column in columns:
                    value = _value(column, row, attempt, rng, checks, enums)
                    if value is not _OMIT:
                        values[column["name"]] = value
                for index, fk in enumerate(desc.get("foreign_keys") or []):
                    referenced = parents[index]
                    names = fk.get("columns") or []
                    if referenced:
                        chosen = referenced[(row + attempt) % len(referenced)]
                        values.update(zip(names, chosen, strict=False))
                    else:
                        values.update((name, None) for name in names)
                names = list(values)
                sql = (f"INSERT INTO {quote(dialect, table)}"
                       f" ({', '.join(quote(dialect, n) for n in names)})"
                       f" VALUES ({', '.join([mark] * len(names))})")
                if not names:
                    sql = f"INSERT INTO {quote(dialect, table)} DEFAULT VALUES"
                try:
                    dialect.execute(sql, [values[n] for n in names])
                    problem = None
                    break
                except Exception as exc:  # the driver's error: try other values
                    if dialect.in_transaction:
                        dialect.rollback()
                    problem = " ".join(str(exc).split())[:200] or type(exc).__name__
            if problem is not None:
                return problem
        return None

    # -- comparing ----------------------------------------------------------------------------

    def rows(self, dialect: Any, schema: Snapshot) -> dict[str, TableRows]:
        """Every row of every table of ``schema``."""
        out: dict[str, TableRows] = {}
        for table, desc in (schema.get("tables") or {}).items():
            names = [c["name"] for c in desc.get("columns") or []]
            if not names:
                continue
            found = dialect.query(
                f"SELECT {', '.join(quote(dialect, n) for n in names)}"
                f" FROM {quote(dialect, table)}"
            )
            out[table] = (names, [tuple(r) for r in found])
        return out

    def losses(self, before: Snapshot, applied: Snapshot, after: Snapshot,
               rows_before: Mapping[str, TableRows], rows_applied: Mapping[str, TableRows],
               rows_after: Mapping[str, TableRows]) -> list[str]:
        """What DOWN did not keep, one line per table (and per changed column)."""
        tables_before = before.get("tables") or {}
        tables_applied = applied.get("tables") or {}
        tables_after = after.get("tables") or {}
        lines: list[str] = []
        for table, (names, rows) in sorted(rows_before.items()):
            if not rows or table not in rows_after or table not in tables_after:
                continue
            middle = table if table in tables_applied else _renamed(
                table, tables_before, tables_applied)
            if middle is None:
                continue  # UP drops the table: its rows go with it
            kept = [n for n in names
                    if n in _names(tables_applied[middle]) and n in _names(tables_after[table])]
            key = [k for k in tables_before[table].get("primary_key") or []]
            if not kept:
                continue
            if key and all(k in kept for k in key):
                lines.extend(_keyed(table, names, rows, rows_applied.get(middle),
                                    rows_after[table], kept, key))
            else:
                lines.extend(_unkeyed(table, names, rows, rows_after[table], kept))
        return lines


def _names(desc: Mapping[str, Any]) -> list[str]:
    return [c["name"] for c in desc.get("columns") or []]


def _renamed(table: str, before: Mapping[str, Any], applied: Mapping[str, Any]) -> str | None:
    """The table of ``applied`` that ``table`` became, when UP renamed it: a new table with
    the same columns."""
    if table in applied:
        return table
    columns = _names(before[table])
    found = [name for name, desc in applied.items()
             if name not in before and _names(desc) == columns]
    return found[0] if len(found) == 1 else None


def _project(names: Sequence[str], rows: Iterable[tuple[Any, ...]],
             columns: Sequence[str]) -> list[tuple[Any, ...]]:
    index = [names.index(c) for c in columns]
    return [tuple(row[i] for i in index) for row in rows]


def _keyed(table: str, names: list[str], rows: list[tuple[Any, ...]],
           applied: TableRows | None, after: TableRows, kept: list[str],
           key: list[str]) -> list[str]:
    width = len(key)
    old = {r[:width]: r[width:] for r in _project(names, rows, [*key, *kept])}
    new = {r[:width]: r[width:] for r in _project(after[0], after[1], [*key, *kept])}
    lost = [k for k in old if k not in new]
    lines = []
    if lost:
        mid = set() if applied is None else {
            r for r in _project(applied[0], applied[1], key)}
        by_up = sum(1 for k in lost if applied is not None and k not in mid)
        if by_up == len(lost):
            lines.append(f"UP deletes {len(lost)} of {len(old)} row(s) of {table}"
                         " and DOWN does not bring them back")
        else:
            lines.append(f"DOWN loses {len(lost)} of {len(old)} row(s) of {table}")
    changed: Counter[str] = Counter()
    for k, values in old.items():
        if k in new and new[k] != values:
            for column, a, b in zip(kept, values, new[k], strict=True):
                if a != b:
                    changed[column] += 1
    for column in kept:
        if changed[column]:
            lines.append(f"DOWN loses the values of {table}.{column} in {changed[column]}"
                         f" of {len(old)} row(s)")
    return lines


def _unkeyed(table: str, names: list[str], rows: list[tuple[Any, ...]], after: TableRows,
             kept: list[str]) -> list[str]:
    old = Counter(_project(names, rows, kept))
    new = Counter(_project(after[0], after[1], kept))
    lost = sum((old - new).values())
    if not lost:
        return []
    return [f"DOWN loses {lost} of {sum(old.values())} row(s) of {table}"]


def _parents_first(tables: Mapping[str, Any]) -> list[str]:
    """Table names with every referenced table before the tables that reference it (cycles
    broken by name order)."""
    done: list[str] = []
    seen: set[str] = set()

    def visit(name: str, path: set[str]) -> None:
        if name in seen or name not in tables or name in path:
            return
        for fk in tables[name].get("foreign_keys") or []:
            visit(fk.get("references", ""), path | {name})
        seen.add(name)
        done.append(name)

    for name in sorted(tables):
        visit(name, set())
    return done


def _column_values(dialect: Any, fk: Mapping[str, Any]) -> list[tuple[Any, ...]]:
    """The referenced columns' values of every row of the referenced table."""
    columns = fk.get("referenced_columns") or []
    if not columns:
        return []
    try:
        rows = dialect.query(
            f"SELECT {', '.join(quote(dialect, c) for c in columns)}"
            f" FROM {quote(dialect, fk['references'])} ORDER BY 1"
        )
    except Exception:  # the referenced table is not there (yet): NULLs, or no rows
        if dialect.in_transaction:
            dialect.rollback()
        return []
    return [tuple(r) for r in rows]


def _value(column: Mapping[str, Any], row: int, attempt: int, rng: random.Random,
           checks: Sequence[str], enums: Mapping[str, Any]) -> Any:
    """A value for ``column`` in row ``row`` (``_OMIT`` to leave it to its default)."""
    if column.get("default") is not None and attempt < 2:
        return _OMIT
    if column.get("nullable") and attempt >= 2:
        return None
    name = column["name"]
    for check in checks:
        match = re.search(_IN_LIST.format(column=re.escape(name)), check, re.IGNORECASE)
        if match:
            choices = _literals(match.group(1))
            if choices:
                return choices[(row + attempt) % len(choices)]
    kind = str(column.get("type") or "").lower()
    labels = enums.get(kind, {}).get("labels") if kind in enums else None
    if kind.startswith("enum(") or kind.startswith("set("):
        labels = _literals(kind[kind.index("(") + 1:])
    if labels:
        return labels[(row + attempt) % len(labels)]
    n = row + 1 + attempt * ROWS
    if kind.endswith("[]"):
        return "{}"
    if "bool" in kind or kind == "tinyint(1)" or kind == "bit":
        return (row + attempt) % 2 == 0
    if "int" in kind or "serial" in kind:
        return n
    if any(word in kind for word in ("real", "floa", "doub", "num", "dec", "money")):
        return n + 0.25
    if "timestamp" in kind or "datetime" in kind:
        return f"2024-01-{n % 28 + 1:02d} 12:{rng.randrange(60):02d}:00"
    if "date" in kind:
        return f"2024-01-{n % 28 + 1:02d}"
    if "time" in kind:
        return f"12:{n % 60:02d}:00"
    if "uuid" in kind:
        return f"00000000-0000-4000-8000-{rng.getrandbits(48):012x}"
    if "json" in kind:
        return f'{{"n": {n}}}'
    if any(word in kind for word in ("blob", "bytea", "binary")):
        return f"b{n}".encode()
    if "inet" in kind:
        return f"10.0.0.{n}"
    text = f"u{n}_{rng.randrange(10_000)}@example.com" if "mail" in name.lower() else (
        f"{name[:6]}_{n}_{rng.randrange(10_000)}")
    length = _LENGTH.search(kind)
    return text[: int(length.group(1))] if length and "char" in kind else text


def _literals(text: str) -> list[Any]:
    out: list[Any] = []
    for match in _LITERAL.finditer(text):
        if match.group(1) is not None:
            out.append(match.group(1).replace("''", "'"))
        else:
            number = match.group(2)
            out.append(float(number) if "." in number else int(number))
    return out
