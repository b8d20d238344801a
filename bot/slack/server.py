"""`opsbot serve`: the Bolt app over HTTP (uvicorn, POST /slack/events) or Socket Mode, and in both modes the
HTTP endpoints an operator needs beside it on `PORT`: GET /healthz, GET /metrics, POST /alerts/alertmanager and
/alerts/webhook. In Socket Mode Slack's deliveries come over the WebSocket, which the server's lifespan opens, and
/slack/events answers 404.

SIGTERM (or Ctrl-C) stops it gracefully: no new deliveries are taken (uvicorn closes its listening socket; Socket
Mode closes its WebSocket), work already acked finishes within the shutdown timeout, then the HTTP session and
(in the caller) the scheduler and its leader lock are released.
"""
from __future__ import annotations

import asyncio
import gc
import json
import logging
import math
import signal
from collections.abc import Callable
from typing import TYPE_CHECKING

import aiohttp
import uvicorn
from slack_bolt.adapter.asgi.async_handler import AsyncSlackRequestHandler
from slack_bolt.async_app import AsyncApp

from bot.config import SlackSettings
from bot.errors import UsageError
from bot.scheduler.runner import SchedulerRunner
from bot.slack.alerts import alert_endpoint
from bot.slack.app import create_bolt_app, pipeline_for, warm_up
from bot.slack.gate import SlackGate
from bot.slack.middleware import Pipeline
from bot.slack.socket_mode import SocketMode

if TYPE_CHECKING:
    from bot.alerts.endpoint import AlertEndpoint
    from bot.app import Opsbot
    from bot.metrics import Metrics

log = logging.getLogger("opsbot.slack")


def asgi_app(bolt: AsyncApp, signing_secret: str | None, path: str = "/slack/events",
             scheduler: SchedulerRunner | None = None, store_up: Callable[[], bool] | None = None,
             metrics: Metrics | None = None, pipeline: Pipeline | None = None, shutdown_timeout: float = 30.0,
             alerts: AlertEndpoint | None = None, socket: SocketMode | None = None):
    """Bolt's ASGI handler plus a health endpoint for load balancers and orchestrators: 503 while the database
    cannot be reached; it also says whether this process is the scheduler leader. With `metrics`, GET /metrics
    in Prometheus' text format. With `pipeline`, shutting down waits for its acked work. With `alerts`,
    POST /alerts/alertmanager and /alerts/webhook (bot/alerts/endpoint.py). With `socket` (Socket Mode, no
    signing secret), Slack's deliveries come over the WebSocket the lifespan opens instead of POST `path`."""
    slack = SlackGate(signing_secret, AsyncSlackRequestHandler(bolt, path=path)) if signing_secret else None

    async def app(scope, receive, send):
        if scope["type"] == "lifespan":
            await lifespan(bolt, receive, send, pipeline, shutdown_timeout, alerts, socket, metrics)
            return
        if scope["type"] == "http" and scope["path"].startswith("/alerts/") and alerts:
            await alerts(scope, receive, send)
            return
        if scope["type"] == "http" and scope["method"] == "GET" and scope["path"] == "/metrics" and metrics:
            # On the event loop: it reads only memory (the store's figures are kept fresh by a thread, started
            # with the lifespan), and a hop to a thread would wait for the GIL behind the commands' work.
            body = metrics.exposition()
            await send({"type": "http.response.start", "status": 200,
                        "headers": [(b"content-type", metrics.content_type.encode())]})
            await send({"type": "http.response.body", "body": body})
            return
        if scope["type"] == "http" and scope["method"] == "GET" and scope["path"] == "/healthz":
            up = True if store_up is None else await asyncio.to_thread(store_up)
            role = "off" if scheduler is None else ("leader" if scheduler.is_leader else "standby")
            body = {"ok": up, "scheduler": role} | ({} if up else {"store": "unreachable"}) | (
                {"socket_mode": await socket.state()} if socket else {})
            await send({"type": "http.response.start", "status": 200 if up else 503,
                        "headers": [(b"content-type", b"application/json")]})
            await send({"type": "http.response.body", "body": json.dumps(body).encode()})
            return
        if scope["type"] == "http" and scope["method"] == "POST" and scope["path"] == path and slack:
            await slack(scope, receive, send)
            return
        await send({"type": "http.response.start", "status": 404, "headers": [(b"content-type", b"text/plain")]})
        await send({"type": "http.response.body", "body": b"not found"})

    return app


