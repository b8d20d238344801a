"""Serving the HTTP app with uvicorn until SIGTERM (or Ctrl-C), gracefully: no new deliveries are taken (uvicorn
closes its listening socket; `on_stop` — Socket Mode's close — runs at once), the requests under way finish, then
the app's lifespan shutdown (bot/http/app.py) waits for acked work within the shutdown timeout."""
from __future__ import annotations

import math
import os
import signal
from collections.abc import Awaitable, Callable, Sequence
from typing import Any, cast

import uvicorn
from starlette.types import ASGIApp, Receive, Scope, Send
from uvicorn.middleware.proxy_headers import ProxyHeadersMiddleware

from bot.http.web import PEER


class OpsbotServer(uvicorn.Server):
    """uvicorn's server, running `on_stop` the moment it is told to stop: uvicorn first waits for open HTTP
    connections and only then runs the lifespan's shutdown, and Socket Mode's deliveries would keep arriving."""

    def __init__(self, config: uvicorn.Config, on_stop: Callable[[], Awaitable[None]] | None = None):
        super().__init__(config)
        self.on_stop = on_stop

    async def shutdown(self, sockets: Any = None) -> None:
        if self.on_stop is not None:
            await self.on_stop()
        await super().shutdown(sockets)


class KeepPeer:
    """uvicorn's proxy headers (X-Forwarded-For/-Proto from a trusted proxy: the client's address, https for Secure
    cookies), with the TCP peer's own address kept in scope[PEER] first. The web view trusts its SSO header by who
    connected: after the rewrite a sidecar proxy on 127.0.0.1 would look like the browser behind it, and the
    header it sets would be ignored."""

    def __init__(self, app: ASGIApp, trusted: Sequence[str]):
        self.app = ProxyHeadersMiddleware(cast(Any, app), trusted_hosts=list(trusted))

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "lifespan":
            scope[PEER] = scope["client"][0] if scope.get("client") else ""
        await self.app(cast(Any, scope), cast(Any, receive), cast(Any, send))


class StatusFirst:
    """The public status page is the one path read by many at once (bench/status_page.py: 200 clients): its
    requests go straight to it, past the proxy headers (it answers everyone alike and reads no address) and
    Starlette's stack (StatusSite answers every case itself, 404s included). The app's routes still name /status:
    they are the table of what is served, and serve it where the app runs without this (tests in-process)."""

    def __init__(self, app: ASGIApp, status: ASGIApp):
        self.app, self.status = app, status

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        path = scope.get("path", "")
        if scope["type"] == "http" and (path == "/status" or path.startswith("/status/")):
            await self.status(scope, receive, send)
        else:
            await self.app(scope, receive, send)


def as_served(app: ASGIApp, trusted_proxies: Sequence[str] = (), status: ASGIApp | None = None) -> ASGIApp:
    """The app as `opsbot serve` serves it: the status page first, then the proxy headers, then the app."""
    kept = behind_proxies(app, trusted_proxies)
    return kept if status is None else StatusFirst(kept, status)


def behind_proxies(app: ASGIApp, trusted_proxies: Sequence[str] = ()) -> KeepPeer:
    """The app as served: forwarded headers honoured from uvicorn's usual hosts (FORWARDED_ALLOW_IPS, else
    127.0.0.1) and from OPSBOT_WEB_TRUSTED_PROXIES, which are proxies by definition."""
    usual = [host.strip() for host in os.environ.get("FORWARDED_ALLOW_IPS", "127.0.0.1").split(",") if host.strip()]
    return KeepPeer(app, [*usual, *trusted_proxies])


def exit_cleanly(signum: int, frame: object) -> None:
    raise SystemExit(0)


def server_config(app: ASGIApp, host: str, port: int, shutdown_timeout: float,
                  trusted_proxies: Sequence[str] = (), status: ASGIApp | None = None) -> uvicorn.Config:
    """uvicorn's settings for `opsbot serve`. log_config=None: uvicorn's own lines go through opsbot's logging
    (OPSBOT_LOG_FORMAT, redaction) too. proxy_headers=False: behind_proxies() applies them, after keeping the peer."""
    return uvicorn.Config(as_served(app, trusted_proxies, status), host=host, port=port, log_level="warning",
                          log_config=None, lifespan="on", proxy_headers=False,
                          timeout_graceful_shutdown=math.ceil(shutdown_timeout))


def run(app: ASGIApp, host: str, port: int, shutdown_timeout: float,
        on_stop: Callable[[], Awaitable[None]] | None = None, trusted_proxies: Sequence[str] = (),
        status: ASGIApp | None = None) -> None:
    """Serve until stopped. A start that fails (the reason is logged) exits 3, as uvicorn.run does."""
    # uvicorn handles SIGTERM/SIGINT: it stops accepting, lets open requests finish, then runs the lifespan
    # shutdown, which waits for acked work. Afterwards it re-raises the signal under the handlers it found: make
    # those a clean exit, so the caller's `finally` still runs (the scheduler releases its lock) and no traceback.
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, exit_cleanly)
    server = OpsbotServer(server_config(app, host, port, shutdown_timeout, trusted_proxies, status), on_stop)
    server.run()
    if not server.started:
        raise SystemExit(3)
