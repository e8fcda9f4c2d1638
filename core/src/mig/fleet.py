"""Fleets: the same command on many databases (``mig --targets ...``).

Targets come from ``[mig.targets.<name>]`` tables (a URL, a glob of SQLite files, or a file
listing URLs) and are picked by a selector. Each target's job (:func:`run_job`) builds its own
engine, so it has its own connection, migration lock, ledger and backups folder
(``backups_dir/<target>``); a job never raises, it returns a :class:`TargetResult`, so one
target's failure never stops or touches another. Jobs are handed to a :class:`FleetRunner`
(threads here; plugins add others through ``mig_register_fleet_runners``), which may run
them anywhere that sees the same files and databases.
"""

from __future__ import annotations

import contextlib
import dataclasses
import gc
import os
import re
import sys
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from fnmatch import fnmatchcase
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar, cast

from .config import Config, TargetSpec
from .errors import ConfigError, PluginError
from .urls import mask_url

if TYPE_CHECKING:
    from concurrent.futures import Future
    from multiprocessing.connection import Connection
    from multiprocessing.process import BaseProcess

    from .engine import MigrationEngine
    from .loader import Catalog
    from .plugins import Plugins

#: What a fleet can run on each target (``backup`` is ``mig backup create``).
ACTIONS = ("up", "down", "status", "plan", "check", "backup")
DEFAULT_RUNNER = "threads"
DEFAULT_CONCURRENCY = 4
_GLOB = re.compile(r"[*?\[]")
_UNSAFE = re.compile(r"[^A-Za-z0-9_.-]")


# -- targets ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Target:
    """One database of a fleet."""

    name: str
    url: str
    labels: Mapping[str, str] = field(default_factory=dict)


def _safe(text: str) -> str:
    return _UNSAFE.sub("_", text).lstrip(".") or "_"


def _sqlite_glob(url: str, base_dir: Path) -> list[Path]:
    import glob

    scheme, _, rest = url.partition("://")
    if scheme.lower() != "sqlite" or not rest.startswith("/"):
        raise ConfigError(f"only sqlite:/// URLs can be globs, not {url!r}")
    pattern = os.path.join(base_dir, rest[1:])
    return sorted(Path(p).resolve() for p in glob.glob(pattern) if Path(p).is_file())


def expand(spec: TargetSpec, base_dir: Path, prefix: str | None = None) -> list[Target]:
    """The targets one ``[mig.targets.<name>]`` table stands for: itself, one per file of a
    glob (named ``<name>/<file stem>``), or one per line of its list file (``URL`` or
    ``NAME URL``; blank lines and ``#`` comments skipped)."""
    prefix = spec.name + "/" if prefix is None else prefix
    if spec.url is not None and not _GLOB.search(spec.url):
        return [Target(spec.name, spec.url, spec.labels)]
    if spec.url is not None:
        return [Target(prefix + _safe(p.stem), f"sqlite:///{p}", spec.labels)
                for p in _sqlite_glob(spec.url, base_dir)]
    assert spec.file is not None
    try:
        lines = spec.file.read_text(encoding="utf-8").splitlines()
    except OSError as exc:
        raise ConfigError(f"cannot read the target list {spec.file}: {exc.strerror}") from None
    found = []
    for number, line in enumerate(lines, 1):
        words = line.split("#", 1)[0].split() if not line.lstrip().startswith("#") else []
        if not words:
            continue
        if len(words) > 2:
            raise ConfigError(f"{spec.file}:{number}: expected `URL` or `NAME URL`")
        name, url = words if len(words) == 2 else ("", words[0])
        if not name:
            name = _safe(url.rstrip("/").rsplit("/", 1)[-1].split("?", 1)[0])
        found.append(Target(prefix + _safe(name), url, spec.labels))
    return found


def all_targets(config: Config) -> list[Target]:
    """Every target of the configuration, expanded; two with one name are refused."""
    found: dict[str, Target] = {}
    for spec in config.targets.values():
        for target in expand(spec, config.base_dir):
            if target.name in found:
                raise ConfigError(f"two targets are named {target.name!r}")
            found[target.name] = target
    return list(found.values())


def _matches(target: Target, term: str) -> bool:
    if "!=" in term:
        key, value = term.split("!=", 1)
        return not fnmatchcase(target.labels.get(key.strip(), ""), value.strip())
    if "=" in term:
        key, value = (x.strip() for x in term.split("=", 1))
        if key == "label" and key not in target.labels:  # any label, by name or value
            return any(fnmatchcase(k, value) or fnmatchcase(v, value)
                       for k, v in target.labels.items())
        return key in target.labels and fnmatchcase(target.labels[key], value)
    return term in ("all", "*") or fnmatchcase(target.name, term)