async def lifespan(bolt: AsyncApp, receive, send, pipeline: Pipeline | None = None,
                   shutdown_timeout: float = 30.0, alerts: AlertEndpoint | None = None,
                   socket: SocketMode | None = None, metrics: Metrics | None = None) -> None:
    """One HTTP session for every Slack call, made inside the server's event loop and closed at exit — after
    the work already acked has finished (or the shutdown timeout has passed). In Socket Mode, the WebSocket is
    opened at start (a refused app token stops the start) and closed first on the way out, so no delivery arrives
    after that (OpsbotServer closes it as soon as the server is told to stop)."""
    while True:
        message = await receive()
        if message["type"] == "lifespan.startup":
            bolt.client.session = aiohttp.ClientSession()
            await warm_up(bolt)  # auth.test now, so the first command does not wait for it
            if socket is not None:
                try:
                    await socket.open()
                except UsageError as error:
                    await bolt.client.session.close()
                    await send({"type": "lifespan.startup.failed", "message": str(error)})
                    return
            if alerts is not None:
                alerts.start()  # applies what a previous process left queued
            if metrics is not None and metrics.store_figures is not None:
                await asyncio.to_thread(metrics.store_figures.start)
            freeze_startup_objects()
            await send({"type": "lifespan.startup.complete"})
        elif message["type"] == "lifespan.shutdown":
            if socket is not None:
                await socket.close()  # no new deliveries from here on
            if pipeline is not None:
                await finish_in_flight(pipeline, shutdown_timeout)
            if alerts is not None:
                await alerts.drain(shutdown_timeout)
            if bolt.client.session is not None:
                await bolt.client.session.close()
            if metrics is not None and metrics.store_figures is not None:
                await asyncio.to_thread(metrics.store_figures.stop)
            await send({"type": "lifespan.shutdown.complete"})
            return


async def finish_in_flight(pipeline: Pipeline, timeout: float) -> None:
    if pipeline.in_flight:
        log.info("shutting down: finishing %d acked deliveries (up to %g s)", pipeline.in_flight, timeout)
    if not await pipeline.drain(timeout):
        log.warning("shutting down with %d deliveries unfinished after %g s", pipeline.in_flight, timeout)


def freeze_startup_objects() -> None:
    """What start-up made (modules, the catalog, Bolt's listeners) lives as long as the process: keep it out of
    the garbage collector's full passes, which otherwise stall every request in flight (measured: ~60 ms a
    pass under bench/ack_latency.py; ~10 ms once frozen)."""
    gc.collect()
    gc.freeze()


def check(slack: SlackSettings, socket: bool) -> None:
    missing = []
    if not slack.slack_bot_token:
        missing.append("SLACK_BOT_TOKEN")
    if socket and not slack.slack_app_token:
        missing.append("SLACK_APP_TOKEN")
    if not socket and not slack.slack_signing_secret:
        missing.append("SLACK_SIGNING_SECRET")
    if missing:
        raise UsageError(f"opsbot serve needs {' and '.join(missing)} in the environment.")


class OpsbotServer(uvicorn.Server):
    """uvicorn's server, closing Socket Mode's WebSocket the moment it is told to stop: uvicorn first waits for
    open HTTP connections and only then runs the lifespan's shutdown, and deliveries would keep arriving."""

    def __init__(self, config: uvicorn.Config, socket: SocketMode | None = None):
        super().__init__(config)
        self.socket = socket

    async def shutdown(self, sockets=None) -> None:
        if self.socket is not None:
            await self.socket.close()
        await super().shutdown(sockets)


def exit_cleanly(signum: int, frame: object) -> None:
    raise SystemExit(0)


def serve(opsbot: Opsbot, slack: SlackSettings, host: str = "0.0.0.0", socket: bool = False,
          scheduler: SchedulerRunner | None = None) -> None:
    """Serve until stopped, HTTP on `slack.port` in both modes (Socket Mode takes Slack's deliveries over its
    WebSocket instead of POST /slack/events). The scheduler (built by the composition root) runs beside it and
    is stopped on the way out."""
    check(slack, socket)
    if scheduler is not None:
        opsbot.metrics.watch_leader(lambda: scheduler.is_leader)
        scheduler.start()
    try:
        pipeline = pipeline_for(opsbot, slack)
        bolt = create_bolt_app(opsbot, slack, pipeline)
        socket_mode = SocketMode(bolt, slack.slack_app_token or "") if socket else None
        app = asgi_app(bolt, None if socket else slack.slack_signing_secret or "",
                       scheduler=scheduler, store_up=opsbot.store.ping, metrics=opsbot.metrics, pipeline=pipeline,
                       shutdown_timeout=slack.opsbot_shutdown_timeout, alerts=alert_endpoint(opsbot, bolt.client),
                       socket=socket_mode)
        # uvicorn handles SIGTERM/SIGINT: it stops accepting, lets open requests finish, then runs the lifespan
        # shutdown above, which waits for acked work. Afterwards it re-raises the signal under the handlers it
        # found: make those a clean exit, so the scheduler below still releases its lock (and no traceback).
        for sig in (signal.SIGTERM, signal.SIGINT):
            signal.signal(sig, exit_cleanly)
        # log_config=None: uvicorn's own lines go through opsbot's logging (OPSBOT_LOG_FORMAT, redaction) too.
        server = OpsbotServer(uvicorn.Config(app, host=host, port=slack.port, log_level="warning", log_config=None,
                                             lifespan="on",
                                             timeout_graceful_shutdown=math.ceil(slack.opsbot_shutdown_timeout)),
                              socket_mode)
        server.run()
        if not server.started:  # as uvicorn.run: the start failed (the reason is logged), exit 3
            raise SystemExit(3)
    finally:
        if scheduler is not None:
            scheduler.stop()  # releases the leader lock: a standby takes over on its next tick
            log.info("scheduler stopped; leader lock released")
