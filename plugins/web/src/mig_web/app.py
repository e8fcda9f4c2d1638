"""The Starlette application: pages that read through the engine's API, and actions that
run through it in a thread each (same API, same lock as the CLI), recorded with who asked."""

from __future__ import annotations

import asyncio
import getpass
import hashlib
import os
import threading
import time
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any
from urllib.parse import unquote

from mig.backups import human_size
from mig.engine import MigrationEngine, RollbackStep, Status
from mig.errors import ConfigError, MigError, RollbackRefused, UnknownTargetError
from mig.loader import Catalog
from mig.models import Migration, MigrationExecution
from mig.plugins import Plugins
from mig.urls import userinfo_password
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.middleware.base import BaseHTTPMiddleware
from starlette.requests import Request
from starlette.responses import (
    HTMLResponse,
    PlainTextResponse,
    RedirectResponse,
    Response,
    StreamingResponse,
)
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles
from starlette.templating import Jinja2Templates

from . import checks, svg
from .highlight import css as highlight_css
from .highlight import sql_html
from .jobs import Emit, Job, Jobs
from .security import CSRF_FIELD, Guard, scrub, session_of
from .server import Settings

HERE = Path(__file__).parent
HISTORY_LIMIT = 200
#: Seconds a computed status is reused while the ledger and the files are unchanged.
STATUS_TTL = 30.0


class _Shared(Catalog):
    """The engine's catalog, parsing the folder only when a page needs the files and only
    when a file changed since the last parse (the parsed files are shared by requests)."""

    def __init__(self, web: Web, plugins: Callable[[], Plugins]) -> None:
        super().__init__(web.config.migrations_dir, plugins, web.config.migrations_format)
        self.web = web
        self._mine: list[Migration] | None = None

    def all(self) -> list[Migration]:
        if self._mine is None:
            self._mine = self.web.parsed(lambda: super(_Shared, self).all())
        return self._mine


