"""GET /status/…: the public status page, without sign-in, read-only.

The page is rendered once per change, not per request: the files (bot/views/status_site.py, handed in by the
composition root as `render`) are kept in memory with the page's version they were rendered at, and the store's
version counter is read at most once a second — so a change made by any process (another replica, the console,
the scheduler) is served within about a second, and a request never waits for more than that read. Every answer
carries a Content-Security-Policy that allows nothing but this origin's stylesheet: no script runs, whatever a
title says."""
from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Hashable, Mapping
from typing import Any, Protocol

from starlette.requests import Request
from starlette.responses import PlainTextResponse, RedirectResponse, Response
from starlette.types import Receive, Scope, Send

CSP = ("default-src 'none'; style-src 'self'; img-src 'self'; base-uri 'none'; form-action 'none'; "
       "frame-ancestors 'none'")
HEADERS = {"Content-Security-Policy": CSP, "X-Content-Type-Options": "nosniff", "Referrer-Policy": "no-referrer",
           "Cache-Control": "public, max-age=5"}
CHECK_EVERY_S = 1.0


class StatusFile(Protocol):
    body: bytes
    media_type: str


class StatusSite:
    """An ASGI app mounted at /status. `version()` reads the store's counter; `render()` makes every file."""

    def __init__(self, version: Callable[[], Hashable], render: Callable[[], Mapping[str, Any]],
                 check_every_s: float = CHECK_EVERY_S):
        self.version, self.render, self.check_every_s = version, render, check_every_s
        self._files: Mapping[str, StatusFile] = {}
        self._rendered_at: Hashable | None = None
        self._checked = 0.0
        self._lock = asyncio.Lock()

    async def files(self) -> Mapping[str, StatusFile]:
        if time.monotonic() - self._checked < self.check_every_s and self._rendered_at is not None:
            return self._files
        async with self._lock:  # one reader checks and renders; the others wait for its result
            if time.monotonic() - self._checked >= self.check_every_s or self._rendered_at is None:
                current = await asyncio.to_thread(self.version)
                if current != self._rendered_at:
                    self._files = await asyncio.to_thread(self.render)
                    self._rendered_at = current
                self._checked = time.monotonic()
        return self._files

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        started = time.perf_counter()
        request = Request(scope, receive)
        path = request.url.path.removeprefix("/status")
        if request.method not in ("GET", "HEAD"):
            response: Response = PlainTextResponse("not found", status_code=404)
        elif path == "":
            response = RedirectResponse("/status/", status_code=308)
        else:
            files = await self.files()
            found = files.get(path.removeprefix("/"))
            if found is None and path.removeprefix("/") + "/" in files:  # a page asked for without its slash
                response = RedirectResponse(f"/status{path}/", status_code=308, headers=HEADERS)
            elif found is None:
                response = PlainTextResponse("not found", status_code=404, headers=HEADERS)
            else:
                headers = dict(HEADERS)
                if found.media_type.startswith("application/json"):
                    headers["Access-Control-Allow-Origin"] = "*"  # widgets on other sites read it, as Statuspage's
                response = Response(found.body, media_type=found.media_type, headers=headers)
        # How long this answer took inside opsbot (a browser's devtools and bench/status_page.py read it).
        response.headers["Server-Timing"] = f"app;dur={(time.perf_counter() - started) * 1000:.2f}"
        await response(scope, receive, send)
