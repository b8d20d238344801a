"""Posts the scheduler's reminders to Slack (the scheduler runs in its own thread: a synchronous client)."""
from __future__ import annotations

from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError
from slack_sdk.http_retry.builtin_handlers import RateLimitErrorRetryHandler

from bot.config import SlackSettings
from bot.core.audit import Head
from bot.core.reminders import Checklist, Reminder
from bot.views.maint import reminder_blocks, reminder_text


class SlackNotifier:
    def __init__(self, slack: SlackSettings):
        self.client = WebClient(token=slack.slack_bot_token, base_url=slack.opsbot_slack_api_url, timeout=10)
        self.client.retry_handlers.append(RateLimitErrorRetryHandler(max_retry_count=3))

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

    def __init__(self, slack: SlackSettings, channel: str):
        self.client = WebClient(token=slack.slack_bot_token, base_url=slack.opsbot_slack_api_url, timeout=10)
        self.client.retry_handlers.append(RateLimitErrorRetryHandler(max_retry_count=3))
        self.channel = channel

    def __call__(self, head: Head) -> None:
        text = (f"🔏 Audit checkpoint `{head}` — verify with `opsbot audit verify --head {head}`")
        try:
            self.client.chat_postMessage(channel=self.channel, text=text)
        except SlackApiError as error:
            if error.response.get("error") != "not_in_channel":
                raise
            self.client.conversations_join(channel=self.channel)
            self.client.chat_postMessage(channel=self.channel, text=text)
