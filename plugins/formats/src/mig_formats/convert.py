"""Writing a folder of another tool as mig's own files (``mig import --convert``).

Each migration becomes ``{version}_{slug}.sql``: a header (``@name``, ``@transactional``,
``@reversible``, ``@dependencies``, and ``@source`` naming the original files), ``-- UP``, the
up SQL exactly as the tool's file holds it, and ``-- DOWN`` with the down SQL. mig's markers
need lines of their own, so a section whose last line has no line break gets one. Every file
written is parsed back and compared with its source before the command succeeds.
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from pathlib import Path

from mig import ConfigError, Migration, MigrationFileError
from mig.plugins import Plugins

_ID = re.compile(r"\d+_[\w-]+")


def file_name(m: Migration) -> str:
    """The mig file name: the tool's own id where it already is ``<digits>_<slug>``."""
    if _ID.fullmatch(m.id) and m.id.split("_", 1)[0].lstrip("0") == m.version.lstrip("0"):
        return m.id + ".sql"
    slug = re.sub(r"[^\w-]+", "_", m.name).strip("_") or "migration"
    return f"{m.version}_{slug}.sql"


def _section(sql: str) -> str:
    return sql if sql == "" or sql.endswith("\n") else sql + "\n"


def render(m: Migration, tool: str, ids: dict[str, str]) -> str:
    # A format whose files sit in subfolders names them itself (Prisma's, Sqitch's).
    source = m.metadata.get("source") or m.path.name
    extra = m.metadata.get("down_file") or m.metadata.get("undo_file")
    if extra:
        source += ", " + extra
    elif m.metadata.get("format") == "yoyo" and m.down_sql:
        source += f", {m.id}.rollback.sql"
    lines = [
        f"-- @name: {' '.join(m.name.split()) or m.id}",
        f"-- @description: converted from {tool} by mig import",
        f"-- @source: {source}",
    ]
    if not m.transactional:
        lines.append("-- @transactional: false")
    if not m.reversible:
        lines.append("-- @reversible: false")
    if m.dependencies:
        lines.append(f"-- @dependencies: {json.dumps([ids[d] for d in m.dependencies])}")
    text = "\n".join(lines) + "\n-- UP\n" + _section(m.up_sql)
    if m.down_sql:
        text += "-- DOWN\n" + _section(m.down_sql)
    return text


def convert(
    migrations: Sequence[Migration], tool: str, out: Path, plugins: Plugins
) -> list[Migration]:
    """Write ``migrations`` into ``out`` (which must hold no ``.sql`` file yet) and return
    them as mig parses them back."""
    for m in migrations:  # a format's feature mig's own files cannot say
        refused = m.metadata.get("convert_refused")
        if refused:
            raise MigrationFileError(f"cannot be written as a mig file: {refused}", m.path,
                                     m.up_line)
    out.mkdir(parents=True, exist_ok=True)
    taken = sorted(p.name for p in out.iterdir() if p.suffix == ".sql")
    if taken:
        raise ConfigError(f"{out} already holds migration files ({taken[0]}, ...): pick an empty"
                          " folder")
    names = {m.id: file_name(m) for m in migrations}
    ids = {i: n.removesuffix(".sql") for i, n in names.items()}
    texts = {m.id: render(m, tool, ids) for m in migrations}
    parsed: list[Migration] = []
    for m in migrations:
        path = out / names[m.id]
        back = plugins.parse_migration(path, texts[m.id])
        if back is None or back.up_sql != _section(m.up_sql) or back.down_sql != _section(
            m.down_sql
        ):
            raise MigrationFileError(
                "cannot be written as a mig file without changing its SQL (a line of it reads"
                " as a -- UP or -- DOWN marker)", m.path, 1
            )
        parsed.append(back)
    for m in migrations:
        (out / names[m.id]).write_text(texts[m.id], encoding="utf-8")
    return parsed
