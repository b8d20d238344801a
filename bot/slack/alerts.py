"""Slack's side of alert deliveries (POST /alerts/*, bot/alerts/endpoint.py): their effects are carried out as a
slash command's are (channel, invite, pinned summary, announcement), plus asking the commander in the incident's
channel when the alert group resolves. The composition root hands it the one conversations adapter."""
from __future__ import annotations

import asyncio
import logging

from slack_sdk.errors import SlackApiError

from bot.core.alerts import AlertEffect, AskCommander
from bot.slack.conversations import SlackConversations
from bot.views.mrkdwn import render

log = logging.getLogger("opsbot.slack")


class SlackAlertEffects:
    def __init__(self, conversations: SlackConversations):
        self.conversations = conversations

    async def carry_out(self, effects: list[AlertEffect]) -> None:
        asks = [effect for effect in effects if isinstance(effect, AskCommander)]
        others = [effect for effect in effects if not isinstance(effect, AskCommander)]
        for warning in await self.conversations.carry_out(others):
            log.warning("alert-opened incident: %s", warning)
        for ask in asks:
            incident = await asyncio.to_thread(self.conversations.service.get, ask.number)
            if not incident.channel:
                continue
            text = render(ask.text, [incident.commander])
            try:
                await self.conversations.client.chat_postMessage(channel=incident.channel, text=text)
            except SlackApiError as error:
                log.warning("asking the commander of %s failed: %s", incident.id, error.response.get("error"))

