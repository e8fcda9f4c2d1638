"""Normalised schema snapshots: their format, their fingerprint and their differences.

Every dialect gives a snapshot of the *user* schema of its database through
``Dialect.schema_snapshot(exclude_prefix="mig_")``; this module knows no dialect. The migration
ledger stores a snapshot's :func:`fingerprint` after a run, ``mig check`` compares snapshots to
find objects changed outside mig, and :func:`changes` says what differs in human lines.

The format (public API)
-----------------------
A :data:`Snapshot` is a ``dict`` from an object *kind* to a ``dict`` from an object *name* to
that object's description. Every value is plain JSON (``dict`` with ``str`` keys, ``list``,
``str``, ``int``, ``bool``, ``None``), so ``json.dumps`` takes a snapshot as it is. Every kind a
dialect supports is present, possibly empty; a kind it lacks is absent. The kinds:

``tables``
    ``{"columns": [...], "primary_key": [...], "foreign_keys": [...], "unique": [...],
    "checks": [...]}``.

    - ``columns``: in ordinal order, each ``{"name": str, "type": str, "nullable": bool,
      "default": str | None}``. ``type`` is lower case with whitespace collapsed (SQLite: the
      declared type as written, whitespace collapsed). ``default`` is the default's SQL text,
      normalised (see :func:`normalise_sql`), ``None`` for no default or ``DEFAULT NULL``.
      A dialect may add further keys where they carry information (``identity``,
      ``generated``, ``extra``); such a key is left out where it would be ``None``.
    - ``primary_key``: the key's column names in key order (``[]`` for none).
    - ``foreign_keys``: ``{"columns": [...], "references": table, "referenced_columns":
      [...], "on_delete": str, "on_update": str}``; actions in lower case (``"no action"``,
      ``"cascade"``, ``"set null"``, ``"set default"``, ``"restrict"``).
    - ``unique``: one list of column names per unique constraint.
    - ``checks``: one normalised expression text per CHECK constraint (no ``CHECK`` keyword,
      no outer parentheses).

``indexes``
    ``{"table": str, "columns": [...], "unique": bool, "where": str | None}``: the indexed
    columns or expression texts in index order, and the partial-index condition. Indexes that
    only implement a table's primary key or unique constraint are not listed (they are in
    the table). A dialect may add keys (``method``, ``include``).

``views``
    ``{"definition": str}``: the normalised definition.

``triggers``
    ``{"table": str, "timing": str, "event": str, "definition": str}``: timing (``"before"``,
    ``"after"``, ``"instead of"``) and event (``"insert"``, ``"update"``, ``"delete"``,
    ``"update of a, b"``, or several joined by ``" or "``) in lower case, and the normalised
    definition.

``sequences`` (PostgreSQL)
    the sequence's parameters; ``enums`` (PostgreSQL): ``{"labels": [...]}`` in sort order;
    ``routines`` (optional): the normalised definition and what the dialect knows of its
    signature.

Object names are as the database spells them. Where the database's namespace for a kind is
per table rather than per schema (PostgreSQL triggers, MySQL indexes) the name is
``"<table>.<name>"``, so that the key is unique. Lists under the keys in :data:`SET_KEYS`
(``foreign_keys``, ``unique``, ``checks``, ``exclusions``) are sets, kept sorted; every other
list is ordered and its order means something (columns, key columns, enum labels).

Guarantees: the same DDL applied to two fresh databases of the same server gives equal
snapshots, and so does a database restored from a backup; snapshots hold no OIDs, creation
times, counters or statistics. A snapshot is read-only work: it changes nothing.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Iterator, Mapping
from typing import Any

Snapshot = dict[str, dict[str, Any]]
"""Object kind -> object name -> JSON-serialisable description (see the module docstring)."""

#: The kinds in the order :func:`changes` reports them (others follow, sorted).
KINDS = ("tables", "sequences", "enums", "indexes", "views", "triggers", "routines")
#: Description keys whose lists are sets (sorted, compared item by item).
SET_KEYS = frozenset({"foreign_keys", "unique", "checks", "exclusions"})

# Text with no comment, no whitespace but single spaces, none at either end.
_PLAIN = re.compile(r"(?!\s)(?:(?!--|/\*)[^\s]| (?! ))*(?<!\s)")
_DOLLAR = re.compile(r"\$(?:[A-Za-z_][A-Za-z_0-9]*)?\$")
_SINGULAR = {"indexes": "index", "exclusions": "exclusion", "unique": "unique"}
_LABELS = {"foreign_keys": "foreign key", "primary_key": "primary key"}


def fingerprint(snapshot: Snapshot) -> str:
    """SHA-256 (hex) of the snapshot's canonical JSON: keys sorted, compact separators,
    non-ASCII kept as UTF-8. Equal snapshots have equal fingerprints, whatever their key
    order."""
    text = json.dumps(snapshot, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def changes(before: Snapshot, after: Snapshot) -> list[str]:
    """What differs from ``before`` to ``after``, one line per difference.

    Kinds come in :data:`KINDS` order, objects by name, and each line names the object, e.g.
    ``table t added``, ``index idx_a dropped``, ``table users: column timezone added``,
    ``table users: column email changed (nullable: false -> true)``,
    ``table users: column email default changed ('x' -> NULL)``,
    ``table orders: foreign key (user_id) -> users(id) added``, ``view v changed``.
    Equal snapshots give ``[]``.
    """
    lines: list[str] = []
    extra = sorted((set(before) | set(after)) - set(KINDS))
    for kind in (*KINDS, *extra):
        old, new = before.get(kind) or {}, after.get(kind) or {}
        noun = _singular(kind)
        for name in sorted(set(old) | set(new)):
            if name not in new:
                lines.append(f"{noun} {name} dropped")
            elif name not in old:
                lines.append(f"{noun} {name} added")
            elif old[name] != new[name]:
                lines.extend(_object_changes(noun, name, old[name], new[name]))
    return lines


def _object_changes(noun: str, name: str, old: Any, new: Any) -> list[str]:
    if not (isinstance(old, Mapping) and isinstance(new, Mapping)):
        return [f"{noun} {name} changed ({show_value(old)} -> {show_value(new)})"]
    if noun == "table":
        return [f"table {name}: {line}" for line in _mapping_lines(old, new)]
    lines: list[str] = []
    for key in sorted(set(old) | set(new)):
        a, b = old.get(key), new.get(key)
        if a == b:
            continue
        if key == "definition":
            # Definitions are long: the line says the object changed, not how.
            lines.append(f"{noun} {name} changed")
        elif _set_like(key, a, b) or (isinstance(a, Mapping) and isinstance(b, Mapping)):
            lines.extend(f"{noun} {name}: {line}" for line in _value_lines(key, a, b))
        else:
            lines.append(f"{noun} {name} changed ({key}: {show_value(a, key)} ->"
                         f" {show_value(b, key)})")
    return lines


def _mapping_lines(old: Mapping[str, Any], new: Mapping[str, Any]) -> list[str]:
    """Lines for each key of two descriptions that differs, columns before the rest."""
    keys = sorted(set(old) | set(new), key=lambda k: (k != "columns", k))
    lines: list[str] = []
    for key in keys:
        if old.get(key) != new.get(key):
            lines.extend(_value_lines(key, old.get(key), new.get(key)))
    return lines


def _value_lines(key: str, a: Any, b: Any) -> list[str]:
    label = _LABELS.get(key, key.replace("_", " "))
    if _named_list(a) and _named_list(b):
        return list(_named_changes(_singular(key), a or [], b or []))
    if _set_like(key, a, b):
        noun = _LABELS.get(key, _singular(key).replace("_", " "))
        return list(_set_changes(noun, a or [], b or []))
    if isinstance(a, Mapping) and isinstance(b, Mapping):
        return [f"{label}: {line}" for line in _mapping_lines(a, b)]
    return [f"{label} changed ({show_value(a, key)} -> {show_value(b, key)})"]


def _set_like(key: str, a: Any, b: Any) -> bool:
    """Two values of a key in :data:`SET_KEYS` that are lists (or missing)."""
    return key in SET_KEYS and isinstance(a, list | None) and isinstance(b, list | None)


def _named_list(value: Any) -> bool:
    """A list of descriptions matched by their ``name`` (a table's columns)."""
    return value is None or (
        isinstance(value, list)
        and all(isinstance(item, Mapping) and "name" in item for item in value)
    )


def _named_changes(noun: str, old: list[Any], new: list[Any]) -> Iterator[str]:
    before = {item["name"]: item for item in old}
    after = {item["name"]: item for item in new}
    for item in old:
        if item["name"] not in after:
            yield f"{noun} {item['name']} dropped"
    for item in new:
        name = item["name"]
        if name not in before:
            yield f"{noun} {name} added"
            continue
        a, b = before[name], after[name]
        for key in sorted(set(a) | set(b)):
            if key == "name" or a.get(key) == b.get(key):
                continue
            if key == "default":
                yield f"{noun} {name} default changed ({show_value(a.get(key), key)} ->" \
                    f" {show_value(b.get(key), key)})"
            else:
                yield f"{noun} {name} changed ({key}: {show_value(a.get(key), key)} ->" \
                    f" {show_value(b.get(key), key)})"
    common_old = [item["name"] for item in old if item["name"] in after]
    common_new = [item["name"] for item in new if item["name"] in before]
    if common_old != common_new:
        yield f"{noun} order changed ({', '.join(common_old)} -> {', '.join(common_new)})"


def _set_changes(noun: str, old: list[Any], new: list[Any]) -> Iterator[str]:
    canon_old = {canonical(item): item for item in old}
    canon_new = {canonical(item): item for item in new}
    for key in sorted(set(canon_old) - set(canon_new)):
        yield f"{noun} {describe_item(canon_old[key])} dropped"
    for key in sorted(set(canon_new) - set(canon_old)):
        yield f"{noun} {describe_item(canon_new[key])} added"


def canonical(value: Any) -> str:
    """A snapshot value as one canonical JSON text: equal values, equal texts."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def describe_item(value: Any) -> str:
    """A member of a set-like list as a line shows it: a foreign key as
    ``(a) -> t(b)`` plus its non-default actions, a column list as ``(a, b)``, text in
    parentheses."""
    if isinstance(value, Mapping) and "references" in value:
        text = (
            f"({', '.join(value.get('columns') or [])}) -> {value['references']}"
            f"({', '.join(value.get('referenced_columns') or [])})"
        )
        for action in ("on_delete", "on_update"):
            rule = value.get(action)
            if rule and rule != "no action":
                text += f" {action.replace('_', ' ')} {rule}"
        return text
    if isinstance(value, list):
        return f"({', '.join(str(v) for v in value)})"
    if isinstance(value, str):
        return f"({value})"
    return canonical(value)


def show_value(value: Any, key: str = "") -> str:
    """A snapshot value as a line about a change shows it (``key``: the attribute it is the
    value of; a missing ``default`` reads ``NULL``)."""
    if value is None:
        return "NULL" if key == "default" else "none"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, list):
        return f"({', '.join(show_value(v) for v in value)})"
    if isinstance(value, str | int | float):
        return str(value)
    return canonical(value)


def _singular(kind: str) -> str:
    if kind in _SINGULAR:
        return _SINGULAR[kind]
    return kind[:-1] if kind.endswith("s") else kind


def normalise_sql(text: str, *, backslash_escapes: bool = False) -> str:
    """SQL text as snapshots store it: comments dropped, every run of whitespace outside
    quotes collapsed to one space, no leading or trailing space. Quoted text (``'...'``,
    ``"..."``, ```...```, ``[...]``, PostgreSQL's ``$tag$...$tag$``) is kept exactly;
    ``backslash_escapes`` (MySQL) lets a backslash escape the next character inside
    ``'...'`` and ``"..."``."""
    if _PLAIN.fullmatch(text):
        return text  # the common case (a type, a default): nothing to collapse or drop
    out: list[str] = []
    i, n = 0, len(text)
    space = False
    while i < n:
        ch = text[i]
        if ch.isspace():
            space = True
            i += 1
            continue
        if text.startswith("--", i):
            end = text.find("\n", i)
            i = n if end < 0 else end
            space = True
            continue
        if text.startswith("/*", i):
            end = text.find("*/", i + 2)
            i = n if end < 0 else end + 2
            space = True
            continue
        if space and out:
            out.append(" ")
        space = False
        end = _dollar_end(text, i) or quoted_end(text, i, backslash_escapes=backslash_escapes)
        out.append(text[i:end])
        i = end
    return "".join(out)


def _dollar_end(text: str, start: int) -> int:
    """The index just past a PostgreSQL dollar-quoted string (``$tag$...$tag$``) starting at
    ``start``, or 0 when none starts there."""
    match = _DOLLAR.match(text, start)
    if match is None or (start and (text[start - 1].isalnum() or text[start - 1] in "_$")):
        return 0
    end = text.find(match.group(), match.end())
    return len(text) if end < 0 else end + len(match.group())


def quoted_end(text: str, start: int, *, backslash_escapes: bool = False) -> int:
    """The index just past the quoted string or identifier starting at ``text[start]``
    (``'``, ``"``, ````` or ``[``), or ``start + 1`` when no quote starts there. A doubled
    closing quote is part of the text; an unterminated quote runs to the end."""
    close = {"'": "'", '"': '"', "`": "`", "[": "]"}.get(text[start])
    if close is None:
        return start + 1
    i, n = start + 1, len(text)
    while i < n:
        ch = text[i]
        if backslash_escapes and ch == "\\" and close in "'\"":
            i += 2
            continue
        if ch == close:
            if close != "]" and i + 1 < n and text[i + 1] == close:
                i += 2
                continue
            return i + 1
        i += 1
    return n


def strip_parens(text: str) -> str:
    """``text`` without parentheses that enclose all of it: ``((a > 0))`` is ``a > 0``,
    ``(a) + (b)`` stays as it is. Quotes are respected."""
    while text.startswith("(") and _closing(text) == len(text) - 1:
        text = text[1:-1].strip()
    return text


def _closing(text: str) -> int:
    """The index of the ``)`` that closes the ``(`` at ``text[0]``, or -1."""
    depth, i = 0, 0
    while i < len(text):
        ch = text[i]
        if ch == "(":
            depth += 1
        elif ch == ")":
            depth -= 1
            if depth == 0:
                return i
        i = quoted_end(text, i) if ch in "'\"`" else i + 1
    return -1
