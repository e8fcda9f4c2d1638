"""The metrics of one run and where they go.

Every metric carries a ``target`` label (the fleet target, ``instance`` of the options, or the
database's URL with the password masked). To a Pushgateway they are pushed with ``POST``
(``pushadd``) under ``job``/``instance``: a metric left out of a push keeps its last value,
which is how ``mig_last_success_timestamp_seconds`` and ``mig_up_to_date_timestamp_seconds``
survive failed or partial runs. A textfile for node-exporter's textfile collector is
rewritten atomically, carrying those two over from its previous contents.
"""

from __future__ import annotations

import datetime as dt
import re
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from mig.errors import ConfigError
from mig.loader import Catalog

if TYPE_CHECKING:
    from mig.config import Config
    from mig.models import MigrationExecution
    from mig.protocols import Context
    from prometheus_client import CollectorRegistry

OPTIONS: dict[str, type | tuple[type, ...]] = {
    "pushgateway": str, "job": str, "instance": str, "textfile_dir": str, "timeout": (int, float),
}
#: Kept from earlier runs when this one does not set them (see the module's docstring).
STICKY = ("mig_last_success_timestamp_seconds", "mig_up_to_date_timestamp_seconds")


@dataclass(frozen=True)
class Settings:
    pushgateway: str | None
    job: str
    instance: str | None
    textfile_dir: Path | None
    timeout: float


def settings(config: Config) -> Settings:
    """``[mig.options.metrics]``, checked (a ConfigError for an unknown key or bad value)."""
    table: dict[str, Any] = config.options.get("metrics", {})
    for key, value in table.items():
        if key not in OPTIONS:
            raise ConfigError(f"unknown key {key!r} in [mig.options.metrics]"
                              f" (known: {', '.join(OPTIONS)})")
        if not isinstance(value, OPTIONS[key]) or isinstance(value, bool):
            raise ConfigError(f"metrics.{key} has the wrong type: {value!r}")
    gateway = table.get("pushgateway")
    if gateway is not None and not re.match(r"https?://", gateway):
        raise ConfigError(f"metrics.pushgateway must be an http(s):// URL, not {gateway!r}")
    folder = table.get("textfile_dir")
    return Settings(gateway, table.get("job", "mig"), table.get("instance"),
                    (config.base_dir / folder).resolve() if folder else None,
                    float(table.get("timeout", 5)))


def _seconds(start: str | None, end: str | None) -> float | None:
    if not start or not end:
        return None
    return (dt.datetime.fromisoformat(end) - dt.datetime.fromisoformat(start)).total_seconds()