class Web:
    """What the pages share: the settings, the loaded plugins, parsed files, actions."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.config = settings.config
        self.plugins = Plugins(disable=self.config.disable).load()
        self.guard = Guard(settings.token, settings.read_only)
        password = userinfo_password(self.config.database or "")
        self.secrets = [p for p in {password, password and unquote(password)} if p]
        self.jobs = Jobs(self.scrub)
        self.verified: dict[str, tuple[bool, str]] = {}
        self._parsed: tuple[tuple[Any, ...], list[Migration]] | None = None
        self._parse_lock = threading.Lock()
        self._status: tuple[Any, Status, float] | None = None
        self.drawn: tuple[tuple[int, int], str] | None = None
        self.templates = Jinja2Templates(directory=str(HERE / "templates"))
        self.templates.env.globals.update(human_size=human_size, read_only=settings.read_only)

    def scrub(self, text: str) -> str:
        """Pages show URLs masked already (``display_url``); this also takes out the literal
        password wherever a message might have carried it."""
        return scrub(text, self.secrets)

    @contextmanager
    def engine(self, actor: str | None = None) -> Iterator[MigrationEngine]:
        """A fresh engine for one request or action (its connection stays in its thread)."""
        eng = MigrationEngine(config=self.config, plugins=self.plugins, actor=actor)
        plugins = self.plugins  # loaded once, at start
        eng.catalog = _Shared(self, lambda: plugins)
        try:
            yield eng
        finally:
            eng.close()

    def forget(self) -> None:
        """Drop the parsed files, the status and the drawn graph (for benchmarks)."""
        self._parsed = self._status = self.drawn = None

    def _folder_key(self) -> tuple[Any, ...] | None:
        """What changes when a migration file is added, removed or edited."""
        try:
            with os.scandir(self.config.migrations_dir) as entries:
                return tuple(sorted((e.name, e.stat().st_mtime_ns, e.stat().st_size)
                                    for e in entries))
        except OSError:
            return None  # the engine reports the missing folder

    def parsed(self, parse: Callable[[], list[Migration]]) -> list[Migration]:
        """The parsed files: ``parse()`` again only when a file changed."""
        key = self._folder_key()
        if key is None:
            return parse()  # the folder is missing: the engine says so
        with self._parse_lock:
            if self._parsed is None or self._parsed[0] != key:
                self._parsed = (key, parse())
            return self._parsed[1]

    def status(self, eng: MigrationEngine, fresh: bool = False) -> tuple[Status, float]:
        """``eng.status()`` and when it was computed. It is reused while the newest ledger row
        and the files are unchanged, for at most :data:`STATUS_TTL` seconds (the live schema,
        which may change outside mig, is compared again after that; ``fresh`` forces it)."""
        newest = eng.history(1)
        key = (tuple(newest[0].to_dict().values()) if newest else None, self._folder_key(),
               eng.config.database)
        cached = self._status
        if (not fresh and cached is not None and cached[0] == key
                and time.time() - cached[2] < STATUS_TTL):
            return cached[1], cached[2]
        st, when = eng.status(), time.time()
        self._status = (key, st, when)
        return st, when

    def render(self, request: Request, name: str, status_code: int = 200,
               **context: Any) -> HTMLResponse:
        context.update(request=request, csrf=self.guard.csrf_token(session_of(request)),
                       csrf_field=CSRF_FIELD, page=name.removesuffix(".html"))
        html = self.templates.get_template(name).render(context)
        return HTMLResponse(self.scrub(html), status_code=status_code)

    def error(self, request: Request, exc: Exception, status_code: int = 400) -> HTMLResponse:
        message = str(exc) if isinstance(exc, MigError) else f"{type(exc).__name__}: {exc}"
        return self.render(request, "error.html", status_code=status_code, message=message)

    def actor(self, request: Request) -> str:
        host = request.client.host if request.client else "unknown"
        return f"web:{getpass.getuser()}@{host}"


def fingerprint(plan: list[RollbackStep]) -> str:
    """What a rollback plan does, in short: the confirmation is for this plan only."""
    text = ";".join(f"{s.method}:{s.root.execution_id}:{s.root.backup_id}:"
                    + ",".join(e.execution_id for e in s.undoes) for s in plan)
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def create_app(settings: Settings) -> Starlette:
    web = Web(settings)

    def page(view: Callable[[Request, MigrationEngine], Response]) -> Callable[
            [Request], Response]:
        def endpoint(request: Request) -> Response:
            try:
                with web.engine() as eng:
                    return view(request, eng)
            except UnknownTargetError as exc:
                return web.error(request, exc, 404)
            except MigError as exc:
                return web.error(request, exc, 400)
            except Exception as exc:  # a driver's error (database unreachable, ...)
                return web.error(request, exc, 500)
        return endpoint

    def action(run: Callable[[Request, dict[str, str], Job | None], tuple[str, Callable[
            [MigrationEngine, Emit], bool | None]]]) -> Callable[[Request], Any]:
        """A POST: checked (read-only, CSRF), then its work runs in a job."""
        async def endpoint(request: Request) -> Response:
            if settings.read_only:
                return PlainTextResponse("403: this server is read-only", status_code=403)
            form = {k: str(v) for k, v in (await request.form()).items()}
            if not web.guard.csrf_ok(request, form.get(CSRF_FIELD)):
                return PlainTextResponse("403: missing or wrong CSRF token; reload the page",
                                         status_code=403)
            try:
                title, work = run(request, form, None)
            except MigError as exc:
                return web.error(request, exc)
            actor = web.actor(request)

            def job(emit: Emit) -> bool | None:
                with web.engine(actor) as eng:
                    return work(eng, emit)

            started = web.jobs.start(title, actor, job)
            return RedirectResponse(f"/jobs/{started.id}", status_code=303)
        return endpoint

    # -- pages ------------------------------------------------------------------------------

    def status(request: Request, eng: MigrationEngine) -> Response:
        st, checked = web.status(eng, fresh=request.query_params.get("fresh") == "1")
        # Pending migrations come in plan order: they are what `up` would apply.
        return web.render(request, "status.html", st=st, plan=st.pending,
                          checked=time.strftime("%H:%M:%S", time.localtime(checked)),
                          database=eng.dialect.display_url(),
                          jobs=web.jobs.all()[-5:][::-1])

    def plan_page(request: Request, eng: MigrationEngine) -> Response:
        target = request.query_params.get("target") or None
        todo = eng.plan(target)
        return web.render(request, "plan.html", plan=todo, target=target or "",
                          migrations=eng.migrations())

    def history(request: Request, eng: MigrationEngine) -> Response:
        q = request.query_params
        filters = {k: q.get(k, "").strip() for k in ("operation", "status", "migration", "actor")}
        start = int(q.get("start", "0")) if q.get("start", "0").isdigit() else 0
        if any(filters.values()):
            rows = [r for r in eng.history() if _matches(r, filters)]
            total: int | None = len(rows)
        else:  # read only the rows shown (and one more, to know there are older ones)
            rows, total = eng.history(start + HISTORY_LIMIT + 1), None
        shown = rows[start:start + HISTORY_LIMIT]
        query = "&".join(f"{k}={v}" for k, v in filters.items() if v)
        return web.render(request, "history.html", rows=shown, total=total,
                          more=len(rows) > start + HISTORY_LIMIT, filters=filters,
                          start=start, limit=HISTORY_LIMIT, query=query)

    def graph(request: Request, eng: MigrationEngine) -> Response:
        migrations = eng.migrations()
        st, _ = web.status(eng)
        states = {e.migration_id: "failed" for e in st.failed}
        states.update({e.migration_id: "applied" for e in st.applied})
        states.update({m.id: "drift" for m in st.drift})
        key = (id(st), id(migrations))  # both are reused while nothing changed
        if web.drawn is None or web.drawn[0] != key:
            web.drawn = (key, svg.render(migrations, states))
        drawing = web.drawn[1]
        return web.render(request, "graph.html", svg=drawing, count=len(migrations),
                          colours=svg.COLOURS)

    def backups(request: Request, eng: MigrationEngine) -> Response:
        service = eng.backups()
        store = service.scan()
        ledger = eng.db.reader() if eng.config.database else None
        catalogue = {b.backup_id: b for b in ledger.backups()} if ledger else {}
        rows = []
        for m in store.manifests:
            info = m.info
            chain, parent, seen = [info.backup_id], info.parent_id, set()
            while parent and parent not in seen:
                seen.add(parent)
                chain.insert(0, parent)
                parent = next((x.info.parent_id for x in store.manifests
                               if x.info.backup_id == parent), None)
            listed = catalogue.get(info.backup_id)
            rows.append({"info": info, "chain": chain, "catalogued": listed is not None,
                         "valid": listed.is_valid if listed else None,
                         "verified": web.verified.get(info.backup_id)})
        return web.render(request, "backups.html", rows=rows[::-1], damaged=store.damaged,
                          leftovers=service.leftovers(store),
                          keep_days=eng.config.keep_days, keep_count=eng.config.keep_count)

    def migration(request: Request, eng: MigrationEngine) -> Response:
        m = eng.catalog.resolve(request.path_params["id"])
        executions = [e for e in eng.history() if e.migration_id == m.id]
        return web.render(request, "migration.html", m=m, up=sql_html(m.up_sql),
                          down=sql_html(m.down_sql), executions=executions)

    def rollback_page(request: Request, eng: MigrationEngine) -> Response:
        execution_id = request.path_params["execution_id"]
        cascade = request.query_params.get("cascade") == "1"
        method = request.query_params.get("method") or None
        plan = eng.rollback_plan(execution_id=execution_id, method=method, cascade=cascade)
        notices = eng.restore_notices(plan)
        return web.render(request, "rollback.html", execution_id=execution_id, plan=plan,
                          notices=notices, cascade=cascade, method=method or "",
                          fingerprint=fingerprint(plan),
                          asks=bool(notices) or any(len(s.undoes) > 1 for s in plan))

    def restore_page(request: Request, eng: MigrationEngine) -> Response:
        manifest = eng.backups().get(request.path_params["backup_id"])
        notice = eng.backups().notice(manifest.info.backup_id)
        return web.render(request, "restore.html", info=manifest.info, notice=notice,
                          database=eng.dialect.display_url())

    def checks_page(request: Request, eng: MigrationEngine) -> Response:
        run = request.query_params.get("run")
        found = checks.available()
        result = checks.run(run, settings.config) if run in found else None
        return web.render(request, "checks.html", available=found, result=result, run=run)

    def job_page(request: Request) -> Response:
        job = web.jobs.get(request.path_params["job_id"])
        if job is None:
            return PlainTextResponse("404: no such action", status_code=404)
        return web.render(request, "job.html", job=job)

    async def job_events(request: Request) -> Response:
        job = web.jobs.get(request.path_params["job_id"])
        if job is None:
            return PlainTextResponse("404: no such action", status_code=404)

        async def stream() -> AsyncIterator[str]:
            sent = int(request.query_params.get("from", "0") or 0)
            while True:
                lines, done = job.lines[sent:], job.done
                for line in lines:
                    yield "data: " + line.replace("\n", "\ndata: ") + "\n\n"
                sent += len(lines)
                if done and sent >= len(job.lines):
                    yield f"event: end\ndata: {'ok' if job.ok else 'failed'}\n\n"
                    return
                await asyncio.sleep(0.1)

        return StreamingResponse(stream(), media_type="text/event-stream")

    def highlight_css_view(request: Request) -> Response:
        return Response(highlight_css(), media_type="text/css")

    # -- actions ----------------------------------------------------------------------------

    def up(request: Request, form: dict[str, str], _: Job | None) -> tuple[str, Any]:
        target = form.get("target") or None

        def work(eng: MigrationEngine, emit: Emit) -> bool:
            todo = eng.plan(target)
            emit(f"applying {len(todo)} migration(s)" + (f" up to {target}" if target else ""))

            def progress(done: int, total: int, m: Migration,
                         ex: MigrationExecution | None) -> None:
                if ex is None:
                    emit(f"[{done + 1}/{total}] applying {m.id} ...")
                else:
                    emit(f"[{done + 1}/{total}] {ex.status.value} {m.id}"
                         f" ({ex.execution_time * 1000:.1f} ms)"
                         + (f": {ex.error_message}" if ex.error_message else ""))

            done = eng.up(target, progress=progress)
            emit(f"database is at version {eng.get_current_version() or '(none)'}")
            return all(e.status.value != "FAILED" for e in done)

        return ("apply " + (f"up to {target}" if target else "all pending")), work

    def rollback(request: Request, form: dict[str, str], _: Job | None) -> tuple[str, Any]:
        execution_id = form.get("execution_id", "")
        cascade = form.get("cascade") == "1"
        method = form.get("method") or None
        shown = form.get("plan", "")
        confirmed = form.get("confirm") == "yes"

        def work(eng: MigrationEngine, emit: Emit) -> bool:
            def confirm(plan: list[RollbackStep]) -> bool:
                if fingerprint(plan) != shown:
                    raise RollbackRefused("the rollback plan changed since the page showed it;"
                                          " nothing was changed: look at it again")
                for step in plan:
                    for ex in step.undoes:
                        emit(f"will roll back {ex.migration_id} (execution {ex.execution_id})"
                             f" by {step.method}")
                notices = eng.restore_notices(plan)
                for notice in notices:
                    for line in notice.lines():
                        emit(line)
                asks = bool(notices) or any(len(s.undoes) > 1 for s in plan)
                if asks and not confirmed:
                    raise RollbackRefused("not confirmed: tick the box to accept the loss;"
                                          " nothing was changed")
                return True

            done = eng.rollback(execution_id, method=method, cascade=cascade, confirm=confirm)
            if not done:
                emit(f"nothing to undo: execution {execution_id} is not in effect")
            for ex in done:
                emit(f"{ex.status.value} rollback of {ex.migration_id} by {ex.method}"
                     f" ({ex.execution_time * 1000:.1f} ms)"
                     + (f": {ex.error_message}" if ex.error_message else ""))
            emit(f"database is at version {eng.get_current_version() or '(none)'}")
            return all(e.status.value != "FAILED" for e in done)

        return f"roll back execution {execution_id}", work

    def backup_create(request: Request, form: dict[str, str], _: Job | None) -> tuple[str, Any]:
        kind = form.get("type") or None

        def work(eng: MigrationEngine, emit: Emit) -> None:
            chosen = kind or (eng.config.backup if eng.config.backup != "none" else "full")
            emit(f"taking a {chosen} backup ...")
            info = eng.create_backup(chosen)
            emit(f"created backup {info.backup_id} ({human_size(info.size_bytes)})")

        return f"create a {kind or 'default'} backup", work

    def backup_verify(request: Request, form: dict[str, str], _: Job | None) -> tuple[str, Any]:
        backup_id = form.get("backup_id", "")

        def work(eng: MigrationEngine, emit: Emit) -> None:
            emit(f"verifying {backup_id} and its chain ...")
            try:
                chain = eng.verify_backup(backup_id)
            except MigError as exc:
                web.verified[backup_id] = (False, str(exc))
                raise
            for info in chain:
                web.verified[info.backup_id] = (True, "checksums OK")
                emit(f"{info.backup_id}: OK")

        return f"verify backup {backup_id}", work

    def backup_restore(request: Request, form: dict[str, str], _: Job | None) -> tuple[
            str, Any]:
        backup_id = form.get("backup_id", "")
        confirmed = form.get("confirm") == "yes"

        def work(eng: MigrationEngine, emit: Emit) -> None:
            for line in eng.backups().notice(backup_id).lines():
                emit(line)
            record = eng.restore_backup(backup_id, confirm=confirmed)
            emit(f"restored {backup_id} (execution {record.execution_id}); database is at"
                 f" version {eng.get_current_version() or '(none)'}")

        return f"restore backup {backup_id}", work

    def backup_prune(request: Request, form: dict[str, str], _: Job | None) -> tuple[str, Any]:
        def number(name: str) -> int | None:
            value = form.get(name, "").strip()
            if not value:
                return None
            if not value.isdigit():
                raise ConfigError(f"{name.replace('_', ' ')} must be a whole number >= 0")
            return int(value)

        keep_days, keep_count = number("keep_days"), number("keep_count")

        def work(eng: MigrationEngine, emit: Emit) -> None:
            removed = eng.cleanup_old_backups(keep_days, keep_count)
            report = eng.backups().last_prune
            emit(f"removed {removed} backup(s)" + "".join(f"\n  {b}" for b in report.removed))
            for item in report.reclaimed:
                emit(f"reclaimed {item.describe()}")
            for backup_id in report.forgotten:
                emit(f"forgot {backup_id}: deleted outside mig (recorded in the history)")
            for d in report.damaged:
                emit(f"kept damaged backup {d.backup_id}: {d.error}")

        return "prune backups", work

    routes = [
        Route("/", page(status)),
        Route("/plan", page(plan_page)),
        Route("/history", page(history)),
        Route("/graph", page(graph)),
        Route("/backups", page(backups)),
        # ``path``: ids may hold a slash (Sqitch changes such as ``schemas/users``).
        Route("/migrations/{id:path}", page(migration)),
        Route("/rollback/{execution_id}", page(rollback_page)),
        Route("/backups/{backup_id}/restore", page(restore_page)),
        Route("/checks", page(checks_page)),
        Route("/jobs/{job_id}", job_page),
        Route("/jobs/{job_id}/events", job_events),
        Route("/highlight.css", highlight_css_view),
        Route("/actions/up", action(up), methods=["POST"]),
        Route("/actions/rollback", action(rollback), methods=["POST"]),
        Route("/actions/backup/create", action(backup_create), methods=["POST"]),
        Route("/actions/backup/verify", action(backup_verify), methods=["POST"]),
        Route("/actions/backup/restore", action(backup_restore), methods=["POST"]),
        Route("/actions/backup/prune", action(backup_prune), methods=["POST"]),
        Mount("/static", StaticFiles(directory=str(HERE / "static")), name="static"),
    ]
    app = Starlette(routes=routes,
                    middleware=[Middleware(BaseHTTPMiddleware, dispatch=web.guard.middleware)])
    app.state.web = web
    return app


def _matches(row: MigrationExecution, filters: dict[str, str]) -> bool:
    if filters["operation"] and row.operation.value != filters["operation"]:
        return False
    if filters["status"] and row.status.value != filters["status"]:
        return False
    if filters["migration"] and filters["migration"].lower() not in row.migration_id.lower():
        return False
    return not (filters["actor"] and filters["actor"].lower() not in (row.actor or "").lower())
