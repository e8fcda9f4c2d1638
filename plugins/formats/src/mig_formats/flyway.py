"""Flyway: ``V{version}__{description}.sql`` versioned migrations, ``U{version}__...sql``
undo migrations (the DOWN of the V file of the same version) and ``R__{description}.sql``
repeatable migrations.

Versions: parts separated by ``.`` or ``_`` compare as numbers (``1.10`` after ``1.9``). mig
versions are integers, so when every version of the folder is a single number it is kept
(``V7__x.sql`` is version 7); as soon as one has several parts each version becomes
``a*10^12 + b*10^8 + c*10^4 + d``, which orders them as Flyway does. A folder with a version
of more than four parts (``1.0.9.0.1``) or a part after the first above 9999
(``2024.01.15.143000``) has each version written instead as its parts zero-padded to the
widest of that position in the folder and put side by side (``1.0.9.0.1`` next to
``1.0.10`` is ``1009001`` and ``1010000``). Ids are the file names without ``.sql``.

Flyway scans its locations recursively, and so does mig here: scripts may sit in
subfolders.

Repeatables run after every versioned migration, in description order, as Flyway runs them;
mig gives them versions from ``10^30`` up (or from the next power of ten above the highest
versioned one, when that is higher) so they sort last. mig runs each once: an edited
repeatable shows as drift (Flyway would re-run it). ``mig import --history`` leaves a
repeatable pending when its checksum in ``flyway_schema_history`` is not the file's, so the
next ``mig up`` applies the new text once.

Transactions: Flyway runs each migration in a transaction unless its ``.sql.conf`` says
``executeInTransaction=false`` or it holds a statement that cannot run in one (``CREATE
INDEX CONCURRENTLY``, ...); mig's ``transactional`` follows the same rule.

Placeholders (``${schema}``) are replaced as Flyway replaces them, with the values of
``flyway.conf``/``flyway.toml`` and ``FLYWAY_PLACEHOLDERS_*`` (see :mod:`.flyway_config`):
a section they change becomes one ready piece (``up_statements``/``down_statements``) that
the engine splits for execution and ``--sql`` scripts, while ``up_sql``/``down_sql``, and so
the checksum, stay the file as written (Flyway sums versioned scripts as written too), so a
new value is not drift. An undefined placeholder, or a connection's built-in
(``${flyway:user}``, ``${flyway:database}``, ``${flyway:defaultSchema}`` when the
configuration names no schema) is a :class:`mig.MigrationFileError` naming the file and line
when the folder is read: the values are the same for every database a folder is run on, since
the hook that reads it knows no connection.

Callbacks (``beforeMigrate.sql``, ``afterMigrate__x.sql``, ...) are not run (running them
around a command would need lifecycle hooks the core lacks); reading the folder names them in
one warning on stderr, once per process.
"""

from __future__ import annotations

import re
import sys
import zlib
from collections.abc import Callable, Collection
from pathlib import Path

from mig import DependencyError, Migration, Statement

from .common import make_migration, needs_no_transaction, read_text
from .flyway_config import Placeholders, load_settings

NAME = "flyway"
#: How deep below the folder the registry lists files for this format (0: the folder only);
#: Flyway's loader scans the subfolders itself, at any depth.
LEVELS = 0
FILE = re.compile(r"([VU])(\d+(?:[._]\d+)*)__(.+)\.sql")
REPEATABLE = re.compile(r"R__(.+)\.sql")
REPEATABLE_BASE = 10**30
_PART = 10**4
_PARTS = 4
#: Flyway's callback events: a script named after one (``afterMigrate.sql``,
#: ``afterMigrate__grants.sql``) runs around a command, not as a migration.
_EVENTS = (
    "beforeConnect", "afterConnect", "beforeMigrate", "beforeRepeatables", "beforeEachMigrate",
    "beforeEachMigrateStatement", "afterEachMigrateStatement", "afterEachMigrateStatementError",
    "afterEachMigrate", "afterEachMigrateError", "afterMigrate", "afterMigrateApplied",
    "afterVersioned", "afterMigrateError", "beforeUndo", "beforeEachUndo",
    "beforeEachUndoStatement", "afterEachUndoStatement", "afterEachUndoStatementError",
    "afterEachUndo", "afterEachUndoError", "afterUndo", "afterUndoError", "beforeClean",
    "afterClean", "afterCleanError", "beforeInfo", "afterInfo", "afterInfoError",
    "beforeValidate", "afterValidate", "afterValidateError", "beforeBaseline", "afterBaseline",
    "afterBaselineError", "beforeRepair", "afterRepair", "afterRepairError",
    "beforeCreateSchema", "createSchema",
)
CALLBACK = re.compile(rf"(?:{'|'.join(_EVENTS)})(?:__.*)?\.sql")
#: The callback warnings already given, so a process says each once.
_warned: set[tuple[str, ...]] = set()


