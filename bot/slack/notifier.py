"""Posts the scheduler's reminders and the audit checkpoints to Slack. Both run in threads (the scheduler's, a
command's), so they use the thread-side synchronous client the composition root builds (bot/app.py)."""
from __future__ import annotations

from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError

from bot.core.audit_signing import Checkpoint
from bot.core.reminders import Checklist, Reminder
from bot.views.maint import reminder_blocks, reminder_text


class SlackNotifier:
    def __init__(self, client: WebClient):
        self.client = client

    def post(self, reminder: Reminder, checklist: Checklist | None) -> None:
        text, blocks = reminder_text(reminder), reminder_blocks(reminder, checklist)
        try:
            self.client.chat_postMessage(channel=reminder.channel, text=text, blocks=blocks)
        except SlackApiError as error:
            if error.response.get("error") != "not_in_channel":
                raise
            # The bot must be a member to post: join, then try once more.
            self.client.conversations_join(channel=reminder.channel)
            self.client.chat_postMessage(channel=reminder.channel, text=text, blocks=blocks)


class SlackWitness:
    """Audit checkpoints posted to the audit channel: a copy of the log's head that a database admin cannot edit."""

    def __init__(self, client: WebClient, channel: str):
        self.client = client
        self.channel = channel

    def __call__(self, checkpoint: Checkpoint) -> None:
        # A signed checkpoint is given whole (time and signature), so the auditor checks the signature too.
        given = f"'{checkpoint.line()}'" if checkpoint.signature else str(checkpoint.head)
        text = f"🔏 Audit checkpoint `{checkpoint.head}` — verify with `opsbot audit verify --head {given}`"
        try:
            self.client.chat_postMessage(channel=self.channel, text=text)
        except SlackApiError as error:
            if error.response.get("error") != "not_in_channel":
                raise
            self.client.conversations_join(channel=self.channel)
            self.client.chat_postMessage(channel=self.channel, text=text)
