"""Reading another tool's history table: which of the folder's migrations it applied.

Each reader returns the applied migrations' ids with a note for the audit row, or raises
:class:`ImportRefused` when the tool's own state is not clean (golang-migrate ``dirty``,
a failed Flyway row, a failed Prisma migration, a held Liquibase lock) or names a version the
folder does not have.
"""

from __future__ import annotations

from collections.abc import Callable, Container, Iterable, Sequence
from typing import Any

from mig import MigError, Migration
from mig.protocols import Dialect

from . import flyway


class ImportRefused(MigError):
    """The old tool's history is not in a state mig can adopt (exit 1)."""

    exit_code = 1


class NoHistory(Exception):
    """The database has no history table of that tool."""


Applied = dict[str, str]  # migration id -> note for the audit row


def _truthy(value: Any) -> bool:
    if isinstance(value, str):
        return value.strip().lower() in ("1", "t", "true", "y", "yes")
    return bool(value)


def _table(dialect: Dialect, name: str) -> str:
    for found in dialect.table_names():
        if found.lower() == name.lower():
            return found
    raise NoHistory(name)


def _unknown(tool: str, table: str, versions: Sequence[object]) -> ImportRefused:
    shown = ", ".join(str(v) for v in versions[:5])
    return ImportRefused(
        f"{tool}'s {table} records version(s) {shown} that the migrations folder does not have;"
        " restore the missing files before importing"
    )


def _require_known(tool: str, table: str, keys: Iterable[object],
                   known: Container[object]) -> None:
    """Refuse (see :func:`_unknown`) when the history names a key the folder does not have."""
    missing = [k for k in keys if k not in known]
    if missing:
        raise _unknown(tool, table, missing)


def golang_migrate(
    dialect: Dialect, migrations: Sequence[Migration], name: str = "schema_migrations"
) -> Applied:
    table = _table(dialect, name)
    try:
        rows = dialect.query(f"SELECT version, dirty FROM {table}")
    except Exception as exc:
        raise ImportRefused(
            f"{table} has no dirty column: it is not golang-migrate's ({exc})"
        ) from None
    if not rows:
        return {}
    if len(rows) > 1:
        raise ImportRefused(f"golang-migrate's {table} holds {len(rows)} rows instead of one")
    version, dirty = int(rows[0][0]), _truthy(rows[0][1])
    if dirty:
        raise ImportRefused(
            f"golang-migrate's {table} is dirty at version {version}: that migration failed"
            " part-way. Repair the database, run `migrate force <version>`, then import again"
        )
    if version >= 0 and not any(m.number == version for m in migrations):
        raise _unknown("golang-migrate", table, [version])
    note = f"golang-migrate {table} version {version}"
    return {m.id: note for m in migrations if m.number <= version}


def dbmate(
    dialect: Dialect, migrations: Sequence[Migration], name: str = "schema_migrations"
) -> Applied:
    table = _table(dialect, name)
    rows = dialect.query(f"SELECT * FROM {table}")
    if rows and len(rows[0]) > 1:
        raise ImportRefused(f"{table} has more than a version column: it is not dbmate's")
    by_number = {m.number: m for m in migrations}
    versions = [str(r[0]).strip() for r in rows]
    missing = [v for v in versions if not v.isdigit() or int(v) not in by_number]
    if missing:
        raise _unknown("dbmate", table, missing)
    return {by_number[int(v)].id: f"dbmate {table} version {v}" for v in versions}


def goose(
    dialect: Dialect, migrations: Sequence[Migration], name: str = "goose_db_version"
) -> Applied:
    table = _table(dialect, name)
    rows = dialect.query(f"SELECT id, version_id, is_applied FROM {table} ORDER BY id")
    latest: dict[int, bool] = {}
    for _, version, applied in rows:
        latest[int(version)] = _truthy(applied)
    by_number = {m.number: m for m in migrations}
    applied_versions = [v for v, on in latest.items() if on and v != 0]
    _require_known("goose", table, applied_versions, by_number)
    return {by_number[v].id: f"goose {table} version_id {v}" for v in applied_versions}


