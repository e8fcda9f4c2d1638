"""Template plugin: an integrity check that every table has a primary key."""

from __future__ import annotations

from mig import Problem, hookimpl
from mig.protocols import Context

MIG_API_VERSION = 1


@hookimpl
def mig_integrity_check(ctx: Context) -> list[Problem] | None:
    if ctx.dialect.name != "sqlite":
        return None  # this check only knows SQLite's catalogue
    prefix = ctx.config.table_prefix
    problems = []
    for table in ctx.dialect.table_names():
        if table.startswith(prefix):
            continue  # mig's own tables
        columns = ctx.dialect.query("SELECT pk FROM pragma_table_info(?)", (table,))
        if not any(pk for (pk,) in columns):
            problems.append(Problem("template.primary_key", f"{table} has no primary key", table))
    return problems
