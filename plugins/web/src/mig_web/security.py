"""Access token, CSRF tokens and masking: what stands between the page and the database.

The token arrives once in the printed URL (``?token=...``) and is kept in an HttpOnly,
SameSite=Strict cookie; scripts may send ``Authorization: Bearer <token>`` instead. Every
form carries a CSRF token derived from the browser's session cookie and a secret made at
start; a POST without the right one is refused (403), as is every POST in read-only mode.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import time
from collections.abc import Awaitable, Callable
from typing import Any

from starlette.requests import Request
from starlette.responses import PlainTextResponse, RedirectResponse, Response

TOKEN_COOKIE = "mig_token"
SESSION_COOKIE = "mig_session"
CSRF_FIELD = "csrf"


class Guard:
    """Checks the access token on every request and the CSRF token on every action."""

    def __init__(self, token: str | None, read_only: bool) -> None:
        self.token = token
        self.read_only = read_only
        self.secret = secrets.token_bytes(32)

    def authorised(self, request: Request) -> bool:
        if self.token is None:
            return True
        given = (request.cookies.get(TOKEN_COOKIE) or request.query_params.get("token")
                 or _bearer(request))
        return given is not None and hmac.compare_digest(given.encode(), self.token.encode())

    def csrf_token(self, session: str) -> str:
        return hmac.new(self.secret, session.encode(), hashlib.sha256).hexdigest()

    def csrf_ok(self, request: Request, given: str | None) -> bool:
        session = request.cookies.get(SESSION_COOKIE)
        if not session or not given:
            return False
        return hmac.compare_digest(self.csrf_token(session), given)

    async def middleware(self, request: Request,
                         call_next: Callable[[Request], Awaitable[Response]]) -> Response:
        start = time.perf_counter()
        if request.url.path.startswith("/static/"):
            return await call_next(request)
        if not self.authorised(request):
            return PlainTextResponse(
                "401: open the URL `mig serve` printed (it carries the access token)",
                status_code=401, headers={"WWW-Authenticate": "Bearer"})
        if request.method == "POST" and not _same_origin(request):
            return PlainTextResponse("403: cross-origin request refused", status_code=403)
        session = request.cookies.get(SESSION_COOKIE)
        new_session = None
        if not session:
            new_session = secrets.token_urlsafe(24)
            # The CSRF token of the page being rendered must match the cookie it sets.
            request.scope.setdefault("state", {})["session"] = new_session
        if "token" in request.query_params and request.method == "GET" and self.token:
            # Keep the token in a cookie, out of the address bar and the history.
            query = "&".join(f"{k}={v}" for k, v in request.query_params.items() if k != "token")
            response: Response = RedirectResponse(
                request.url.path + (f"?{query}" if query else ""), status_code=303)
        else:
            response = await call_next(request)
        if self.token and request.query_params.get("token") == self.token:
            response.set_cookie(TOKEN_COOKIE, self.token, httponly=True, samesite="strict")
        if new_session:
            response.set_cookie(SESSION_COOKIE, new_session, httponly=True, samesite="strict")
        response.headers.setdefault("X-Frame-Options", "DENY")
        # Not "no-referrer": with it a browser sends "Origin: null", which is refused.
        response.headers.setdefault("Referrer-Policy", "same-origin")
        response.headers.setdefault("Cache-Control", "no-store")
        response.headers["Server-Timing"] = f"app;dur={(time.perf_counter() - start) * 1000:.1f}"
        return response


def session_of(request: Request) -> str:
    """The browser's session id (made by the middleware for a first visit)."""
    state: dict[str, Any] = request.scope.get("state", {})
    return request.cookies.get(SESSION_COOKIE) or str(state.get("session", ""))


def _bearer(request: Request) -> str | None:
    header = request.headers.get("authorization", "")
    return header[7:].strip() if header.lower().startswith("bearer ") else None


def _same_origin(request: Request) -> bool:
    origin = request.headers.get("origin")
    if origin is None:  # not sent by every browser for same-origin forms
        return True
    host = request.headers.get("host", "")
    return origin.split("://", 1)[-1] == host


def scrub(text: str, secrets_: list[str]) -> str:
    """``text`` with every secret (the database password) replaced by ``***``."""
    for secret in secrets_:
        if secret:
            text = text.replace(secret, "***")
    return text
