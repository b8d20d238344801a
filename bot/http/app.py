"""The HTTP application of `opsbot serve`, Slack or not; its routes, in one table (`create_app`):

    GET  /healthz              {"ok", "scheduler", "store"?, "socket_mode"?}: 503 while the store is unreachable
                               (the scheduler then says "standby", never "leader")
    GET  /metrics              Prometheus' text format, from memory
    POST /alerts/alertmanager  alert intake (bot/alerts/endpoint.py: body capped, source authenticated, then
    POST /alerts/webhook         parsed; the endpoint answers other methods and names itself, as JSON)
    POST /slack/events         only with Slack over HTTP (bot/http/slack.py)
    GET  /status/…             the public status page, its incidents and the Statuspage v2 JSON (bot/http/status.py;
                               `opsbot serve` answers it ahead of this table: bot/http/server.py StatusFirst)
    GET  /ui/…                 the signed-in, read-only web view (bot/http/web.py)

Anything else is a plain 404 (bot/http/routing.py); a malformed request never gets a 500.

The lifespan starts Slack (its client session, auth.test, Socket Mode's WebSocket), the alert worker (which
applies what an earlier process left queued) and the store figures' thread, then keeps start-up objects out of
the garbage collector. On the way out (SIGTERM: bot/http/server.py), in this order: Slack takes no new deliveries,
its acked work finishes within the shutdown timeout, queued alerts are applied, Slack's session is closed, the
figures' thread stops.
"""
from __future__ import annotations

import asyncio
import gc
import json
import sys
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import TYPE_CHECKING, Protocol

from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from starlette.routing import BaseRoute, Route
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from bot.errors import UsageError
from bot.http.routing import Exact, not_found
from bot.http.slack import slack_routes

if TYPE_CHECKING:
    from bot.alerts.endpoint import AlertEndpoint
    from bot.http.status import StatusSite
    from bot.http.web import WebSite
    from bot.metrics import Metrics
    from bot.slack.surface import SlackSurface


class Scheduler(Protocol):
    is_leader: bool


def create_app(metrics: Metrics, store_up: Callable[[], bool], alerts: AlertEndpoint,
               scheduler: Scheduler | None = None, slack: SlackSurface | None = None,
               shutdown_timeout: float = 30.0, status: StatusSite | None = None,
               calendar: Callable[[str, str], bytes | None] | None = None, web: WebSite | None = None) -> Starlette:
    """Built by the composition root (bot/app.py). Without `slack`, no Slack route and no Slack start-up; without
    `scheduler`, /healthz says it is off in this process."""

    async def healthz(request: Request) -> Response:
        up = await asyncio.to_thread(store_up)
        # Leadership is a lock in the database: while it is unreachable this process leads nothing (a tick can
        # claim no reminder, and the lock may already be another replica's), whatever it last knew.
        role = "off" if scheduler is None else ("leader" if up and scheduler.is_leader else "standby")
        body = {"ok": up, "scheduler": role} | ({} if up else {"store": "unreachable"}) | (
            await slack.health() if slack is not None else {})
        return Response(json.dumps(body), status_code=200 if up else 503, media_type="application/json")

    async def exposition(request: Request) -> Response:
        # On the event loop: it reads only memory (the store's figures are kept fresh by a thread, started with
        # the lifespan), and a hop to a thread would wait for the GIL behind the commands' work.
        return Response(metrics.exposition(), media_type=metrics.content_type)

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        figures = metrics.store_figures
        if slack is not None:
            await slack.start()  # an app token Slack refuses stops the start here (StartRefusal says why)
        alerts.start()
        if figures is not None:
            await asyncio.to_thread(figures.start)
        freeze_startup_objects()
        yield
        if slack is not None:
            await slack.stop_deliveries()
            await slack.finish(shutdown_timeout)
        await alerts.drain(shutdown_timeout)
        if slack is not None:
            await slack.close()
        if figures is not None:
            await asyncio.to_thread(figures.stop)

    routes: list[BaseRoute] = [
        Exact("/healthz", healthz, methods=["GET"]),
        Exact("/metrics", exposition, methods=["GET"]),
        Route("/alerts/{name:path}", alerts),
        *slack_routes(slack),
        *([Route("/oncall/{name}.ics", _calendar_feed(calendar), methods=["GET"])] if calendar else []),
        *([Route("/status", status), Route("/status/{path:path}", status)] if status is not None else []),
        *([Route("/ui", web), Route("/ui/{path:path}", web)] if web is not None else []),
    ]
    app = Starlette(routes=routes, middleware=[Middleware(StartRefusal)], exception_handlers={404: not_found}, lifespan=lifespan)
    app.router.redirect_slashes = False  # a path is answered as written: /healthz/ is not /healthz
    return app


def freeze_startup_objects() -> None:
    """What start-up made (modules, the catalog, Bolt's listeners) lives as long as the process: keep it out of
    the garbage collector's full passes, which otherwise stall every request in flight (measured: ~60 ms a
    pass under bench/ack_latency.py; ~10 ms once frozen)."""
    gc.collect()
    gc.freeze()


class StartRefusal:
    """A start refused for a reason the operator must fix (a UsageError, e.g. Slack refusing the app token) is
    reported as that one sentence — the line uvicorn logs before it exits — instead of Starlette's traceback."""

    def __init__(self, app: ASGIApp):
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "lifespan":
            await self.app(scope, receive, send)
            return

        async def say_why(message: Message) -> None:
            error = sys.exc_info()[1]  # Starlette reports a failed start from inside its `except` block
            if message["type"] == "lifespan.startup.failed" and isinstance(error, UsageError):
                message = {**message, "message": str(error)}
            await send(message)

        try:
            await self.app(scope, receive, say_why)
        except UsageError:
            pass  # said above; uvicorn does not start


def _calendar_feed(calendar: Callable[[str, str], bytes | None]):
    """GET /oncall/<schedule>.ics?token=…: the schedule for calendar apps; a wrong or missing token is a 404 like an
    unknown schedule (nothing says which schedules exist). Built off the event loop: it reads the catalog only."""
    async def feed(request: Request) -> Response:
        body = await asyncio.to_thread(calendar, request.path_params["name"], request.query_params.get("token", ""))
        if body is None:
            return PlainTextResponse("not found", status_code=404)
        return Response(body, media_type="text/calendar; charset=utf-8")

    return feed