def select(config: Config, selector: str, cwd: Path | None = None) -> list[Target]:
    """The targets ``--targets SELECTOR`` names: terms separated by commas, all of which must
    match: ``key=value`` (a label, the value may be a glob; ``label=value``: any label named
    or valued so), ``key!=value``, a target name
    (or a glob of names; ``all``). A selector holding ``://`` is itself a URL or a glob of
    SQLite files (relative to ``cwd``), and ``@FILE`` a list file, without any config."""
    selector = selector.strip()
    cwd = cwd or Path.cwd()
    if "://" in selector or selector.startswith("@"):
        spec = (TargetSpec("targets", url=selector) if "://" in selector
                else TargetSpec("targets", file=(cwd / selector[1:]).resolve()))
        found = expand(spec, cwd, prefix="")
    else:
        terms = [t.strip() for t in selector.split(",") if t.strip()]
        if not terms:
            raise ConfigError("--targets needs a selector, e.g. --targets 'role=tenant'")
        found = [t for t in all_targets(config) if all(_matches(t, term) for term in terms)]
    if not found:
        where = f" in {config.path}" if config.path else ""
        raise ConfigError(f"no target matches {selector!r}{where}")
    return found


def target_config(config: Config, target: Target) -> Config:
    """The configuration of one target's engine: its URL (relative SQLite paths are relative
    to the config file) and its own backups folder."""
    return dataclasses.replace(
        config, database=target.url, database_base_dir=config.base_dir,
        backups_dir=config.backups_dir / target.name, target_name=target.name,
    )


# -- jobs -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Job:
    """One target's share of a fleet command: picklable, so any runner can ship it."""

    target: Target
    config: Config
    action: str
    params: Mapping[str, Any] = field(default_factory=dict)
    #: The fleet command this job belongs to: its jobs in one process read the migrations
    #: once (see :func:`_shared_catalog`); empty, the job reads them itself.
    fleet: str = ""


@dataclass(frozen=True)
class Event:
    """Progress of one target's job: ``start``, then a ``step`` per migration begun."""

    target: str
    kind: str
    done: int = 0
    total: int = 0
    migration: str | None = None
    worker: str | None = None


@dataclass
class TargetResult:
    """How one target's job ended. ``status``: ``ok``, ``failed`` (an error, a failed
    migration), ``problems`` (``check`` found some) or ``skipped`` (never started: --fail-fast
    or cancelled)."""

    target: str
    url: str
    status: str
    seconds: float = 0.0
    version_before: str | None = None
    version_after: str | None = None
    executions: list[dict[str, Any]] = field(default_factory=list)
    error: str | None = None
    exit_code: int = 0
    data: dict[str, Any] = field(default_factory=dict)
    worker: str | None = None

    @property
    def failed(self) -> bool:
        return self.status in ("failed", "skipped")

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


Emit = Callable[[Event], None]
_plugins_lock = threading.Lock()
_plugins_cache: dict[tuple[str, ...], Plugins] = {}


def shared_plugins(config: Config) -> Plugins:
    """One loaded plugin manager per process and ``disable`` list: loading entry points once,
    not once per target."""
    from .plugins import Plugins

    key = tuple(config.disable)
    with _plugins_lock:
        if key not in _plugins_cache:
            _plugins_cache[key] = Plugins(disable=config.disable).load()
        return _plugins_cache[key]


_catalogs: dict[tuple[Any, ...], Catalog] = {}
_CATALOGS_KEPT = 4


def _shared_catalog(job: Job, plugins: Callable[[], Plugins]) -> Catalog:
    """The migrations of ``job``'s fleet command in this process, read once for all its
    targets rather than once per target (as one ``mig up`` reads them once). Only the
    latest few commands' catalogs are kept, so a long-lived worker reads the files again
    for each new command."""
    from .loader import Catalog

    key = (job.fleet, job.config.migrations_dir, job.config.migrations_format,
           tuple(job.config.disable))
    with _plugins_lock:
        catalog = _catalogs.get(key)
        if catalog is None:
            catalog = Catalog(job.config.migrations_dir, plugins, job.config.migrations_format)
            _catalogs[key] = catalog
            while len(_catalogs) > _CATALOGS_KEPT:
                del _catalogs[next(iter(_catalogs))]
        return catalog


def _version(eng: MigrationEngine) -> str | None:
    try:
        return eng.get_current_version()
    except Exception:
        return None