def detect(directory: Path, names: list[str]) -> bool:
    return any(
        FILE.fullmatch(base) or REPEATABLE.fullmatch(base)
        for base in (n.rsplit("/", 1)[-1] for n in _scripts(directory))
    )


def parts(version: str) -> tuple[int, ...]:
    """A Flyway version as numbers, trailing zeros dropped (``1.0`` is ``1``)."""
    numbers = [int(p) for p in re.split(r"[._]", version)]
    while len(numbers) > 1 and numbers[-1] == 0:
        numbers.pop()
    return tuple(numbers)


def _fits(numbers: tuple[int, ...]) -> bool:
    """Whether ``numbers`` has room in the four-part encoding."""
    return len(numbers) <= _PARTS and all(n < _PART for n in numbers[1:])


def encoder(keys: Collection[tuple[int, ...]]) -> Callable[[tuple[int, ...]], int]:
    """How the folder's Flyway versions ``keys`` become mig's integer versions, in Flyway's
    order (see the module's docstring)."""
    if all(len(k) == 1 for k in keys):
        return lambda numbers: numbers[0]
    if all(_fits(k) for k in keys):
        def four_parts(numbers: tuple[int, ...]) -> int:
            value = numbers[0]
            for i in range(1, _PARTS):
                value = value * _PART + (numbers[i] if i < len(numbers) else 0)
            return value

        return four_parts
    # Same number of digits in every position for every version: comparing the numbers
    # compares the parts one by one, as Flyway does.
    count = max(len(k) for k in keys)
    widths = [max(len(str(k[i])) if i < len(k) else 1 for k in keys) for i in range(count)]

    def side_by_side(numbers: tuple[int, ...]) -> int:
        return int("".join(
            str(numbers[i] if i < len(numbers) else 0).zfill(width)
            for i, width in enumerate(widths)
        ))

    return side_by_side


def checksum(text: str) -> int:
    """Flyway's checksum of a script: CRC-32 of its lines without their line breaks (UTF-8,
    a leading BOM dropped), as a signed 32-bit integer."""
    if text.startswith("\ufeff"):
        text = text[1:]
    lines = re.split(r"\r\n|\n|\r", text)
    if lines and lines[-1] == "":
        lines.pop()  # Java's readLine yields no empty line after the last line break
    crc = 0
    for line in lines:
        crc = zlib.crc32(line.encode("utf-8"), crc)
    return crc - 2**32 if crc >= 2**31 else crc


def _in_transaction(directory: Path, name: str, sql: str) -> bool:
    conf = directory / (name + ".conf")
    if conf.is_file():
        for line in conf.read_text(encoding="utf-8").splitlines():
            key, _, value = line.partition("=")
            if key.strip() == "executeInTransaction" and value.strip().lower() == "false":
                return False
    return not needs_no_transaction(sql)


def _hint(name: str) -> str:
    """How Flyway is told to run the script ``name`` outside a transaction (for mig's error
    messages)."""
    return f"add {name.rsplit('/', 1)[-1]}.conf beside it holding executeInTransaction=false"


def _scripts(directory: Path) -> list[str]:
    """Every file under ``directory`` (Flyway scans its locations recursively), as paths
    relative to it; hidden files and folders are skipped."""
    found = []
    for path in directory.rglob("*"):
        rel = path.relative_to(directory)
        if path.is_file() and not any(part.startswith(".") for part in rel.parts):
            found.append(rel.as_posix())
    return sorted(found)


