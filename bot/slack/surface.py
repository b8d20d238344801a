"""Slack as `opsbot serve` runs it, beside the HTTP app (bot/http/): the Bolt app and what it needs while the
server lives — the bot client's HTTP session, Socket Mode's WebSocket, the pipeline's acked work — and, over HTTP,
the endpoint for POST /slack/events (the gate in front of Bolt). Built by the composition root (bot/app.py); the
HTTP app's lifespan calls `start` and, on the way out, `stop_deliveries`, `finish` and `close` in that order.
"""
from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from typing import TYPE_CHECKING

import aiohttp
from slack_bolt.adapter.asgi.async_handler import AsyncSlackRequestHandler

from bot.errors import UsageError
from bot.slack.app import warm_up
from bot.slack.gate import ASGI, SlackGate
from bot.timeparse import utcnow

if TYPE_CHECKING:
    from slack_bolt.async_app import AsyncApp

    from bot.slack.conversations import SlackConversations
    from bot.slack.middleware import Pipeline
    from bot.slack.socket_mode import SocketMode

log = logging.getLogger("opsbot.slack")
EVENTS_PATH = "/slack/events"
RECONCILE_EVERY = 60.0  # seconds between the leader's passes over incidents without a channel


class SlackSurface:
    def __init__(self, bolt: AsyncApp, conversations: SlackConversations, pipeline: Pipeline,
                 signing_secret: str | None = None, socket: SocketMode | None = None):
        """Over HTTP (a signing secret, no socket) Slack's deliveries come to `events`; in Socket Mode over the
        WebSocket, and `events` is None (nothing could verify a signed request)."""
        self.bolt, self.conversations, self.pipeline, self.socket = bolt, conversations, pipeline, socket
        self.mode = "socket" if socket is not None else "http"
        self.leader: Callable[[], bool] = lambda: False  # the scheduler's leadership: set by the composition root
        self.reconcile_every = RECONCILE_EVERY
        self._reconciling: asyncio.Task | None = None
        self.events_path = EVENTS_PATH
        # The gate verifies every request before anything is parsed; Bolt's own check would only repeat it.
        self.events: ASGI | None = SlackGate(signing_secret, AsyncSlackRequestHandler(bolt, path=EVENTS_PATH)) \
            if signing_secret and socket is None else None

    async def start(self) -> None:
        """Inside the server's event loop: one HTTP session for every Slack call, the bot's identity asked now
        (so the first command does not wait for it), then Socket Mode's WebSocket. An app token Slack refuses
        stops the start (UsageError, one clear sentence)."""
        self.bolt.client.session = aiohttp.ClientSession()
        await warm_up(self.bolt)
        if self.socket is not None:
            try:
                await self.socket.open()
            except UsageError:
                await self.close()
                raise
        self._reconciling = asyncio.get_running_loop().create_task(self._reconcile_channels())

    async def _reconcile_channels(self) -> None:
        """On the scheduler leader, every minute: incidents without a channel (Slack failed, or the process that
        declared them stopped) get one."""
        while True:
            await asyncio.sleep(self.reconcile_every)
            if not self.leader():
                continue
            try:
                await self.conversations.reconcile(utcnow())
            except Exception:  # the store is down, say: the next pass
                log.warning("reconciling incident channels failed", exc_info=True)

    async def stop_deliveries(self) -> None:
        """No new deliveries from here on (Socket Mode closes its WebSocket; over HTTP the server stops accepting).
        Safe to call more than once: the server calls it the moment it is told to stop."""
        if self.socket is not None:
            await self.socket.close()

    async def finish(self, timeout: float) -> None:
        """Let the work already acked finish, up to `timeout` seconds."""
        if self.pipeline.in_flight:
            log.info("shutting down: finishing %d acked deliveries (up to %g s)", self.pipeline.in_flight, timeout)
        if not await self.pipeline.drain(timeout):
            log.warning("shutting down with %d deliveries unfinished after %g s", self.pipeline.in_flight, timeout)

    async def close(self) -> None:
        if self._reconciling is not None:
            self._reconciling.cancel()
            await asyncio.gather(self._reconciling, return_exceptions=True)
            self._reconciling = None
        await self.conversations.close()
        if self.bolt.client.session is not None and not self.bolt.client.session.closed:
            await self.bolt.client.session.close()

    async def health(self) -> dict[str, str]:
        """What GET /healthz says of Slack: the WebSocket's state in Socket Mode."""
        return {"socket_mode": await self.socket.state()} if self.socket is not None else {}
