"""`opsbot serve` without Slack: what a chat surface would carry out goes to the log (INFO) instead. An incident an
alert opened is in the store either way (the console, `opsbot incident export` and /metrics show it); its
channel and announcement, and the scheduler's reminders, have no chat to go to, so the log says what they were."""
from __future__ import annotations

import logging
from collections.abc import Sequence

from bot.core.reminders import Checklist, Reminder

log = logging.getLogger("opsbot.nochat")


class LoggedEffects:
    """The effect handler when no chat surface is configured."""

    async def carry_out(self, effects: Sequence[object]) -> None:
        for effect in effects:
            log.info("not carried out, no chat surface (Slack is off): %s", effect)


class LoggedNotifier:
    """The scheduler's notifier (bot/core/ports.py Notifier) when no chat surface is configured: the reminder is
    settled as sent, and this line is where it went."""

    def post(self, reminder: Reminder, checklist: Checklist | None) -> None:
        items = f" (checklist: {'; '.join(reminder.checklist)})" if reminder.checklist else ""
        log.info("reminder %s for #%s, no chat surface (Slack is off): %s%s", reminder.key, reminder.channel,
                 reminder.text, items)
