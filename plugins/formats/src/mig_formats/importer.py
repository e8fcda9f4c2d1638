"""What ``mig import`` does, apart from its command line."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from mig import ConfigError, Migration, MigrationFileError
from mig.engine import MigrationEngine
from mig.ledger import new_id
from mig.runner import record_schema

from .convert import convert as write_folder
from .history import READERS, TABLES, NoHistory
from .registry import FORMATS, detect, load, module

_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


def _tool(engine: MigrationEngine, source: str | None, directory: Path) -> str:
    if source:
        name: str = module(source).NAME
        return name
    configured = engine.config.migrations_format
    if configured not in ("mig", "auto"):
        name = module(configured).NAME
        return name
    found = detect(directory)
    if found is None:
        raise ConfigError(
            f"{directory} is not a folder of any format mig reads ({', '.join(FORMATS)});"
            " say --from TOOL"
        )
    return found


def run_import(
    engine: MigrationEngine, *, source: str | None, directory: Path | None,
    convert: Path | None, history: bool, table: str | None = None,
) -> dict[str, Any]:
    if table is not None and not _NAME.fullmatch(table):
        raise ConfigError(f"--table {table!r} must be letters, digits and underscores")
    directory = (directory or engine.config.migrations_dir).resolve()
    if not directory.is_dir():
        raise ConfigError(f"migrations folder {directory} does not exist")
    tool = _tool(engine, source, directory)
    plugins = engine.plugins.load()
    migrations: list[Migration] = plugins.resolve_order(load(directory, tool))
    report: dict[str, Any] = {"format": tool, "folder": str(directory), "converted": [],
                              "adopted": [], "already": [], "lines": []}
    lines: list[str] = report["lines"]
    targets = {m.id: m for m in migrations}
    if convert is not None:
        out = convert.resolve()
        written = write_folder(migrations, tool, out, plugins)
        by_version = {m.number: m for m in written}
        targets = {m.id: by_version[m.number] for m in migrations}
        report["converted"] = [m.path.name for m in written]
        report["out"] = str(out)
        lines.append(f"converted {len(written)} {tool} migration(s) into {out}")
        lines.extend(_split_differently(engine, migrations, targets))
        lines.extend(_kept_placeholders(migrations, targets))
    if history:
        if tool not in READERS:
            raise ConfigError(
                f"mig cannot read {tool}'s history table (it reads {', '.join(READERS)});"
                " record what is applied with `mig baseline` instead"
            )
        adopted, already = _adopt(engine, tool, migrations, targets, table or TABLES[tool])
        report["adopted"], report["already"] = adopted, already
        lines.extend(f"adopted      {i}" for i in adopted)
        lines.append(
            f"adopted {len(adopted)} migration(s) from {tool}'s {table or TABLES[tool]}"
            + (f"; {len(already)} were already recorded" if already else "")
        )
    if convert is None and engine.config.migrations_format == "mig":
        lines.append(f'next: set migrations_format = "{tool}" in the config so mig reads'
                     " this folder as it is")
    elif convert is not None:
        lines.append(f"next: point migrations_dir at {convert} (migrations_format = \"mig\")")
    return report


def _split_differently(
    engine: MigrationEngine, migrations: list[Migration], targets: dict[str, Migration]
) -> list[str]:
    """Warnings for migrations the tool split by its own rules (goose) where mig's splitter
    finds another number of statements in the converted file than in the tool's pieces
    (each of which mig splits again when it runs the tool's folder)."""
    dialect = engine.config.database and engine.plugins.dialect_for(engine.config.database)
    name = getattr(dialect, "name", None) or "generic"
    out = []
    for m in migrations:
        for ready, sql, line in ((m.up_statements, targets[m.id].up_sql, targets[m.id].up_line),
                                 (m.down_statements, targets[m.id].down_sql,
                                  targets[m.id].down_line)):
            if ready is None:
                continue
            found = len(engine.plugins.split(sql, name, line, targets[m.id].path))
            try:
                made = str(sum(len(engine.plugins.split(s.sql, name, s.line, m.path))
                               for s in ready))
            except MigrationFileError:  # a line ending in ";" inside a string, say
                made = "pieces that are not whole statements"
            if made != str(found):
                out.append(f"warning: {targets[m.id].path.name}: mig splits it into {found}"
                           f" statement(s) where {m.metadata.get('format')} made {made};"
                           " check it before running it")
    return out


def _kept_placeholders(
    migrations: list[Migration], targets: dict[str, Migration]
) -> list[str]:
    """Warnings for converted files whose SQL holds placeholders the tool replaced (Flyway's
    ``${...}``): mig's own files keep them as written, and no value is put in."""
    return [f"warning: {targets[m.id].path.name}: keeps the placeholders of {m.path.name} as"
            " written (mig's own files have none): put their values in before running it"
            for m in migrations if m.metadata.get("placeholders") == "replaced"]


def _adopt(
    engine: MigrationEngine, tool: str, migrations: list[Migration],
    targets: dict[str, Migration], table: str,
) -> tuple[list[str], list[str]]:
    db = engine.db
    with db.lock(engine.config.lock_timeout):
        ledger = db.writer()
        try:
            applied = READERS[tool](db.dialect, migrations, table)
        except NoHistory:
            raise ConfigError(
                f"the database has no {table} table: {tool} never ran here"
                " (nothing to adopt; `mig up` runs every migration)"
            ) from None
        in_effect = {e.migration_id for e in ledger.in_effect()}
        todo = [m for m in migrations if m.id in applied]
        adopted: list[str] = []
        already = [targets[m.id].id for m in todo if targets[m.id].id in in_effect]
        run_id = new_id()
        last = None
        with db.transaction() as writer:
            for m in todo:
                target = targets[m.id]
                if target.id in in_effect:
                    continue
                last = writer.adopted(target, run_id, how=f"import:{tool}", note=applied[m.id])
                adopted.append(target.id)
        if last is not None:
            record_schema(db, last)
    return adopted, already