def run_job(job: Job, emit: Emit | None = None, worker: str | None = None) -> TargetResult:
    """Run ``job`` on its target with an engine of its own. Never raises (KeyboardInterrupt
    aside): whatever goes wrong is the target's result."""
    from .engine import MigrationEngine
    from .models import MigrationStatus

    name = job.target.name
    send = emit or (lambda event: None)
    started = time.perf_counter()
    result = TargetResult(name, mask_url(job.target.url), "ok", worker=worker)
    send(Event(name, "start", worker=worker))

    def progress(done: int, total: int, migration: Any, execution: Any) -> None:
        if execution is None and migration is not None:
            send(Event(name, "step", done, total, migration.id, worker))

    eng = MigrationEngine(config=job.config, plugins=shared_plugins(job.config))
    if job.fleet:
        eng.catalog = _shared_catalog(job, eng.checked_plugins)
    try:
        result.url = eng.dialect.display_url()
        result.version_before = _version(eng)
        result.data = _ACTIONS[job.action](eng, dict(job.params), progress)
        executions = result.data.pop("executions", [])
        result.executions = [e.to_dict() for e in executions]
        failed = [e for e in executions if e.status is MigrationStatus.FAILED]
        if failed:
            result.status, result.exit_code = "failed", 1
            result.error = f"{failed[-1].migration_id} failed: {failed[-1].error_message}"
        elif result.data.pop("problems_found", False):
            result.status, result.exit_code = "problems", 4
    except Exception as exc:
        from .errors import MigError

        result.status = "failed"
        result.exit_code = exc.exit_code if isinstance(exc, MigError) else 1
        result.error = str(exc) if isinstance(exc, MigError) else f"{type(exc).__name__}: {exc}"
    finally:
        result.version_after = _version(eng)
        eng.close()
        result.seconds = time.perf_counter() - started
    return result


def _up(eng: MigrationEngine, p: dict[str, Any], progress: Any) -> dict[str, Any]:
    return {"executions": eng.up(p.get("target"), backup=p.get("backup"),
                                 allow_drift=p.get("allow_drift", False),
                                 only=p.get("only", False), progress=progress)}


def _down(eng: MigrationEngine, p: dict[str, Any], progress: Any) -> dict[str, Any]:
    return {"executions": eng.down(
        p.get("target"), steps=p.get("steps"), everything=p.get("everything", False),
        method=p.get("method"), cascade=p.get("cascade", False),
        confirm=p.get("yes", False), progress=progress)}


def _status(eng: MigrationEngine, p: dict[str, Any], progress: Any) -> dict[str, Any]:
    return eng.status().to_dict()


def _plan(eng: MigrationEngine, p: dict[str, Any], progress: Any) -> dict[str, Any]:
    return {"plan": [m.id for m in eng.plan(p.get("target"), only=p.get("only", False))]}


def _check(eng: MigrationEngine, p: dict[str, Any], progress: Any) -> dict[str, Any]:
    result = eng.validate_database_integrity()
    return {"problems": [p_.__dict__ for p_ in result.problems],
            "problems_found": not result.ok}


def _backup(eng: MigrationEngine, p: dict[str, Any], progress: Any) -> dict[str, Any]:
    chosen = p.get("type") or (eng.config.backup if eng.config.backup != "none" else "full")
    info = eng.create_backup(chosen)
    return {"backup_id": info.backup_id, "size_bytes": info.size_bytes,
            "backup_type": str(info.backup_type)}


_ACTIONS: dict[str, Callable[[MigrationEngine, dict[str, Any], Any], dict[str, Any]]] = {
    "up": _up, "down": _down, "status": _status, "plan": _plan, "check": _check,
    "backup": _backup,
}


# -- runners ----------------------------------------------------------------------------------


class FleetRunner:
    """Runs the jobs of a fleet. Subclass it, set ``name`` and return the class from
    ``mig_register_fleet_runners``.

    ``options`` holds the command line's ``--cluster`` (as ``cluster``, when given) over the
    config's ``[mig.options.<name>]`` table. :meth:`run` yields one result per job it ran, in
    any order, with at most ``concurrency`` (None: the runner's choice) running at once; it
    calls ``emit`` with each job's progress (from any thread, one call at a time or not) and
    starts no new job once ``stop`` is set. Jobs it never started get no result.
    """

    name: ClassVar[str] = ""

    def __init__(self, options: Mapping[str, Any]) -> None:
        self.options = dict(options)

    def run(self, jobs: Sequence[Job], *, concurrency: int | None, emit: Emit,
            stop: threading.Event) -> Iterator[TargetResult]:
        raise NotImplementedError


