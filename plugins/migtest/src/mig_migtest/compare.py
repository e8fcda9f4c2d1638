"""What a DOWN got wrong: the schema before UP (``before``), after UP (``applied``) and after
DOWN (``after``) compared, one sentence per difference.

:func:`mig.schema.changes` says *what* differs between two snapshots; a round trip needs to
say *whose fault* it is, which takes the third snapshot: an index present after DOWN but not
before UP was either left by DOWN (UP created it) or created by DOWN itself (UP did not). So
the lines here are phrased from the three (format: :mod:`mig.schema`)."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

from mig.schema import KINDS, Snapshot, canonical, describe_item, show_value

_NOUNS = {"indexes": "index"}
#: Table description keys that hold sets of constraints, and how a line names one.
_CONSTRAINTS = {"foreign_keys": "foreign key", "unique": "unique constraint",
                "checks": "check", "exclusions": "exclusion constraint"}


def down_mismatches(before: Snapshot, applied: Snapshot, after: Snapshot) -> list[str]:
    """Every way ``after`` (the schema after DOWN) differs from ``before`` (before UP), as
    lines such as ``DOWN leaves column users.timezone``; ``[]`` when DOWN undid UP exactly."""
    lines: list[str] = []
    extra = sorted((set(before) | set(after)) - set(KINDS))
    for kind in (*KINDS, *extra):
        old, new = before.get(kind) or {}, after.get(kind) or {}
        mid = applied.get(kind) or {}
        noun = _noun(kind)
        for name in sorted(set(old) | set(new)):
            if name not in old:
                lines.append(f"DOWN leaves {noun} {name}" if name in mid else
                             f"DOWN creates {noun} {name} that did not exist before UP")
            elif name not in new:
                lines.append(f"DOWN drops {noun} {name} that UP did not create" if name in mid
                             else f"DOWN does not restore {noun} {name} that UP dropped")
            elif old[name] != new[name]:
                touched = mid.get(name) != old[name]
                if kind == "tables":
                    lines.extend(_table(name, old[name], mid.get(name), new[name]))
                else:
                    lines.extend(_object(noun, name, old[name], new[name], touched))
    return lines


def _noun(kind: str) -> str:
    return _NOUNS.get(kind, kind[:-1] if kind.endswith("s") else kind)


def _verb(touched: bool) -> str:
    return "restores" if touched else "changes"


def _as(touched: bool) -> str:
    return "as" if touched else "to"


def _tail(touched: bool) -> str:
    return "" if touched else ", which UP did not change"


def _table(name: str, old: Mapping[str, Any], mid: Mapping[str, Any] | None,
           new: Mapping[str, Any]) -> Iterator[str]:
    mid = mid or {}
    yield from _columns(name, old.get("columns") or [], mid.get("columns") or [],
                        new.get("columns") or [])
    for key in sorted((set(old) | set(new)) - {"columns"}):
        a, b, m = old.get(key), new.get(key), mid.get(key)
        if a == b:
            continue
        if key in _CONSTRAINTS and isinstance(a, list | None) and isinstance(b, list | None):
            yield from _constraints(name, _CONSTRAINTS[key], a or [], m or [], b or [])
        else:
            label = key.replace("_", " ")
            yield (f"DOWN {_verb(m != a)} table {name} with {label} {show_value(b)}"
                   f" (was {show_value(a)}){_tail(m != a)}")


def _columns(table: str, old: list[Any], mid: list[Any], new: list[Any]) -> Iterator[str]:
    before = {c["name"]: c for c in old}
    applied = {c["name"]: c for c in mid}
    after = {c["name"]: c for c in new}
    for column in old:
        name = column["name"]
        if name not in after:
            yield (f"DOWN drops column {table}.{name} that UP did not create" if name in applied
                   else f"DOWN does not restore column {table}.{name} that UP dropped")
    for column in new:
        name = column["name"]
        if name not in before:
            yield (f"DOWN leaves column {table}.{name}" if name in applied
                   else f"DOWN adds column {table}.{name} that did not exist before UP")
            continue
        a, b = before[name], column
        touched = applied.get(name) != a
        for key in sorted((set(a) | set(b)) - {"name"}):
            if a.get(key) != b.get(key):
                yield _column_line(f"{table}.{name}", key, a.get(key), b.get(key), touched)
    kept_old = [c["name"] for c in old if c["name"] in after]
    kept_new = [c["name"] for c in new if c["name"] in before]
    if kept_old != kept_new:
        yield (f"DOWN restores table {table} with its columns in another order"
               f" ({', '.join(kept_new)}; was {', '.join(kept_old)})")


def _column_line(column: str, key: str, a: Any, b: Any, touched: bool) -> str:
    head, tail = f"DOWN {_verb(touched)} {column} {_as(touched)}", _tail(touched)
    if key == "nullable":
        now, was = ("NULL-able", "NOT NULL") if b else ("NOT NULL", "NULL-able")
        return f"{head} {now} (was {was}){tail}"
    if key == "default":
        if b is None and touched:
            return f"DOWN restores {column} without its default (was {a})"
        return f"{head} {'no default' if b is None else f'default {b}'}" \
               f" (was {'no default' if a is None else a}){tail}"
    if key == "type":
        return f"{head} type {b} (was {a}){tail}"
    return f"{head} {key.replace('_', ' ')} {show_value(b)} (was {show_value(a)}){tail}"


def _constraints(table: str, noun: str, old: list[Any], mid: list[Any],
                 new: list[Any]) -> Iterator[str]:
    before = {canonical(c): c for c in old}
    applied = {canonical(c) for c in mid}
    after = {canonical(c): c for c in new}
    for key in sorted(set(before) - set(after)):
        text = _describe(table, before[key])
        yield (f"DOWN drops {noun} {text} that UP did not create" if key in applied
               else f"DOWN does not restore {noun} {text} that UP dropped")
    for key in sorted(set(after) - set(before)):
        text = _describe(table, after[key])
        yield (f"DOWN leaves {noun} {text}" if key in applied
               else f"DOWN adds {noun} {text} that did not exist before UP")


def _object(noun: str, name: str, old: Mapping[str, Any] | Any, new: Mapping[str, Any] | Any,
            touched: bool) -> Iterator[str]:
    verb, tail = _verb(touched), _tail(touched)
    if not (isinstance(old, Mapping) and isinstance(new, Mapping)):
        yield (f"DOWN {verb} {noun} {name} {_as(touched)} {show_value(new)}"
               f" (was {show_value(old)}){tail}")
        return
    for key in sorted(set(old) | set(new)):
        a, b = old.get(key), new.get(key)
        if a == b:
            continue
        if key == "definition":
            yield f"DOWN {verb} {noun} {name} with another definition{tail}"
        elif key == "unique" and isinstance(a, bool) and isinstance(b, bool):
            yield f"DOWN {verb} {noun} {name} {_as(touched)} {'UNIQUE' if b else 'not unique'}" \
                  f" (was {'UNIQUE' if a else 'not unique'}){tail}"
        else:
            yield (f"DOWN {verb} {noun} {name} with {key.replace('_', ' ')} {show_value(b)}"
                   f" (was {show_value(a)}){tail}")


def _describe(table: str, value: Any) -> str:
    """A constraint as a line names it: ``users(id) -> orgs(id) on delete cascade``,
    ``users(a, b)``, ``on users (x > 0)``."""
    if isinstance(value, list) or (isinstance(value, Mapping) and "references" in value):
        return f"{table}{describe_item(value)}"
    return f"on {table} {describe_item(value)}"
