"""`opsbot serve` without Slack: what a chat surface would carry out goes to the log (INFO) instead. An incident an
alert opened is in the store either way (the console, `opsbot incident export` and /metrics show it); its
channel and announcement, and the scheduler's reminders, have no chat to go to, so the log says what they were."""
from __future__ import annotations

import logging
from collections.abc import Sequence

from bot.core.effects import Effect, HealthSnapshot
from bot.core.reminders import Checklist, Reminder
from bot.snapshots import BackgroundSnapshots, Snapshot

log = logging.getLogger("opsbot.nochat")


class LoggedEffects:
    """The effect handler when no chat surface is configured: health snapshots are still taken (they are evidence,
    not chat); the rest is logged."""

    def __init__(self, snapshot: Snapshot):
        self.snapshots = BackgroundSnapshots(snapshot)

    async def carry_out(self, effects: Sequence[Effect]) -> None:
        for effect in effects:
            if isinstance(effect, HealthSnapshot):
                self.snapshots.take(effect)
            else:
                log.info("not carried out, no chat surface (Slack is off): %s", effect)


class LoggedNotifier:
    """The scheduler's notifier (bot/core/ports.py Notifier) when no chat surface is configured: the reminder is
    settled as sent, and this line is where it went."""

    def post(self, reminder: Reminder, checklist: Checklist | None) -> None:
        items = f" (checklist: {'; '.join(reminder.checklist)})" if reminder.checklist else ""
        log.info("reminder %s for #%s, no chat surface (Slack is off): %s%s", reminder.key, reminder.channel,
                 reminder.text, items)

    def say(self, channel: str, text: str) -> None:
        log.info("for #%s, no chat surface (Slack is off): %s", channel, text)

    def set_group(self, group: str, users: list[str]) -> None:
        log.info("user group %s would now be %s (Slack is off)", group, ", ".join(users))