def _warn_callbacks(directory: Path, found: list[str]) -> None:
    """Say once per process that mig leaves the folder's callbacks alone (running
    ``beforeMigrate``/``afterMigrate`` around a run would need hooks mig's core lacks)."""
    key = (str(directory), *found)
    if not found or key in _warned:
        return
    _warned.add(key)
    print(f"mig: warning: {directory}: mig does not run Flyway callbacks, and these are"
          f" skipped: {', '.join(found)} (run their SQL yourself, or make it a migration)",
          file=sys.stderr)


def _ready(written: str, replaced: str, line: int) -> tuple[Statement, ...] | None:
    """The section as mig runs it when placeholders changed it (the checksum stays the
    written text's, as Flyway's does); None lets mig split the text as written."""
    return None if replaced == written else (Statement(replaced, line),)


def _script(directory: Path, n: str, placeholders: Placeholders) -> tuple[str, str]:
    """The script ``n`` as written, and as it runs (its placeholders replaced)."""
    text = read_text(directory / n)
    return text, placeholders.replace(text, directory / n)


def _replaced(*pairs: tuple[str, str]) -> dict[str, str]:
    """``placeholders = "replaced"`` in the metadata of a migration whose text placeholders
    changed (so ``mig import --convert`` can say its files keep them)."""
    return {"placeholders": "replaced"} if any(a != b for a, b in pairs) else {}


def load(directory: Path, names: list[str]) -> list[Migration]:
    versioned: dict[tuple[int, ...], tuple[str, str, str]] = {}
    undo: dict[tuple[int, ...], str] = {}
    repeatable: list[tuple[str, str]] = []
    callbacks: list[str] = []
    for n in _scripts(directory):
        if CALLBACK.fullmatch(n.rsplit("/", 1)[-1]):
            callbacks.append(n)
            continue
        match = FILE.fullmatch(n.rsplit("/", 1)[-1])
        if match is not None:
            kind, version, description = match.groups()
            key = parts(version)
            table = versioned if kind == "V" else undo
            other = table.get(key)
            if other is not None:
                first = other[0] if isinstance(other, tuple) else other
                raise DependencyError(
                    f"duplicate version {version}: {first} and {n}", directory / n
                )
            if kind == "V":
                versioned[key] = (n, version, description)
            else:
                undo[key] = n
            continue
        match = REPEATABLE.fullmatch(n.rsplit("/", 1)[-1])
        if match is not None:
            repeatable.append((match.group(1), n))
    for key, n in undo.items():
        if key not in versioned:
            raise DependencyError(f"undo migration {n} has no versioned migration", directory / n)
    placeholders = Placeholders(directory, load_settings(directory))
    encode = encoder(versioned.keys())
    highest = max(map(encode, versioned), default=0)
    repeatable_base = max(REPEATABLE_BASE, 10 ** len(str(highest)))
    out = []
    for key, (n, version, description) in versioned.items():
        path = directory / n
        up, run_up = _script(directory, n, placeholders)
        down, run_down = _script(directory, undo[key], placeholders) if key in undo else ("", "")
        out.append(make_migration(
            id=path.stem, version=encode(key),
            name=description.replace("_", " "), path=path, up=up, down=down, fmt=NAME,
            down_line=1 if key in undo else 0,
            up_statements=_ready(up, run_up, 1), down_statements=_ready(down, run_down, 1),
            transactional=_in_transaction(directory, n, run_up)
            and (key not in undo or _in_transaction(directory, undo[key], run_down)),
            # version_label: how `mig status` and friends show the version (Flyway's 1.1,
            # not the number it orders as); repeatables have none
            metadata={"flyway_version": ".".join(map(str, key)), "flyway_type": "versioned",
                      "version_label": version.replace("_", "."),
                      "undo_file": undo.get(key, ""), "transactional_hint": _hint(n),
                      **_replaced((up, run_up), (down, run_down))},
        ))
    for i, (description, n) in enumerate(sorted(repeatable)):
        path = directory / n
        up, run_up = _script(directory, n, placeholders)
        out.append(make_migration(
            id=path.stem, version=repeatable_base + i, name=description.replace("_", " "),
            path=path, up=up, down="", fmt=NAME, reversible=False,
            up_statements=_ready(up, run_up, 1),
            transactional=_in_transaction(directory, n, run_up),
            metadata={"flyway_type": "repeatable", "flyway_description": description,
                      "version_label": "", "transactional_hint": _hint(n),
                      **_replaced((up, run_up))},
        ))
    _warn_callbacks(directory, callbacks)
    return out
