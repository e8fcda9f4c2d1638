"""Hook implementations of the ``metrics`` plugin: settings are checked when the config is
loaded; the metrics of a run are built and exported when it finishes."""

from __future__ import annotations

from typing import TYPE_CHECKING

from mig import hookimpl

from .export import export, settings

if TYPE_CHECKING:
    from mig.config import Config
    from mig.models import MigrationExecution
    from mig.protocols import Context

MIG_API_VERSION = 1


@hookimpl
def mig_config_loaded(config: Config) -> None:
    settings(config)


@hookimpl
def mig_run_finished(ctx: Context, executions: list[MigrationExecution]) -> None:
    export(ctx, executions)
