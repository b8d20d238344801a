"""Incident SLA timers as pure functions of an incident's state and the time.

Timers are conditions, not appointments: an unacknowledged P0 is still unacknowledged after a restart, so a
late timer still fires — once, under its key; only the current step is sent, skipped steps are recorded as
missed. Acknowledging, posting an update, resolving or marking the post-mortem done changes the state, and
the timers that depended on it stop by themselves.
"""
from __future__ import annotations

import re
from datetime import datetime, timedelta

from bot.config.catalog import NEXT_BUSINESS_DAY, Catalog
from bot.core.models import Incident, Status
from bot.core.reminders import Reminder
from bot.timeparse import format_duration, parse_duration, show

_USER = re.compile(r"^[UW][A-Z0-9_]{2,}$")
_GROUP = re.compile(r"^S[A-Z0-9_]{2,}$")


def who_text(who: str) -> str:
    """A chain entry in neutral text: IDs as `@ID` (views turn them into mentions), names as they are."""
    return f"@{who}" if _USER.match(who) or _GROUP.match(who) else who


def due_reminders(incident: Incident, catalog: Catalog, now: datetime) -> tuple[list[Reminder], list[Reminder]]:
    """(to send, to record as missed) for one incident at `now`; keys make each fire once."""
    send: list[Reminder] = []
    missed: list[Reminder] = []
    for timer in (_escalation, _update_cadence, _postmortem):
        current, skipped = timer(incident, catalog, now)
        send += current
        missed += skipped
    send += _action_items(incident, now)
    return send, missed


def _to(user: str | None) -> str:
    return f"{who_text(user)} " if user else ""


def _channel(incident: Incident, catalog: Catalog) -> str:
    return incident.channel or catalog.announce_channel


def _escalation(incident: Incident, catalog: Catalog, now: datetime):
    if incident.status is not Status.DECLARED:
        return [], []
    severity = catalog.severities[incident.severity]
    deadline = severity.response_deadline(incident.declared_at)
    step = timedelta(days=1) if severity.response == NEXT_BUSINESS_DAY else parse_duration(severity.response)
    chain = severity.escalation
    # chain[0] is paged at declaration; each missed response target escalates one level further.
    due = [level for level in range(1, len(chain)) if now >= deadline + (level - 1) * step]
    late = format_duration(now - incident.declared_at)
    where = f"#{incident.channel}" if incident.channel else f"#{catalog.announce_channel}"
    mentions = list(chain[1:]) + ([incident.channel] if incident.channel else [])
    steps = []
    for level in due:
        who, due_at = chain[level], deadline + (level - 1) * step
        post = [Reminder(
            key=f"inc:{incident.number}:escalate:{level}", kind="escalation", incident=incident.number,
            level=level + 1, due_at=due_at, channel=_channel(incident, catalog), title=who, mentions=mentions,
            text=(f"🚨 {incident.id} ({incident.severity}) \"{incident.title}\" is not acknowledged "
                  f"{late} after it was declared "
                  f"(target {severity.response}). Escalating to {who_text(who)} (level {level + 1} of {len(chain)}). "
                  f"Acknowledge with `/incident ack {incident.id}`."))]
        if _USER.match(who):  # a person is also told directly: a channel mention is easy to miss at night
            post.append(Reminder(
                key=f"inc:{incident.number}:escalate:{level}:dm", kind="escalation_dm", incident=incident.number,
                level=level + 1, due_at=due_at, channel=who, title=who, mentions=mentions,
                text=(f"🚨 You are paged for {incident.id} ({incident.severity}) \"{incident.title}\": "
                      f"nobody has acknowledged it {late} after it was declared. See {where}; "
                      f"acknowledge with `/incident ack {incident.id}`.")))
        steps.append(post)
    # Only the current level is sent; levels skipped while the bot was down are recorded as missed.
    return (steps[-1] if steps else []), [reminder for step in steps[:-1] for reminder in step]


def _update_cadence(incident: Incident, catalog: Catalog, now: datetime):
    if not incident.is_open:
        return [], []
    every = catalog.severities[incident.severity].update_every
    last = incident.last_update_at or incident.declared_at
    periods = int((now - last) / every)
    if periods < 1:
        return [], []
    owner = incident.roles.get("comms") or incident.commander
    reminder = Reminder(
        key=f"inc:{incident.number}:update:{last.isoformat()}:{periods}", kind="update", incident=incident.number,
        due_at=last + periods * every, channel=_channel(incident, catalog), mentions=[owner] if owner else [],
        text=(f"⏰ {_to(owner)}{incident.id} has had no status update since {show(last)} "
              f"(every {format_duration(every)} for {incident.severity}). "
              f"Post one with `/incident update {incident.id} <text>`."))
    return [reminder], []


def _postmortem(incident: Incident, catalog: Catalog, now: datetime):
    if incident.status not in (Status.RESOLVED, Status.CLOSED) or incident.postmortem_done_at or not incident.resolved_at:
        return [], []
    due = incident.resolved_at + catalog.severities[incident.severity].postmortem_due
    if now < due:
        return [], []
    repeat = catalog.scheduler.postmortem_repeat
    period = int((now - due) / repeat)
    owner = incident.commander
    return [Reminder(
        key=f"inc:{incident.number}:postmortem:{period}", kind="postmortem", incident=incident.number,
        due_at=due + period * repeat, channel=_channel(incident, catalog), mentions=[owner] if owner else [],
        text=(f"📝 {_to(owner)}the post-mortem of {incident.id} was due {show(due)}. "
              f"Draft it with `/incident postmortem {incident.id}`; mark it written with "
              f"`/incident postmortem {incident.id} done`."))], []


def _action_items(incident: Incident, now: datetime) -> list[Reminder]:
    today = now.date()
    reminders = []
    for item in incident.action_items:
        if item.done_at is not None or item.due is None or item.due >= today:
            continue
        reminders.append(Reminder(
            key=f"inc:{incident.number}:action:{item.number}:{today.isoformat()}", kind="action",
            incident=incident.number, due_at=now, channel=item.owner or incident.channel or "",
            text=(f"📌 Action item {item.number} of {incident.id} is past due ({item.due.isoformat()}): "
                  f"{item.text}. Mark it done with `/incident action {incident.id} done {item.number}`.")))
    return [r for r in reminders if r.channel]
