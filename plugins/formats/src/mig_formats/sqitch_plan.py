"""Reading a ``sqitch.plan``: pragmas, then change and tag lines, checked the way Sqitch
checks them (every error names the plan's line).

::

    %syntax-version=1.0.0
    %project=shop

    schema 2024-01-01T10:00:00Z Ann <ann@example.com> # the schema
    items [schema !legacy other:users] 2024-01-02T10:00:00Z Ann <ann@example.com>
    @v1.0 2024-01-03T10:00:00Z Ann <ann@example.com> # first release
    items [items@v1.0] 2024-01-04T10:00:00Z Ann <ann@example.com> # reworked

A change may depend on ``change``, ``change@tag`` (the change as it was at that tag),
``@tag`` (the change the tag marks) or ``project:...`` (another project's change); ``!`` marks
a conflict.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

from mig import MigrationFileError

# Like Sqitch's: no blanks, ":", "@" or "#"; neither starting nor ending with punctuation.
_PUNCT = re.escape("-!\"#$%&'()*+,./:;<=>?@[\\]^`{|}~")
_NAME = rf"(?![{_PUNCT}])[^\s:@#\[\]]+(?<![{_PUNCT}])"
_LINE = re.compile(
    rf"\s*(?P<tag>@)?(?:(?P<op>[+-])\s*)?(?P<name>{_NAME})"
    r"(?:\s*\[(?P<deps>[^\]]*)\]\s*|\s+)"
    r"(?P<ts>\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ)"
    r"\s+(?P<planner>[^<]+?)\s+<(?P<email>[^>]+)>\s*"
)
_DEP = re.compile(
    rf"(?P<conflict>!)?(?:(?P<project>{_NAME})?:)?(?P<change>{_NAME})?(?:@(?P<tag>{_NAME}))?"
)
_PRAGMA = re.compile(r"\s*%\s*(?P<name>[\w-]+)(?:\s*=\s*(?P<value>.*?))?\s*")
_SHA1 = re.compile(r"[0-9a-f]{40}")
_FORM = "name [dependencies] YYYY-MM-DDTHH:MM:SSZ Planner Name <email> # note"


@dataclass(frozen=True)
class Dependency:
    """One entry of a change's brackets."""

    change: str | None
    tag: str | None
    project: str | None
    conflict: bool
    text: str


@dataclass
class Change:
    """One change line: ``line`` is its line in the plan; ``tags`` the tags that follow it."""

    name: str
    line: int
    note: str
    requires: list[Dependency] = field(default_factory=list)
    conflicts: list[Dependency] = field(default_factory=list)
    tags: list[str] = field(default_factory=list)


@dataclass
class Plan:
    project: str
    changes: list[Change]
    #: tag name -> (index of the change it marks in ``changes``, its line)
    tags: dict[str, tuple[int, int]]
    pragmas: dict[str, str]


def _dependencies(path: Path, number: int, text: str) -> tuple[list[Dependency], list[Dependency]]:
    requires: list[Dependency] = []
    conflicts: list[Dependency] = []
    for word in text.split():
        match = _DEP.fullmatch(word)
        if match is None or not (match.group("change") or match.group("tag")):
            raise MigrationFileError(
                f"{word!r} is not a valid Sqitch dependency (change, change@tag, @tag or"
                " project:change, with ! for a conflict)", path, number,
            )
        dep = Dependency(match.group("change"), match.group("tag"), match.group("project"),
                         bool(match.group("conflict")), word)
        (conflicts if dep.conflict else requires).append(dep)
    return requires, conflicts


def parse(path: Path, text: str) -> Plan:
    """The plan of ``text`` (the file at ``path``); raise MigrationFileError on a line Sqitch
    would refuse too, or one mig cannot run (a ``-`` revert line)."""
    lines = text.split("\n")
    pragmas: dict[str, str] = {}
    number = 0
    for number, line in enumerate(lines, start=1):  # pragmas, up to the first blank line
        stripped = line.strip()
        if not stripped:
            break
        if stripped.startswith("#"):
            continue
        match = _PRAGMA.fullmatch(line)
        if match is None:
            raise MigrationFileError(
                "invalid pragma; a blank line must come between the %pragmas and the changes",
                path, number,
            )
        pragmas[match.group("name")] = match.group("value") or ""
    project = pragmas.get("project")
    if not project:
        raise MigrationFileError("the plan has no %project pragma", path, 1)
    changes: list[Change] = []
    tags: dict[str, tuple[int, int]] = {}
    since_tag: dict[str, int] = {}  # change name -> its line, since the last tag
    header = number
    for number, line in enumerate(lines[header:], start=header + 1):
        body, _, note = line.partition("#")
        if not body.strip():
            continue
        match = _LINE.fullmatch(body)
        if match is None:
            raise MigrationFileError(
                f"not a Sqitch change or tag line (expected: {_FORM})", path, number
            )
        name = match.group("name")
        if match.group("tag"):
            if match.group("deps") is not None or match.group("op"):
                raise MigrationFileError(f"tag @{name} may not have dependencies", path, number)
            if not changes:
                raise MigrationFileError(f"tag @{name} comes before any change", path, number)
            if name in tags:
                raise MigrationFileError(
                    f"tag @{name} duplicates the one on line {tags[name][1]}", path, number
                )
            tags[name] = (len(changes) - 1, number)
            changes[-1].tags.append(name)
            since_tag.clear()
            continue
        if match.group("op") == "-":
            raise MigrationFileError(
                f"'-{name}' (a change planned for revert) is not supported by mig", path, number
            )
        if name in since_tag:
            raise MigrationFileError(
                f"change {name} duplicates the one on line {since_tag[name]} (reworking a"
                " change needs a tag between the two)", path, number,
            )
        requires, conflicts = _dependencies(path, number, match.group("deps") or "")
        since_tag[name] = number
        changes.append(Change(name, number, note.strip(), requires, conflicts))
    if not changes:
        raise MigrationFileError("the plan has no changes", path, len(lines))
    return Plan(project, changes, tags, pragmas)


def is_change_id(dep: Dependency) -> bool:
    """Whether ``dep`` names a change by its SHA-1 id rather than by name."""
    return dep.tag is None and dep.change is not None and _SHA1.fullmatch(dep.change) is not None
