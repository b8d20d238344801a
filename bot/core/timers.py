"""Incident SLA timers as pure functions of an incident's state and the time.

Timers are conditions, not appointments: an unacknowledged P0 is still unacknowledged after a restart, so a
late timer still fires — once, under its key; only the current step is sent, skipped steps are recorded as
missed. Acknowledging, posting an update, resolving or marking the post-mortem done changes the state, and
the timers that depended on it stop by themselves.
"""
from __future__ import annotations

import re
from collections.abc import Callable
from datetime import datetime

from bot.config.catalog import Catalog
from bot.core.models import Incident, Status
from bot.core.oncall import on_call
from bot.core.oncall_overrides import Override
from bot.core.reminders import Reminder
from bot.timeparse import format_duration, show

_USER = re.compile(r"^[UW][A-Z0-9_]{2,}$")
_GROUP = re.compile(r"^S[A-Z0-9_]{2,}$")


OverridesOf = Callable[[str], list[Override]]


def who_text(who: str) -> str:
    """A chain entry in neutral text: IDs as `@ID` (views turn them into mentions), names as they are."""
    return f"@{who}" if _USER.match(who) or _GROUP.match(who) else who


def due_reminders(incident: Incident, catalog: Catalog, now: datetime,
                  overrides_of: OverridesOf = lambda schedule: []) -> tuple[list[Reminder], list[Reminder]]:
    """(to send, to record as missed) for one incident at `now`; keys make each fire once. `overrides_of`: a
    schedule's overrides, for levels that page `schedule:<name>`."""
    send: list[Reminder] = []
    missed: list[Reminder] = []
    escalation = lambda incident, catalog, now: _escalation(incident, catalog, now, overrides_of)
    for timer in (escalation, _update_cadence, _postmortem):
        current, skipped = timer(incident, catalog, now)
        send += current
        missed += skipped
    send += _action_items(incident, now)
    return send, missed


def _to(user: str | None) -> str:
    return f"{who_text(user)} " if user else ""


def paged(catalog: Catalog, levels: list, index: int, at: datetime,
          overrides_of: OverridesOf = lambda schedule: []) -> tuple[list[str], str]:
    """A level's people at the moment of paging: `schedule:<name>` is whoever is on call then. A level that finds
    nobody (a gap in the schedule) pages the next level at once, and says so."""
    people: list[str] = []
    for who in levels[index][0]:
        if who.startswith("schedule:"):
            schedule = catalog.oncall.schedules.get(who.removeprefix("schedule:"))
            name = who.removeprefix("schedule:")
            user = on_call(schedule, at, overrides_of(name)).user if schedule is not None else None
            if user is not None:
                people.append(user)
        else:
            people.append(who)
    if people or index + 1 >= len(levels):
        return people, "" if people else " (nobody: the schedule has a gap)"
    after, _ = paged(catalog, levels, index + 1, at, overrides_of)
    return after, f" (level {index + 1} has nobody on call: the schedule has a gap, so level {index + 2} is paged now)"


def paged_at_declaration(incident: Incident, catalog: Catalog, overrides_of: OverridesOf) -> list[str]:
    """Who level 1 pages when the incident is declared (its schedules resolved now): named in the INCIDENT ALERT."""
    levels = catalog.severities[incident.severity].escalation_levels(incident.declared_at)
    if not levels or levels[0][1] > incident.declared_at:
        return []
    people, _ = paged(catalog, levels, 0, incident.declared_at, overrides_of)
    return [who for who in people if _USER.match(who) or _GROUP.match(who)]


def _channel(incident: Incident, catalog: Catalog) -> str:
    return incident.channel or catalog.announce_channel


def _escalation(incident: Incident, catalog: Catalog, now: datetime, overrides_of: OverridesOf):
    """Level 1 is paged at declaration, each next level at its time (one response target later, or its own
    `after`), while the incident is not acknowledged — or not resolved, for a severity that escalates until then."""
    severity = catalog.severities[incident.severity]
    until_resolved = severity.escalate_until == "resolved"
    if incident.status is not Status.DECLARED and not (until_resolved and incident.is_open):
        return [], []
    levels = severity.escalation_levels(incident.declared_at)
    due = [(index, who, at) for index, (who, at) in enumerate(levels) if now >= at]
    if not due:
        return [], []
    latest = max(at for _, _, at in due)
    late = format_duration(now - incident.declared_at)
    where = f"#{incident.channel}" if incident.channel else f"#{catalog.announce_channel}"
    everyone = [who for people, _ in levels for who in people]
    mentions = everyone + ([incident.channel] if incident.channel else [])
    # Shown where the page goes: a private incident's title stays out of a public fallback channel.
    name = f" \"{incident.title}\"" if incident.channel or not incident.private else ""
    state = "resolved" if until_resolved else "acknowledged"
    step = "resolve" if until_resolved else "ack"
    sent: list[Reminder] = []
    missed: list[Reminder] = []
    for index, people, at in due:
        people, gap = paged(catalog, levels, index, at, overrides_of)
        names = ", ".join(who_text(who) for who in people) + gap
        level = f"level {index + 1} of {len(levels)}"
        if at == incident.declared_at:
            post_text = f"🚨 {incident.id} ({incident.severity}){name} was declared. Paging {names} ({level})."
            dm_text = f"🚨 You are paged for {incident.id} ({incident.severity}){name}, just declared. See {where}."
        else:
            post_text = (f"🚨 {incident.id} ({incident.severity}){name} is not {state} {late} after it was declared "
                         f"(target {severity.response}). Escalating to {names} ({level}).")
            dm_text = (f"🚨 You are paged for {incident.id} ({incident.severity}){name}: it is not {state} {late} "
                       f"after it was declared. See {where}.")
        key = f"inc:{incident.number}:escalate:{index}"
        mentions = [*mentions, *(who for who in people if who not in mentions)]  # who the schedule named, too
        pages = [Reminder(key=key, kind="escalation", incident=incident.number, level=index + 1, due_at=at,
                          channel=_channel(incident, catalog), title=", ".join(people), mentions=mentions,
                          text=post_text, next_step=step)]
        users = [who for who in people if _USER.match(who)]
        for user in users:  # a person is also told directly: a channel mention is easy to miss at night
            pages.append(Reminder(
                key=f"{key}:dm" if len(users) == 1 else f"{key}:dm:{user}", kind="escalation_dm",
                incident=incident.number, level=index + 1, due_at=at, channel=user, title=user, mentions=mentions,
                text=dm_text, next_step=step))
        # Only the current levels (those due last) are sent; levels skipped while the bot was down are recorded.
        (sent if at == latest else missed).extend(pages)
    return sent, missed


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
              f"(every {format_duration(every)} for {incident.severity})."), next_step="update")
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
        text=f"📝 {_to(owner)}the post-mortem of {incident.id} was due {show(due)}.", next_step="postmortem")], []


def _action_items(incident: Incident, now: datetime) -> list[Reminder]:
    today = now.date()
    reminders = []
    for item in incident.action_items:
        if item.done_at is not None or item.due is None or item.due >= today:
            continue
        reminders.append(Reminder(
            key=f"inc:{incident.number}:action:{item.number}:{today.isoformat()}", kind="action",
            incident=incident.number, due_at=now, channel=item.owner or incident.channel or "",
            text=f"📌 Action item {item.number} of {incident.id} is past due ({item.due.isoformat()}): {item.text}.",
            next_step="action_done", item=item.number))
    return [r for r in reminders if r.channel]