class ThreadRunner(FleetRunner):
    """Jobs in threads of this process (the default): each target's engine has its own
    connection, so threads only share the loaded plugins."""

    name = DEFAULT_RUNNER

    def run(self, jobs: Sequence[Job], *, concurrency: int | None, emit: Emit,
            stop: threading.Event) -> Iterator[TargetResult]:
        # Imported here: every mig command loads this module (runner plugins subclass
        # FleetRunner), few run a fleet.
        from concurrent.futures import FIRST_COMPLETED, ThreadPoolExecutor, wait

        width = max(1, concurrency or DEFAULT_CONCURRENCY)
        queue = iter(jobs)
        running: set[Future[TargetResult]] = set()
        with ThreadPoolExecutor(max_workers=width, thread_name_prefix="mig-fleet") as pool:
            while True:
                while len(running) < width and not stop.is_set():
                    job = next(queue, None)
                    if job is None:
                        break
                    running.add(pool.submit(run_job, job, emit))
                if not running:
                    return
                # On Ctrl-C leaving the block waits for the running jobs: each finishes its
                # command on its target (a migration is never cut off midway).
                done, running = wait(running, return_when=FIRST_COMPLETED)
                for future in done:
                    yield future.result()


def _worker(conn: Connection) -> None:
    """A ``processes`` worker: run each job ``conn`` sends (None: stop), sending back the
    job's events then its result."""
    import signal

    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C: the parent lets the job finish
    worker = f"pid {os.getpid()}"
    last = 0.0

    def emit(event: Event) -> None:  # a step at most every 0.1 s: the live view's pace
        nonlocal last
        now = time.monotonic()
        if event.kind != "step" or now - last >= 0.1:
            last = now
            conn.send(event)

    try:
        while (job := conn.recv()) is not None:
            conn.send(run_job(job, emit, worker))
    except EOFError:  # the parent is gone
        pass
    conn.close()


def _prepare(job: Job) -> None:
    """Load the plugins and read the migrations in this process before forking, so each
    forked worker has them already (a file that does not parse is each target's error)."""
    from .engine import MigrationEngine

    eng = MigrationEngine(config=job.config, plugins=shared_plugins(job.config))
    try:
        _shared_catalog(job, eng.checked_plugins).all()
    except Exception:  # each target reports it
        return


Worker = tuple["Connection", "BaseProcess"]


class ProcessRunner(FleetRunner):
    """Jobs in worker processes forked from this one (``--runner processes``; needs
    ``fork``: Linux, macOS), so the Python work of the targets runs on every core instead of
    taking turns for one interpreter lock. Each worker has the plugins and migrations this
    process loaded once, and runs one job after another; a job's events and result come back
    through the worker's pipe as they happen. Workers ignore Ctrl-C, so the running targets
    finish their command; a worker that dies (killed, out of memory) fails the target it was
    running, and a new one takes the next. A job's steps are sent at most every 0.1 s (the
    live view redraws no faster)."""

    name = "processes"

    def run(self, jobs: Sequence[Job], *, concurrency: int | None, emit: Emit,
            stop: threading.Event) -> Iterator[TargetResult]:
        import multiprocessing
        from multiprocessing.connection import wait

        try:
            ctx = multiprocessing.get_context("fork")
        except ValueError:
            raise ConfigError("--runner processes needs fork(), which this system lacks;"
                              " use --runner threads") from None

        def start() -> Worker:
            ours, theirs = ctx.Pipe()
            sys.stdout.flush()  # else the worker writes what is buffered once more
            sys.stderr.flush()
            proc = ctx.Process(target=_worker, args=(theirs,), name="mig-fleet-worker")
            gc.freeze()  # the worker's collector leaves what it inherits alone (no copying)
            try:
                proc.start()
            finally:
                gc.unfreeze()
            theirs.close()
            return ours, proc

        def hand(job: Job) -> Worker:
            conn, proc = idle.pop() if idle else start()
            try:
                conn.send(job)
            except OSError:  # it died while idle
                conn.close()
                proc.join()
                conn, proc = start()
                conn.send(job)
            return conn, proc

        width = max(1, concurrency or DEFAULT_CONCURRENCY)
        if jobs:
            _prepare(jobs[0])
        queue = iter(jobs)
        idle: list[Worker] = []
        busy: dict[Connection, tuple[Job, BaseProcess]] = {}
        try:
            while True:
                while len(busy) < width and not stop.is_set():
                    job = next(queue, None)
                    if job is None:
                        break
                    conn, proc = hand(job)
                    busy[conn] = (job, proc)
                if not busy:
                    return
                for ready in wait(list(busy)):
                    conn = cast("Connection", ready)
                    job, proc = busy[conn]
                    message = _receive(conn)
                    if isinstance(message, Event):
                        emit(message)
                        continue
                    del busy[conn]
                    if isinstance(message, TargetResult):
                        idle.append((conn, proc))
                        yield message
                        continue
                    conn.close()
                    proc.join()
                    yield TargetResult(
                        job.target.name, mask_url(job.target.url), "failed", exit_code=1,
                        error=f"its worker process died (exit code {proc.exitcode});"
                              " see `mig status` on it")
        finally:
            # Interrupted (or the caller stopped reading): the running jobs finish their
            # command on their target; their messages are read (a full pipe would block
            # them) and dropped. Then every worker is told to stop.
            while busy:
                for ready in wait(list(busy)):
                    conn = cast("Connection", ready)
                    message = _receive(conn)
                    if not isinstance(message, Event):
                        proc = busy.pop(conn)[1]
                        idle.append((conn, proc))
            for conn, proc in idle:
                with contextlib.suppress(OSError):
                    conn.send(None)
                conn.close()
                proc.join()