def build(ctx: Context, executions: list[MigrationExecution], target: str) -> CollectorRegistry:
    """The registry of one run: what it did, its backups, and where the database stands."""
    from prometheus_client import CollectorRegistry, Gauge

    reg = CollectorRegistry()

    def gauge(name: str, doc: str, *labels: str) -> Gauge:
        return Gauge(name, doc, ["target", *labels], registry=reg)

    duration = gauge("mig_migration_duration_seconds", "Time a migration took in the last run",
                     "migration", "operation", "status")
    outcomes = gauge("mig_run_migrations", "Migrations of the last run by outcome",
                     "operation", "status")
    failed = gauge("mig_run_failed", "1 when the last run had a failed migration")
    rollbacks = gauge("mig_run_rollbacks", "Rollbacks and restores done by the last run")
    size = gauge("mig_backup_size_bytes", "Size of a backup taken by the last run",
                 "migration", "backup_type")
    backup_time = gauge("mig_backup_duration_seconds", "Time a backup of the last run took",
                        "migration", "backup_type")
    pending = gauge("mig_pending_migrations", "Migrations not applied after the last run")
    version = gauge("mig_current_version", "Newest applied version after the last run")
    last_run = gauge("mig_last_run_timestamp_seconds", "When the last run finished")
    now = time.time()
    last_run.labels(target).set(now)
    backups = {b.backup_id: b for b in ctx.ledger.backups()} if any(
        e.backup_id for e in executions) else {}
    counts: dict[tuple[str, str], int] = {}
    for e in executions:
        op, status = e.operation.value, e.status.value
        counts[op, status] = counts.get((op, status), 0) + 1
        duration.labels(target, e.migration_id, op, status).set(e.execution_time)
        info = backups.get(e.backup_id or "")
        if info is not None:
            size.labels(target, e.migration_id, str(info.backup_type)).set(info.size_bytes)
            took = _seconds(e.started_at, e.completed_at)
            if took is not None:  # the record starts before its backup is taken
                backup_time.labels(target, e.migration_id, str(info.backup_type)).set(
                    max(0.0, took - e.execution_time))
    for (op, status), n in counts.items():
        outcomes.labels(target, op, status).set(n)
    any_failed = any(e.status.value == "FAILED" for e in executions)
    failed.labels(target).set(int(any_failed))
    rollbacks.labels(target).set(sum(
        n for (op, status), n in counts.items() if op != "apply" and status == "COMPLETED"))
    applied = ctx.ledger.in_effect()
    migrations = Catalog(ctx.config.migrations_dir, lambda: ctx.plugins).all()
    behind = len({m.id for m in migrations} - {e.migration_id for e in applied})
    pending.labels(target).set(behind)
    version.labels(target).set(max((int(e.version) for e in applied), default=0))
    if not any_failed:
        gauge("mig_last_success_timestamp_seconds",
              "When a run last finished without a failure").labels(target).set(now)
    if behind == 0:
        gauge("mig_up_to_date_timestamp_seconds",
              "When the database was last seen with nothing pending").labels(target).set(now)
    return reg


def _target(ctx: Context, chosen: Settings) -> str:
    return chosen.instance or ctx.config.target_name or ctx.dialect.display_url()


def export(ctx: Context, executions: list[MigrationExecution]) -> None:
    """Build the run's metrics and push and/or write them. A failure to export is a warning:
    the migrations are done whatever the monitoring says."""
    chosen = settings(ctx.config)
    if chosen.pushgateway is None and chosen.textfile_dir is None:
        return
    target = _target(ctx, chosen)
    reg = build(ctx, executions, target)
    if chosen.pushgateway is not None:
        from prometheus_client import pushadd_to_gateway

        try:
            pushadd_to_gateway(chosen.pushgateway, job=chosen.job, registry=reg,
                               grouping_key={"instance": target}, timeout=chosen.timeout)
        except OSError as exc:
            _warn(f"cannot push to {chosen.pushgateway}: {exc}")
    if chosen.textfile_dir is not None:
        try:
            write_textfile(chosen.textfile_dir, target, reg)
        except OSError as exc:
            _warn(f"cannot write to {chosen.textfile_dir}: {exc}")


def _warn(message: str) -> None:
    print(f"mig: warning: metrics: {message}", file=sys.stderr)


def textfile_path(folder: Path, target: str) -> Path:
    return folder / f"mig_{re.sub(r'[^A-Za-z0-9_.-]', '_', target)}.prom"


def write_textfile(folder: Path, target: str, reg: CollectorRegistry) -> Path:
    """Write ``mig_<target>.prom`` in ``folder`` (atomically), keeping the sticky metrics of
    the previous file that this run did not set."""
    from prometheus_client import Gauge, write_to_textfile
    from prometheus_client.parser import text_string_to_metric_families

    path = textfile_path(folder, target)
    have = {m.name for m in reg.collect()}
    if path.exists():
        for family in text_string_to_metric_families(path.read_text(encoding="utf-8")):
            if family.name in STICKY and family.name not in have:
                kept = Gauge(family.name, family.documentation, ["target"], registry=reg)
                for sample in family.samples:
                    kept.labels(sample.labels.get("target", target)).set(sample.value)
    folder.mkdir(parents=True, exist_ok=True)
    write_to_textfile(str(path), reg)
    return path
