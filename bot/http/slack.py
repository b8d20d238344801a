"""Slack's endpoint in the HTTP app: POST /slack/events, mounted only when Slack is configured over HTTP. What is
mounted is the surface's gate (bot/slack/gate.py: body capped, signature verified before anything is parsed,
payload shape checked) in front of Bolt's ASGI handler. Without Slack, or in Socket Mode (deliveries come over the
WebSocket), the path is not served: 404, as nothing could verify a signed request."""
from __future__ import annotations

from typing import TYPE_CHECKING

from starlette.routing import BaseRoute

from bot.http.routing import Exact

if TYPE_CHECKING:
    from bot.slack.surface import SlackSurface


def slack_routes(slack: SlackSurface | None) -> list[BaseRoute]:
    if slack is None or slack.events is None:
        return []
    return [Exact(slack.events_path, slack.events, methods=["POST"])]