def _receive(conn: Connection) -> Any:
    """The next message of a worker; None once it is gone."""
    try:
        return conn.recv()
    except (EOFError, OSError):
        return None


def runners(plugins: Plugins) -> dict[str, type[FleetRunner]]:
    """The threads and processes runners and every runner plugins register, by name."""
    found: dict[str, type[FleetRunner]] = {ThreadRunner.name: ThreadRunner,
                                           ProcessRunner.name: ProcessRunner}
    for group in plugins.hook.mig_register_fleet_runners():
        for cls in group or ():
            if not (isinstance(cls, type) and issubclass(cls, FleetRunner)):
                raise PluginError(f"the fleet runner {cls!r} does not subclass"
                                  " mig.fleet.FleetRunner")
            if cls.name in found and found[cls.name] is not cls:
                raise PluginError(f"two fleet runners are named {cls.name!r}")
            found[cls.name] = cls
    return found


def make_runner(config: Config, plugins: Plugins, name: str | None,
                cluster: str | None = None) -> FleetRunner:
    """The runner ``--runner NAME`` picks, made with its options."""
    name = name or DEFAULT_RUNNER
    known = runners(plugins)
    if name not in known:
        raise ConfigError(f"--runner {name!r} is not one of {', '.join(sorted(known))}"
                          " (runners come from plugins such as mig-fleet-dask)")
    options = dict(config.options.get(f"fleet_{name}", {}))
    if cluster is not None:
        options["cluster"] = cluster
    return known[name](options)


def jobs_for(config: Config, targets: Iterable[Target], action: str,
             params: Mapping[str, Any] | None = None) -> list[Job]:
    if action not in ACTIONS:
        raise ValueError(f"unknown fleet action {action!r}")
    """One job per target; they share a fleet id, so that each process running some of
    them reads the migrations once."""
    import uuid

    fleet = uuid.uuid4().hex
    return [Job(t, target_config(config, t), action, dict(params or {}), fleet)
            for t in targets]


def run_fleet(runner: FleetRunner, jobs: Sequence[Job], *, concurrency: int | None = None,
              fail_fast: bool = False, emit: Emit | None = None,
              on_result: Callable[[TargetResult], None] | None = None) -> list[TargetResult]:
    """Run ``jobs`` on ``runner``; one result per job, in the order of ``jobs``. With
    ``fail_fast`` no job starts after one failed; those never started are ``skipped``, as
    are all not started when the run is interrupted (Ctrl-C)."""
    stop = threading.Event()
    results: dict[str, TargetResult] = {}
    why = "not started: another target failed (--fail-fast)"
    try:
        for result in runner.run(jobs, concurrency=concurrency, emit=emit or (lambda e: None),
                                 stop=stop):
            results[result.target] = result
            if on_result is not None:
                on_result(result)
            if fail_fast and result.failed:
                stop.set()
    except KeyboardInterrupt:
        stop.set()
        why = "not started or not reported: interrupted (see `mig status` on it)"
    for job in jobs:
        if job.target.name not in results:
            skipped = TargetResult(job.target.name, mask_url(job.target.url), "skipped", error=why,
                                   exit_code=1)
            results[job.target.name] = skipped
            if on_result is not None:
                on_result(skipped)
    return [results[job.target.name] for job in jobs]
