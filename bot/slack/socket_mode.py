"""Socket Mode's WebSocket for `opsbot serve`: opened by the server's lifespan once the rest is ready, closed first
when the server is told to stop (bot/http/server.py), and reported by GET /healthz."""
from __future__ import annotations

import asyncio
import contextlib
import logging

import aiohttp
from slack_bolt.adapter.socket_mode.async_handler import AsyncSocketModeHandler
from slack_bolt.async_app import AsyncApp
from slack_sdk.errors import SlackApiError

from bot.errors import UsageError

log = logging.getLogger("opsbot.slack")
# What Slack answers apps.connections.open when the token itself is wrong: retrying cannot help. Anything else
# (Slack down, a proxy's 502, a timeout) is retried in the background, as the SDK does.
REFUSED_TOKEN = frozenset({"invalid_auth", "not_authed", "not_allowed_token_type", "token_revoked", "token_expired",
                           "account_inactive", "missing_scope", "no_permission"})


def socket_mode_handler(bolt: AsyncApp, app_token: str) -> AsyncSocketModeHandler:
    """Call it inside the running event loop, once the bot's client has its session."""
    # The bot's web client, so apps.connections.open honours OPSBOT_SLACK_API_URL too.
    return AsyncSocketModeHandler(bolt, app_token, web_client=bolt.client)


class SocketMode:
    def __init__(self, bolt: AsyncApp, app_token: str):
        self.bolt, self.app_token = bolt, app_token
        self.handler: AsyncSocketModeHandler | None = None
        self.connecting: asyncio.Task | None = None
        self.closed = False

    async def open(self) -> None:
        """Connect in the background; an app token Slack refuses stops the start with the reason (UsageError)."""
        handler = socket_mode_handler(self.bolt, self.app_token)
        try:
            opened = await self.bolt.client.apps_connections_open(app_token=self.app_token)
        except SlackApiError as error:
            code = error.response.get("error") if hasattr(error.response, "get") else None
            if code in REFUSED_TOKEN:
                await handler.close_async()
                raise UsageError(f"Slack refused SLACK_APP_TOKEN for Socket Mode ({code}): it must be the app-level "
                                 "token (xapp-…) of this app, with the connections:write scope.") from error
            log.warning("Socket Mode: apps.connections.open failed (%s); connecting in the background", code or error)
        except (aiohttp.ClientError, TimeoutError) as error:
            log.warning("Socket Mode: Slack cannot be reached now (%r); connecting in the background", error)
        else:
            handler.client.wss_uri = opened["url"]  # used by the first connect, so the URL is not asked for twice
        self.handler = handler
        self.connecting = asyncio.create_task(handler.connect_async())

    async def close(self) -> None:
        """No new deliveries from here on; safe to call more than once."""
        if self.handler is None or self.closed:
            return
        self.closed = True
        if self.connecting is not None and not self.connecting.done():
            self.connecting.cancel()  # still retrying: Slack never answered
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self.connecting
        await self.handler.close_async()

    async def state(self) -> str:
        if self.handler is None or self.closed:
            return "closed"
        return "connected" if await self.handler.client.is_connected() else "connecting"
