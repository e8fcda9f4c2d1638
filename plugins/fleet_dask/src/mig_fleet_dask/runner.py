"""The ``dask`` fleet runner: each target's job is one task on a Dask distributed cluster.

Workers must see what the jobs name: the migrations folder, the config's folder (backups,
SQLite files) and the databases, with mig and the dialect plugins installed. Progress comes
back as worker events on a topic of this run; results as the tasks finish. A task lost with
its worker is run again by the scheduler on another worker: the target's migration lock and
its ledger decide what is left to apply, so nothing is applied twice (a transaction cut off by
the kill is rolled back by the database; a non-transactional migration cut off is left for
``mig status`` to report, as after any killed run).
"""

from __future__ import annotations

import dataclasses
import threading
import time
import uuid
from collections.abc import Iterator, Sequence
from typing import Any

from mig.errors import ConfigError
from mig.fleet import Emit, Event, FleetRunner, Job, TargetResult, run_job
from mig.urls import mask_url

OPTIONS = ("cluster", "connect_timeout", "progress_interval")
#: Seconds between two progress messages of one target (each goes through the scheduler).
PROGRESS_INTERVAL = 0.2


def _remote(job: Job, topic: str, interval: float) -> TargetResult:
    """The task: run ``job`` on this worker, sending its progress to ``topic`` (a step at
    most every ``interval`` seconds)."""
    from distributed import get_worker

    worker = get_worker()
    last = [0.0]

    def emit(event: Event) -> None:
        now = time.monotonic()
        if event.kind == "step" and now - last[0] < interval:
            return
        last[0] = now
        worker.log_event(topic, dataclasses.asdict(event))

    return run_job(job, emit, worker=worker.address)


class DaskRunner(FleetRunner):
    """``--runner dask --cluster tcp://scheduler:8786`` (or ``cluster`` in
    ``[mig.options.fleet_dask]``; ``connect_timeout`` in seconds, default 10;
    ``progress_interval``, the least seconds between two progress messages of a target,
    default 0.2). ``--concurrency N`` submits at most N tasks at once; by default twice the
    cluster's worker threads (the workers' threads bound what runs at once)."""

    name = "dask"

    def _connect(self) -> Any:
        from distributed import Client

        unknown = sorted(set(self.options) - set(OPTIONS))
        if unknown:
            raise ConfigError(f"unknown key {unknown[0]!r} in [mig.options.fleet_dask]"
                              f" (known: {', '.join(OPTIONS)})")
        address = self.options.get("cluster")
        if not isinstance(address, str) or not address:
            raise ConfigError("--runner dask needs the scheduler's address: --cluster"
                              " tcp://HOST:8786 (or cluster in [mig.options.fleet_dask])")
        timeout = self.options.get("connect_timeout", 10)
        try:
            return Client(  # type: ignore[no-untyped-call]
                address, timeout=timeout, set_as_default=False)
        except (OSError, TimeoutError) as exc:
            raise ConfigError(f"cannot reach the Dask scheduler at {address}: {exc}") from None

    @staticmethod
    def _cancel_waiting(client: Any, running: dict[str, tuple[Job, Any]],
                        started: set[str]) -> Iterator[TargetResult]:
        """Cancel the submitted tasks that have not said they started (--fail-fast)."""
        waiting = [key for key, (job, _) in running.items() if job.target.name not in started]
        if not waiting:
            return
        client.cancel([running[key][1] for key in waiting], force=True)
        for key in waiting:
            job = running.pop(key)[0]
            yield TargetResult(
                job.target.name, mask_url(job.target.url), "skipped", exit_code=1,
                error="cancelled before it reported starting (--fail-fast);"
                      " see `mig status` on it")

    def run(self, jobs: Sequence[Job], *, concurrency: int | None, emit: Emit,
            stop: threading.Event) -> Iterator[TargetResult]:
        from distributed import as_completed

        client = self._connect()
        topic = f"mig-fleet-{uuid.uuid4().hex}"

        started: set[str] = set()

        def relay(event: Any) -> None:
            message = event[1] if isinstance(event, tuple) else event
            if message.get("kind") == "start":
                started.add(message["target"])
            emit(Event(**message))

        client.subscribe_topic(topic, relay)
        interval = float(self.options.get("progress_interval", PROGRESS_INTERVAL))
        # By default twice the cluster's threads are submitted, so a worker finishing a task
        # finds the next one queued at the scheduler instead of waiting for this client.
        width = concurrency or max(1, 2 * sum(client.nthreads().values()))
        queue = iter(jobs)
        running: dict[str, tuple[Job, Any]] = {}
        futures = as_completed(loop=client.loop)  # type: ignore[no-untyped-call]

        def fill() -> None:
            while len(running) < width and not stop.is_set():
                job = next(queue, None)
                if job is None:
                    return
                future = client.submit(_remote, job, topic, interval, pure=False,
                                       key=f"mig-{job.target.name}-{uuid.uuid4().hex[:8]}")
                running[future.key] = (job, future)
                futures.add(future)  # type: ignore[no-untyped-call]

        try:
            fill()
            for future in futures:
                if future.key not in running:  # cancelled below
                    continue
                job = running.pop(future.key)[0]
                try:
                    result: TargetResult = future.result()
                except Exception as exc:  # lost too often (KilledWorker), cancelled, ...
                    result = TargetResult(
                        job.target.name, mask_url(job.target.url), "failed", exit_code=1,
                        error=f"the Dask task failed: {type(exc).__name__}: {exc}"
                              " (see `mig status` on it)")
                yield result
                if stop.is_set():
                    yield from self._cancel_waiting(client, running, started)
                fill()
        finally:
            # Interrupted (or the caller stopped reading): drop what has not started. Tasks
            # already running finish under their target's lock; they are not reported.
            if running:
                client.cancel([future for _, future in running.values()], force=True)
            client.unsubscribe_topic(topic)
            client.close()
