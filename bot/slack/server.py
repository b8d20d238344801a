"""`opsbot serve`: the Bolt app over HTTP (uvicorn, POST /slack/events, GET /healthz) or Socket Mode."""
from __future__ import annotations

import asyncio
import gc
import json
import logging
from collections.abc import Callable
from typing import TYPE_CHECKING

import aiohttp
from slack_bolt.adapter.asgi.async_handler import AsyncSlackRequestHandler
from slack_bolt.async_app import AsyncApp

from bot.config import SlackSettings
from bot.errors import UsageError
from bot.scheduler.runner import SchedulerRunner
from bot.slack.app import create_bolt_app
from bot.slack.gate import SlackGate

if TYPE_CHECKING:
    from bot.app import Opsbot

log = logging.getLogger("opsbot.slack")


def asgi_app(bolt: AsyncApp, signing_secret: str, path: str = "/slack/events",
             scheduler: SchedulerRunner | None = None, store_up: Callable[[], bool] | None = None):
    """Bolt's ASGI handler plus a health endpoint for load balancers and orchestrators: 503 while the database
    cannot be reached; it also says whether this process is the scheduler leader."""
    slack = SlackGate(signing_secret, AsyncSlackRequestHandler(bolt, path=path))

    async def app(scope, receive, send):
        if scope["type"] == "lifespan":
            await lifespan(bolt, receive, send)
            return
        if scope["type"] == "http" and scope["method"] == "GET" and scope["path"] == "/healthz":
            up = True if store_up is None else await asyncio.to_thread(store_up)
            role = "off" if scheduler is None else ("leader" if scheduler.is_leader else "standby")
            body = {"ok": up, "scheduler": role} | ({} if up else {"store": "unreachable"})
            await send({"type": "http.response.start", "status": 200 if up else 503,
                        "headers": [(b"content-type", b"application/json")]})
            await send({"type": "http.response.body", "body": json.dumps(body).encode()})
            return
        if scope["type"] == "http" and scope["method"] == "POST" and scope["path"] == path:
            await slack(scope, receive, send)
            return
        await send({"type": "http.response.start", "status": 404, "headers": [(b"content-type", b"text/plain")]})
        await send({"type": "http.response.body", "body": b"not found"})

    return app


async def lifespan(bolt: AsyncApp, receive, send) -> None:
    """One HTTP session for every Slack call, made inside the server's event loop and closed at exit."""
    while True:
        message = await receive()
        if message["type"] == "lifespan.startup":
            bolt.client.session = aiohttp.ClientSession()
            freeze_startup_objects()
            await send({"type": "lifespan.startup.complete"})
        elif message["type"] == "lifespan.shutdown":
            if bolt.client.session is not None:
                await bolt.client.session.close()
            await send({"type": "lifespan.shutdown.complete"})
            return


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


def socket_mode_handler(opsbot: Opsbot, slack: SlackSettings):
    """Call it inside the running event loop: it makes the one HTTP session every Slack call and reply uses
    (the caller closes it, as the HTTP server's lifespan does)."""
    from slack_bolt.adapter.socket_mode.async_handler import AsyncSocketModeHandler

    bolt = create_bolt_app(opsbot, slack)
    bolt.client.session = aiohttp.ClientSession()
    # The bot's web client, so apps.connections.open honours OPSBOT_SLACK_API_URL too.
    return AsyncSocketModeHandler(bolt, slack.slack_app_token, web_client=bolt.client)


async def serve_socket_mode(opsbot: Opsbot, slack: SlackSettings) -> None:
    handler = socket_mode_handler(opsbot, slack)
    freeze_startup_objects()
    try:
        await handler.start_async()
    finally:
        await handler.app.client.session.close()


def serve(opsbot: Opsbot, slack: SlackSettings, host: str = "0.0.0.0", socket: bool = False,
          scheduler: SchedulerRunner | None = None) -> None:
    """Serve until stopped: Socket Mode, or HTTP on `slack.port`. The scheduler (built by the composition
    root) runs beside it and is stopped on the way out."""
    check(slack, socket)
    if scheduler is not None:
        scheduler.start()
    try:
        if socket:
            import asyncio

            asyncio.run(serve_socket_mode(opsbot, slack))
            return
        import uvicorn

        app = asgi_app(create_bolt_app(opsbot, slack), slack.slack_signing_secret or "", scheduler=scheduler,
                       store_up=opsbot.store.ping)
        uvicorn.run(app, host=host, port=slack.port, log_level="warning", lifespan="on")
    finally:
        if scheduler is not None:
            scheduler.stop()
