"""Slack's side of alert deliveries: the alert endpoint served beside /slack/events, whose effects are carried
out as a slash command's are (channel, invite, pinned summary, announcement), plus asking the commander in the
incident's channel when the alert group resolves."""
from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from bot.alerts.endpoint import AlertEndpoint
from bot.config.settings import alert_tokens
from bot.core.effects import Effect
from bot.slack.conversations import SlackConversations

if TYPE_CHECKING:
    from slack_sdk.web.async_client import AsyncWebClient

    from bot.app import Opsbot

log = logging.getLogger("opsbot.slack")


class SlackAlertEffects:
    def __init__(self, conversations: SlackConversations):
        self.conversations = conversations

    async def carry_out(self, effects: list[Effect]) -> None:
        """Nobody waits for an alert's reply: Slack's warnings go to the log."""
        for warning in await self.conversations.carry_out(effects):
            log.warning("alert-opened incident: %s", warning)


def alert_endpoint(opsbot: Opsbot, client: AsyncWebClient, tokens: dict[str, str] | None = None) -> AlertEndpoint:
    """The endpoint `opsbot serve` answers over HTTP, its effects carried out with the bot's client. Tokens:
    OPSBOT_ALERT_TOKEN_<SOURCE> unless given."""
    conversations = SlackConversations(client, opsbot.services.incidents, opsbot.catalog,
                                       opsbot.services.evidence.snapshot)
    return AlertEndpoint(opsbot.alerts, alert_tokens() if tokens is None else tokens,
                         SlackAlertEffects(conversations).carry_out, opsbot.metrics.alert)
