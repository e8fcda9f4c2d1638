"""Actions run in a thread each, their progress kept as lines a page streams (SSE)."""

from __future__ import annotations

import datetime as _dt
import itertools
import threading
import time
import traceback
from collections.abc import Callable
from dataclasses import dataclass, field

from mig.errors import MigError

Emit = Callable[[str], None]


@dataclass
class Job:
    """One action: what it is, who asked, and what it has said so far."""

    id: str
    title: str
    actor: str
    started: str = field(default_factory=lambda: _dt.datetime.now(_dt.UTC).isoformat()[:19])
    lines: list[str] = field(default_factory=list)
    done: bool = False
    ok: bool | None = None
    seconds: float = 0.0

    def emit(self, line: str) -> None:
        self.lines.append(line)


class Jobs:
    """The actions this server has run (newest last), kept in memory."""

    def __init__(self, scrub: Callable[[str], str]) -> None:
        self._jobs: dict[str, Job] = {}
        self._ids = itertools.count(1)
        self._lock = threading.Lock()
        self._scrub = scrub

    def get(self, job_id: str) -> Job | None:
        return self._jobs.get(job_id)

    def all(self) -> list[Job]:
        return list(self._jobs.values())

    def start(self, title: str, actor: str, work: Callable[[Emit], bool | None]) -> Job:
        """Run ``work(emit)`` in a thread; it returns False (or raises) when it failed."""
        with self._lock:
            job = Job(str(next(self._ids)), title, actor)
            self._jobs[job.id] = job

        def emit(line: str) -> None:
            job.emit(self._scrub(line))

        def run() -> None:
            start = time.perf_counter()
            ok = False
            try:
                ok = work(emit) is not False
            except MigError as exc:
                emit(f"mig: error: {exc}")
            except Exception as exc:  # a bug or a driver error: say it, keep serving
                emit(f"mig: error: {type(exc).__name__}: {exc}")
                traceback.print_exc()
            finally:
                job.seconds = time.perf_counter() - start
                job.ok = ok
                emit(f"{'done' if ok else 'FAILED'} in {job.seconds:.2f} s")
                job.done = True

        threading.Thread(target=run, name=f"mig-web-job-{job.id}", daemon=True).start()
        return job
