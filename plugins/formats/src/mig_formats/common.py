"""What every format shares: reading a file, building a :class:`mig.Migration` whose
sections are the file's SQL unchanged, and the transaction rules several tools apply."""

from __future__ import annotations

import re
from collections.abc import Mapping
from pathlib import Path

from mig import DependencyError, Migration, MigrationFileError, Statement
from mig.checksum import CHECKSUM_VERSION, checksum, normalise

# Whitespace and comments only (as mig's own parser decides that a DOWN is empty).
_EMPTY = re.compile(r"(?>\s+|--[^\n]*|/\*.*?\*/)*+", re.DOTALL)

# Statements PostgreSQL refuses inside a transaction block: a tool that runs a file as one
# multi-statement query (golang-migrate) or looks for them (Flyway) runs such a file outside
# a transaction, so mig does too.
_NO_TRANSACTION = re.compile(
    r"(?im)^\s*(?:CREATE\s+(?:UNIQUE\s+)?INDEX\s+CONCURRENTLY|DROP\s+INDEX\s+CONCURRENTLY"
    r"|REINDEX\b[^;]*\bCONCURRENTLY|CREATE\s+DATABASE|DROP\s+DATABASE|VACUUM\b"
    r"|ALTER\s+SYSTEM\b|CREATE\s+TABLESPACE|DROP\s+TABLESPACE"
    r"|ALTER\s+TYPE\s+\S+\s+ADD\s+VALUE)"
)
# A file that opens and commits its own transaction ("BEGIN; ... COMMIT;").
_OWN_BEGIN = re.compile(r"(?im)^\s*(?:BEGIN(?:\s+(?:TRANSACTION|WORK))?|START\s+TRANSACTION)\s*;")
_OWN_COMMIT = re.compile(r"(?im)^\s*(?:COMMIT|END)(?:\s+(?:TRANSACTION|WORK))?\s*;")


def is_empty_sql(sql: str) -> bool:
    """True when ``sql`` holds only whitespace and comments."""
    return _EMPTY.fullmatch(sql) is not None


def needs_no_transaction(sql: str) -> bool:
    """Whether ``sql`` has a statement that cannot run inside a transaction block."""
    return _NO_TRANSACTION.search(sql) is not None


def manages_own_transaction(sql: str) -> bool:
    """Whether ``sql`` begins and commits its own transaction."""
    return _OWN_BEGIN.search(sql) is not None and _OWN_COMMIT.search(sql) is not None


def read_text(path: Path) -> str:
    """The file's text as mig's own parser reads it: UTF-8, BOM dropped, LF line ends."""
    try:
        return normalise(path.read_bytes().decode("utf-8"))
    except UnicodeDecodeError as exc:
        raise MigrationFileError(f"not UTF-8 text ({exc.reason})", path) from None


def line_at(text: str, pos: int) -> int:
    return text.count("\n", 0, pos) + 1


def sql_files(directory: Path, levels: int = 0) -> list[str]:
    """The folder's visible regular files, sorted: their names, and with ``levels`` above 0
    also the files of its visible subfolders that many levels down, as relative paths
    (``20240101000000_init/migration.sql``). A format module says how deep it looks in
    its ``LEVELS``."""
    found = []
    for p in directory.iterdir():
        if p.name.startswith("."):
            continue
        if p.is_file():
            found.append(p.name)
        elif levels > 0 and p.is_dir():
            found.extend(f"{p.name}/{n}" for n in sql_files(p, levels - 1))
    return sorted(found)


def check_name_order(entries: list[tuple[str, int, Path]], tool: str) -> None:
    """Refuse a folder that ``tool`` applies in name order where mig, which orders by version,
    would not: ``entries`` are (name, version, path) in name order. Two entries of the same
    version, or a version lower than the one before it, are errors naming the file."""
    seen: dict[int, str] = {}
    for i, (name, version, path) in enumerate(entries):
        if version in seen:
            raise DependencyError(f"duplicate version {version}: {seen[version]} and {name}", path)
        if i and version < entries[i - 1][1]:
            raise DependencyError(
                f"{name} comes after {entries[i - 1][0]} by name (the order {tool} applies them"
                f" in) but its version is lower: give every version the same number of digits",
                path,
            )
        seen[version] = name


def make_migration(
    *,
    id: str,
    version: int,
    name: str,
    path: Path,
    up: str,
    down: str,
    fmt: str,
    up_line: int = 1,
    down_line: int = 0,
    transactional: bool = True,
    dependencies: tuple[str, ...] = (),
    reversible: bool | None = None,
    up_statements: tuple[Statement, ...] | None = None,
    down_statements: tuple[Statement, ...] | None = None,
    metadata: Mapping[str, str] | None = None,
) -> Migration:
    """A migration of ``fmt`` with ``up``/``down`` as the tool's files hold them. It is
    reversible when its down holds SQL (or its up holds none), as in mig's own files."""
    if reversible is None:
        reversible = not is_empty_sql(down) or is_empty_sql(up)
    return Migration(
        id=id,
        version=str(version),
        name=name,
        path=path,
        up_sql=up,
        down_sql=down,
        checksum=checksum(up, down),
        checksum_version=CHECKSUM_VERSION,
        description=name,
        dependencies=dependencies,
        reversible=reversible,
        transactional=transactional,
        up_line=up_line,
        down_line=down_line,
        up_statements=up_statements,
        down_statements=down_statements,
        metadata={"format": fmt, **(metadata or {})},
    )


def by_folder(names: list[str]) -> dict[str, set[str]]:
    """The files of each subfolder among ``names`` (``folder/file`` paths, as a format with
    ``LEVELS = 1`` gets them); files beside the folders are left out."""
    folders: dict[str, set[str]] = {}
    for n in names:
        folder, sep, file = n.partition("/")
        if sep:
            folders.setdefault(folder, set()).add(file)
    return folders