def flyway_history(
    dialect: Dialect, migrations: Sequence[Migration], name: str = "flyway_schema_history"
) -> Applied:
    table = _table(dialect, name)
    rows = dialect.query(
        f"SELECT installed_rank, version, description, type, script, checksum, success"
        f" FROM {table} ORDER BY installed_rank"
    )
    failed = [r for r in rows if not _truthy(r[6])]
    if failed:
        r = failed[0]
        raise ImportRefused(
            f"Flyway's {table} records a failed migration ({r[4]}, version {r[1]}):"
            " repair the database and run `flyway repair`, then import again"
        )
    versioned = {
        flyway.parts(m.metadata["flyway_version"]): m
        for m in migrations if m.metadata.get("flyway_type") == "versioned"
    }
    repeatable = {
        m.metadata["flyway_description"].replace("_", " "): m
        for m in migrations if m.metadata.get("flyway_type") == "repeatable"
    }
    state: dict[tuple[int, ...], str | None] = {}
    baseline: tuple[int, ...] | None = None
    sums: dict[str, int | None] = {}
    for _, version, description, kind, script, checksum, _ok in rows:
        kind = str(kind).upper()
        if version is None:
            if kind == "SQL":
                sums[str(description)] = None if checksum is None else int(checksum)
            continue
        key = flyway.parts(str(version))
        if kind == "BASELINE":
            baseline = key
        elif kind in ("UNDO_SQL", "DELETE"):
            state[key] = None
        elif kind in ("SQL", "JDBC", "SPRING_JDBC", "SCRIPT"):
            state[key] = f"Flyway {table} {script} (checksum {checksum})"
    out: Applied = {}
    if baseline is not None:
        for key, m in versioned.items():
            if key <= baseline:
                out[m.id] = f"Flyway {table} baseline {'.'.join(map(str, baseline))}"
    missing = [".".join(map(str, k)) for k, note in state.items()
               if note is not None and k not in versioned]
    if missing:
        raise _unknown("Flyway", table, missing)
    for key, note in state.items():
        if note is not None:
            out[versioned[key].id] = note
        elif key in versioned:
            out.pop(versioned[key].id, None)
    for description, checksum in sums.items():
        script = repeatable.get(description)
        # A repeatable whose text changed since Flyway ran it stays pending: mig applies the
        # new text, as Flyway's next migrate would. Flyway sums a repeatable with its
        # placeholders replaced (a versioned one as written).
        if script is not None and checksum == flyway.checksum(
            script.up_sql if script.up_statements is None else script.up_statements[0].sql
        ):
            out[script.id] = f"Flyway {table} repeatable {description} (checksum {checksum})"
    return out


def yoyo(
    dialect: Dialect, migrations: Sequence[Migration], name: str = "_yoyo_migration"
) -> Applied:
    table = _table(dialect, name)
    try:
        rows = dialect.query(f"SELECT migration_id FROM {table}")
    except Exception:  # yoyo before 6 named the column id
        rows = dialect.query(f"SELECT id FROM {table}")
    ids = {m.id for m in migrations}
    applied = [str(r[0]) for r in rows]
    _require_known("yoyo", table, applied, ids)
    return {i: f"yoyo {table} {i}" for i in applied}


def sql_migrate(
    dialect: Dialect, migrations: Sequence[Migration], name: str = "gorp_migrations"
) -> Applied:
    table = _table(dialect, name)
    rows = dialect.query(f"SELECT id FROM {table}")
    by_file = {m.metadata.get("sql_migrate_id", m.path.name): m for m in migrations}
    applied = [str(r[0]) for r in rows]
    _require_known("sql-migrate", table, applied, by_file)
    return {by_file[i].id: f"sql-migrate {table} {i}" for i in applied}


def prisma(
    dialect: Dialect, migrations: Sequence[Migration], name: str = "_prisma_migrations"
) -> Applied:
    """Prisma's rows: applied when finished and not rolled back. A row started but neither
    finished nor rolled back is a failed migration, which Prisma itself refuses to go past
    (P3009)."""
    table = _table(dialect, name)
    rows = dialect.query(
        f"SELECT migration_name, checksum, finished_at, rolled_back_at, started_at FROM {table}"
        " ORDER BY started_at"
    )
    failed = [r for r in rows if r[2] is None and r[3] is None]
    if failed:
        raise ImportRefused(
            f"Prisma's {table} records a failed migration ({failed[0][0]}, started"
            f" {failed[0][4]}): repair the database and run `prisma migrate resolve`"
            " (--applied or --rolled-back), then import again"
        )
    by_name = {m.metadata.get("prisma_migration", m.id): m for m in migrations}
    applied = {str(r[0]): str(r[1]) for r in rows if r[2] is not None and r[3] is None}
    _require_known("Prisma", table, applied, by_name)
    out: Applied = {}
    for migration_name, stored in applied.items():
        m = by_name[migration_name]
        edited = "" if stored == m.metadata.get("prisma_checksum") else (
            "; its migration.sql was edited since (checksum differs)"
        )
        out[m.id] = f"Prisma {table} {migration_name}{edited}"
    return out


