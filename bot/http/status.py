"""GET /status/…: the public status page, without sign-in, read-only.

The page is rendered once per change, not per request: the files (bot/views/status_site.py, handed in by the
composition root as `render`) are kept in memory with the page's version they were rendered at, and the store's
version counter is read at most once a second — so a change made by any process (another replica, the console,
the scheduler) is served within about a second, and a request never waits for more than that read. Every answer
carries a Content-Security-Policy that allows nothing but this origin's stylesheet: no script runs, whatever a
title says."""
from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Hashable, Mapping
from typing import Any, Protocol

from starlette.responses import PlainTextResponse, RedirectResponse, Response
from starlette.types import Receive, Scope, Send

CSP = ("default-src 'none'; style-src 'self'; img-src 'self'; base-uri 'none'; form-action 'none'; "
       "frame-ancestors 'none'")
HEADERS = {"Content-Security-Policy": CSP, "X-Content-Type-Options": "nosniff", "Referrer-Policy": "no-referrer",
           "Cache-Control": "public, max-age=5"}
CHECK_EVERY_S = 1.0
RETRY_RENDER_S = 5.0

log = logging.getLogger(__name__)


class StatusFile(Protocol):
    body: bytes
    media_type: str


class Ready:
    """A file as it goes on the wire: its body and its headers, built once per rendering rather than per request."""

    __slots__ = ("body", "headers")

    def __init__(self, file: StatusFile):
        self.body = file.body
        headers = {**HEADERS, "Content-Type": file.media_type, "Content-Length": str(len(file.body))}
        if file.media_type.startswith("application/json"):
            headers["Access-Control-Allow-Origin"] = "*"  # widgets on other sites read it, as Statuspage's
        self.headers = [(k.lower().encode("latin-1"), v.encode("latin-1")) for k, v in headers.items()]


class StatusSite:
    """An ASGI app mounted at /status. `version()` reads the store's counter; `render()` makes every file.

    When the store cannot be read, the page last rendered goes on being served (the outage it reports may be the
    store's own); only a process that never rendered it answers 503."""

    def __init__(self, version: Callable[[], Hashable], render: Callable[[], Mapping[str, Any]],
                 check_every_s: float = CHECK_EVERY_S):
        self.version, self.render, self.check_every_s = version, render, check_every_s
        self._files: dict[str, Ready] = {}
        self._rendered_at: Hashable | None = None
        self._unrenderable: Hashable | None = None  # a version whose rendering failed, tried again at _retry_at
        self._retry_at = 0.0
        self._checked = 0.0
        self._failing = False
        self._lock = asyncio.Lock()

    async def files(self) -> Mapping[str, Ready]:
        if self._rendered_at is not None and (time.monotonic() - self._checked < self.check_every_s
                                              or self._lock.locked()):
            return self._files  # current, or being checked by another request: only that one waits for the store
        async with self._lock:  # one reader checks and renders; before the first rendering the others wait for it
            if time.monotonic() - self._checked >= self.check_every_s or self._rendered_at is None:
                try:
                    current = await asyncio.to_thread(self.version)
                    retry = current != self._unrenderable or time.monotonic() >= self._retry_at
                    if current != self._rendered_at and retry:
                        await self._render(current)
                    if self._failing:
                        log.warning("status page: the store answers again; the page is current")
                    self._failing = False
                except Exception:  # kept quiet after the first: the store's outage is logged where it is used
                    if not self._failing:
                        log.exception("status page: cannot read the store; serving the page last rendered")
                    self._failing = True
                self._checked = time.monotonic()
        return self._files

    async def _render(self, version: Hashable) -> None:
        """The files at `version`. Should rendering fail (a bug, or text no renderer takes), that is logged as such
        and the page last rendered goes on being served (none yet: 503). That version is tried again after
        RETRY_RENDER_S, not every second: a store that blinked mid-rendering heals within seconds, a bug costs one
        rendering per period."""
        try:
            files = await asyncio.to_thread(self._ready)
        except Exception:
            if version != self._unrenderable:  # said once per version
                log.exception("status page: could not render version %s; serving the page last rendered", version)
            self._unrenderable, self._retry_at = version, time.monotonic() + RETRY_RENDER_S
            return
        self._files, self._rendered_at = files, version

    def _ready(self) -> dict[str, Ready]:
        return {path: Ready(file) for path, file in self.render().items()}

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        started = time.perf_counter()
        path = scope["path"].removeprefix("/status")
        found = None
        if scope["method"] not in ("GET", "HEAD"):
            response: Response | None = PlainTextResponse("not found", status_code=404)
        elif path == "":
            response = RedirectResponse("/status/", status_code=308)
        else:
            files = await self.files()
            found = files.get(path.removeprefix("/"))
            if found is not None:
                response = None
            elif not files:
                response = PlainTextResponse("the status page is not available yet", status_code=503,
                                             headers={**HEADERS, "Retry-After": "5"})
            elif path.removeprefix("/") + "/" in files:  # a page asked for without its slash
                response = RedirectResponse(f"/status{path}/", status_code=308, headers=HEADERS)
            else:
                response = PlainTextResponse("not found", status_code=404, headers=HEADERS)
        # How long this answer took inside opsbot (a browser's devtools and bench/status_page.py read it).
        timing = f"app;dur={(time.perf_counter() - started) * 1000:.2f}"
        if response is not None:
            response.headers["Server-Timing"] = timing
            await response(scope, receive, send)
            return
        assert found is not None
        # The common answer sent as it is: no Response object, headers made at rendering (see bench/status_page.py).
        await send({"type": "http.response.start", "status": 200,
                    "headers": [*found.headers, (b"server-timing", timing.encode())]})
        await send({"type": "http.response.body", "body": b"" if scope["method"] == "HEAD" else found.body})
