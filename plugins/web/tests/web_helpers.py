"""Helpers for the web plugin's tests: a small HTTP client that keeps cookies like a browser."""

from __future__ import annotations

import http.cookiejar
import re
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

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
