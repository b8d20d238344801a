"""Slack's side of alert deliveries (POST /alerts/*, bot/alerts/endpoint.py): their effects are carried out as a
slash command's are (channel, invite, pinned summary, announcement), plus asking the commander in the incident's
channel when the alert group resolves. The composition root hands it the one conversations adapter."""
from __future__ import annotations

import logging

from bot.core.effects import Effect
from bot.slack.conversations import SlackConversations

log = logging.getLogger("opsbot.slack")


class SlackAlertEffects:
    def __init__(self, conversations: SlackConversations):
        self.conversations = conversations

    async def carry_out(self, effects: list[Effect]) -> None:
        """Nobody waits for an alert's reply: Slack's warnings go to the log."""
        for warning in await self.conversations.carry_out(effects):
            log.warning("alert-opened incident: %s", warning)

