"""Fixtures for the web plugin's tests: a real server (uvicorn in a thread, on 127.0.0.1 and
a free port) over a copy of the bundled example, and a small HTTP client with cookies."""

from __future__ import annotations

import http.cookiejar
import re
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import pytest

from mig.config import load_config
from mig.testing import Project

TOKEN = "test-token-0123456789"
EXAMPLE_CONFIG = """\
[mig]
database = "sqlite:///app.db"
migrations_dir = "migrations"
backups_dir = "backups"
backup = "full"
rollback = "auto"
lock_timeout = 10
"""


@dataclass
class Reply:
    status: int
    body: str
    headers: dict[str, str]

    def csrf(self) -> str:
        found = re.search(r'name="csrf" value="([0-9a-f]+)"', self.body)
        assert found, "the page has no CSRF field"
        return found.group(1)


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args: Any, **kwargs: Any) -> None:
        return None


class Client:
    """HTTP to the test server, keeping cookies like a browser; redirects not followed."""

    def __init__(self, base: str) -> None:
        self.base = base
        self.jar = http.cookiejar.CookieJar()
        self.opener = urllib.request.build_opener(
            urllib.request.HTTPCookieProcessor(self.jar), _NoRedirect())

    def request(self, path: str, data: dict[str, str] | None = None,
                headers: dict[str, str] | None = None) -> Reply:
        body = urllib.parse.urlencode(data).encode() if data is not None else None
        req = urllib.request.Request(self.base + path, data=body, headers=headers or {})
        try:
            with self.opener.open(req, timeout=30) as resp:
                return Reply(resp.status, resp.read().decode(), dict(resp.headers))
        except urllib.error.HTTPError as exc:
            return Reply(exc.code, exc.read().decode(), dict(exc.headers))

    def get(self, path: str, **kw: Any) -> Reply:
        return self.request(path, **kw)

    def post(self, path: str, data: dict[str, str], **kw: Any) -> Reply:
        return self.request(path, data=data, **kw)

    def login(self, token: str = TOKEN) -> None:
        reply = self.get(f"/?token={token}")
        assert reply.status == 303, reply

    def wait_job(self, location: str, timeout: float = 60) -> str:
        """The job page once its action finished."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            page = self.get(location).body
            if 'id="state" class="ok"' in page or 'id="state" class="error"' in page:
                return page
            time.sleep(0.1)
        raise AssertionError(f"{location} did not finish in {timeout} s")


Serve = Callable[..., Client]


@pytest.fixture
def example(example_project: Project) -> Project:
    """The bundled example with full backups, all applied."""
    example_project.write_config(EXAMPLE_CONFIG)
    with example_project.engine() as eng:
        eng.up()
    return example_project


@pytest.fixture
def serve() -> Iterator[Serve]:
    """``serve(project, read_only=False, token=TOKEN)``: a real server in a thread; a client."""
    import uvicorn

    from mig_web.app import create_app
    from mig_web.server import resolve

    servers: list[tuple[uvicorn.Server, threading.Thread]] = []

    def start(project: Project, *, read_only: bool = False, token: str | None = TOKEN,
              database: str | None = None) -> Client:
        config = load_config(project.config_path, database=database)
        settings = resolve(config, port=0, read_only=read_only, no_token=token is None,
                           environ={"MIG_WEB_TOKEN": token} if token else {})
        server = uvicorn.Server(uvicorn.Config(create_app(settings), host="127.0.0.1",
                                               port=settings.port, log_level="warning"))
        thread = threading.Thread(target=server.run, daemon=True)
        thread.start()
        servers.append((server, thread))
        deadline = time.monotonic() + 20
        while not server.started:
            assert time.monotonic() < deadline, "the server did not start"
            time.sleep(0.02)
        return Client(f"http://127.0.0.1:{settings.port}")

    yield start
    for server, thread in servers:
        server.should_exit = True
        thread.join(10)
