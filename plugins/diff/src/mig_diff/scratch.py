"""The schema the applied migrations produce: built in a scratch database of the live one's
kind by a second :class:`~mig.engine.MigrationEngine`, with no backups, applying exactly the
migrations in effect in the live database, in plan order."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING

from mig.config import NO_BACKUP
from mig.errors import MigrationFailed, UnknownTargetError
from mig.models import MigrationStatus

if TYPE_CHECKING:
    from mig.engine import MigrationEngine


def in_effect_ids(engine: MigrationEngine) -> list[str]:
    """The ids of the migrations in effect in the engine's database, in plan order; an
    error (exit 2) naming those whose file is gone."""
    applied = {e.migration_id for e in engine.applied_executions()}
    order = [m.id for m in engine.migrations()]
    missing = sorted(applied - set(order))
    if missing:
        raise UnknownTargetError(
            f"{len(missing)} migration(s) in effect have no file in"
            f" {engine.config.migrations_dir}: {', '.join(missing)}; the schema they produce"
            " cannot be built"
        )
    return [mid for mid in order if mid in applied]


@contextmanager
def migrations_schema(engine: MigrationEngine, ids: list[str] | None = None) -> Iterator[str]:
    """A scratch database holding what the migrations ``ids`` (by default those in effect
    in the engine's database) produce; yields its URL and drops it on exit."""
    from mig.engine import MigrationEngine

    todo = in_effect_ids(engine) if ids is None else ids
    with engine.dialect.scratch() as url:
        config = dataclasses.replace(engine.config, database=url, backup=NO_BACKUP)
        with MigrationEngine(config=config, plugins=engine.plugins) as scratch:
            apply(scratch, todo)
        yield url


def apply(engine: MigrationEngine, ids: list[str]) -> None:
    """Apply exactly the migrations ``ids``, in that order (each with ``only``, so that no
    other migration comes along); MigrationFailed when one fails."""
    for mid in ids:
        for execution in engine.up(target=mid, only=True, backup=NO_BACKUP, allow_drift=True):
            if execution.status is MigrationStatus.FAILED:
                raise MigrationFailed(
                    f"building the migrations' schema in a scratch database: {mid} failed:"
                    f" {execution.error_message}"
                )