def diesel(
    dialect: Dialect, migrations: Sequence[Migration], name: str = "__diesel_schema_migrations"
) -> Applied:
    """Diesel's rows: one per applied migration, its version (the folder name up to the
    first ``_``, no ``-``); ``diesel migration revert`` deletes the row."""
    table = _table(dialect, name)
    rows = dialect.query(f"SELECT version, run_on FROM {table} ORDER BY version")
    by_version = {m.metadata.get("diesel_version", ""): m for m in migrations}
    versions = [str(r[0]).strip() for r in rows]
    _require_known("Diesel", table, versions, by_version)
    return {by_version[v].id: f"Diesel {table} version {v} (run on {r[1]})"
            for v, r in zip(versions, rows, strict=True)}


def node_pg_migrate(
    dialect: Dialect, migrations: Sequence[Migration], name: str = "pgmigrations"
) -> Applied:
    """node-pg-migrate's rows: one per applied migration, named by its file name without the
    extension; ``down`` deletes the row."""
    table = _table(dialect, name)
    rows = dialect.query(f"SELECT id, name, run_on FROM {table} ORDER BY run_on, id")
    by_name = {m.metadata.get("node_pg_migrate_name", m.id): m for m in migrations}
    _require_known("node-pg-migrate", table, [str(r[1]) for r in rows], by_name)
    return {by_name[str(r[1])].id: f"node-pg-migrate {table} {r[1]} (run on {r[2]})"
            for r in rows}


def liquibase(
    dialect: Dialect, migrations: Sequence[Migration], name: str = "databasechangelog"
) -> Applied:
    """Liquibase's rows: a changeset EXECUTED, RERAN or MARK_RAN (a precondition told
    Liquibase to count it as run) is applied. A changeset is matched by id, author and file
    (Liquibase records the path it was given, so ``changelog/a.sql`` matches the folder's
    ``a.sql``). A held DATABASECHANGELOGLOCK (a run in progress, or one that died) is refused."""
    table = _table(dialect, name)
    try:
        lock = _table(dialect, f"{name}lock")
    except NoHistory:
        lock = None
    if lock is not None:
        held = [r for r in dialect.query(f"SELECT locked, lockedby FROM {lock}")
                if _truthy(r[0])]
        if held:
            raise ImportRefused(
                f"Liquibase's {lock} is held (by {held[0][1]}): a Liquibase update is running or"
                " died part-way. Check the database, run `liquibase release-locks`, then import"
                " again"
            )
    rows = dialect.query(f"SELECT id, author, filename, exectype, md5sum FROM {table}"
                         " ORDER BY orderexecuted")
    by_key: dict[tuple[str, str], list[Migration]] = {}
    for m in migrations:
        key = (m.metadata.get("liquibase_id", ""), m.metadata.get("liquibase_author", ""))
        by_key.setdefault(key, []).append(m)
    out: Applied = {}
    missing = []
    for changeset, author, filename, exectype, md5 in rows:
        if str(exectype).upper() not in ("EXECUTED", "RERAN", "MARK_RAN"):
            continue
        path = str(filename).replace("\\", "/")
        found = [m for m in by_key.get((str(changeset), str(author)), [])
                 if path == m.metadata["liquibase_file"]
                 or path.endswith("/" + m.metadata["liquibase_file"])]
        if len(found) != 1:
            missing.append(f"{filename}::{changeset}::{author}")
            continue
        out[found[0].id] = f"Liquibase {table} {filename}::{changeset}::{author} {exectype}" + (
            f" (MD5SUM {md5})" if md5 else "")
    if missing:
        raise _unknown("Liquibase", table, missing)
    return out


READERS: dict[str, Callable[[Dialect, Sequence[Migration], str], Applied]] = {
    "golang-migrate": golang_migrate,
    "dbmate": dbmate,
    "goose": goose,
    "flyway": flyway_history,
    "yoyo": yoyo,
    "sql-migrate": sql_migrate,
    "prisma": prisma,
    "liquibase": liquibase,
    "diesel": diesel,
    "node-pg-migrate": node_pg_migrate,
}
TABLES = {
    "golang-migrate": "schema_migrations", "dbmate": "schema_migrations",
    "goose": "goose_db_version", "flyway": "flyway_schema_history", "yoyo": "_yoyo_migration",
    "sql-migrate": "gorp_migrations", "prisma": "_prisma_migrations",
    "liquibase": "databasechangelog", "diesel": "__diesel_schema_migrations",
    "node-pg-migrate": "pgmigrations",
}
