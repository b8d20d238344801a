"""Posts the scheduler's reminders and lines (reconciliations) and the audit checkpoints to Slack. Both run in threads (the scheduler's, a
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
        _post_joining(self.client, reminder.channel, reminder_text(reminder), reminder_blocks(reminder, checklist))

    def set_group(self, group: str, users: list[str]) -> None:
        """The on-call user group follows the schedule: its members are now these."""
        self.client.usergroups_users_update(usergroup=group, users=",".join(users))

    def say(self, channel: str, text: str) -> None:
        """A line from the scheduler (what a reconciliation found and did), as plain text: no markup of ours."""
        _post_joining(self.client, channel, text)


def _post_joining(client: WebClient, channel: str, text: str, blocks: list | None = None) -> None:
    try:
        client.chat_postMessage(channel=channel, text=text, blocks=blocks)
    except SlackApiError as error:
        if error.response.get("error") != "not_in_channel":
            raise
        # The bot must be a member to post: join, then try once more.
        client.conversations_join(channel=channel)
        client.chat_postMessage(channel=channel, text=text, blocks=blocks)


class SlackWitness:
    """Audit checkpoints posted to the audit channel: a copy of the log's head that a database admin cannot edit."""

    def __init__(self, client: WebClient, channel: str):
        self.client = client
        self.channel = channel

    def __call__(self, checkpoint: Checkpoint) -> None:
        # A signed checkpoint is given whole (time and signature), so the auditor checks the signature too.
        given = f"'{checkpoint.line()}'" if checkpoint.signature else str(checkpoint.head)
        text = f"🔏 Audit checkpoint `{checkpoint.head}` — verify with `opsbot audit verify --head {given}`"
        _post_joining(self.client, self.channel, text)
