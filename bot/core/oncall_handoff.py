"""On-call handoffs: at each change of who is on call, a brief for the schedule's channel and for the outgoing and
incoming person — open incidents, plans awaiting confirmation or approval, maintenance under way or in the next 24
hours, alerts still firing, action items due before the next handoff, and the last day's ops actions — and, a week
ahead, a warning of any gap in the schedule. Built as reminders with keys, so each goes out once whatever the number
of replicas."""
from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from bot.config.oncall import Schedule
from bot.core.audit import AuditRecord
from bot.core.models import Event, EventKind, Incident
from bot.core.oncall import Shift, on_call, shifts
from bot.core.oncall_overrides import Override
from bot.core.plans import Plan
from bot.core.reminders import Reminder, Window
from bot.timeparse import show

RECENT = timedelta(hours=1)  # a handoff noticed this late (a restart) is still announced; older ones are not
GAP_NOTICE = timedelta(days=7)
SHOWN = 10  # lines per section; the count says how many there are in all


@dataclass
class HandoffFacts:
    """What the brief tells, read from the store only when a handoff is due."""

    incidents: list[Incident] = field(default_factory=list)
    windows: list[Window] = field(default_factory=list)
    actions: list[AuditRecord] = field(default_factory=list)
    plans: list[Plan] = field(default_factory=list)
    firing: dict[str, Counter[str]] = field(default_factory=dict)  # open incident id → alert names still firing


def still_firing(events: Sequence[Event]) -> Counter[str]:
    """The alerts of a timeline whose latest state is firing, counted per name. A group's "every alert resolved"
    ends all before it (alerts past the per-delivery limit are only counted, never recorded one by one)."""
    latest: dict[str, tuple[str, str]] = {}
    for event in events:
        if event.kind is not EventKind.ALERT:
            continue
        data = event.data or {}
        if data.get("status") == "resolved" and "fingerprint" not in data and "group" in data:
            latest.clear()
        elif "fingerprint" in data:
            name = (data.get("labels") or {}).get("alertname") or data["fingerprint"]
            latest[data["fingerprint"]] = (name, str(data.get("status")))
    return Counter(name for name, status in latest.values() if status == "firing")


def handoff_reminders(name: str, schedule: Schedule, now: datetime, overrides: Sequence[Override],
                      facts: Callable[[], HandoffFacts]) -> list[Reminder]:
    """The handoff of the shift holding `now`, if it began within the last hour: for the channel and both people."""
    shift = on_call(schedule, now, overrides)
    if shift.user is None or shift.start is None or not now - RECENT <= shift.start <= now:
        return []
    outgoing = on_call(schedule, shift.start - timedelta(microseconds=1), overrides).user
    if outgoing == shift.user:
        return []
    text = brief(name, shift, outgoing, now, facts())
    people = [user for user in (outgoing, shift.user) if user]
    key = f"oncall:{name}:handoff:{shift.start.isoformat()}"
    reminders = [Reminder(key=f"{key}:dm:{user}", kind="handoff_dm", due_at=shift.start, channel=user, text=text,
                          mentions=people) for user in people]
    if schedule.channel:
        reminders.insert(0, Reminder(key=key, kind="handoff", due_at=shift.start, channel=schedule.channel, text=text,
                                     mentions=people))
    return reminders


def brief(name: str, shift: Shift, outgoing: str | None, now: datetime, facts: HandoffFacts) -> str:
    lines = [f"🔄 On-call handoff ({name}): " + (f"@{outgoing} → " if outgoing else "") + f"@{shift.user}, until "
             f"{show(shift.end)}"]
    open_ones = [i for i in facts.incidents if i.is_open]
    lines.append(f"Open incidents: {len(open_ones)}" + "".join(
        f"\n• {i.id} {i.severity} {i.status.value}, commander " + (f"@{i.commander}" if i.commander else "none")
        for i in open_ones[:SHOWN]))
    waiting = [p for p in facts.plans if p.status == "pending" and p.expires_at > now]
    lines.append(f"Plans awaiting confirmation or approval: {len(waiting)}" + "".join(
        f"\n• {p.id} {p.summary} (@{p.user}; " + (f"approvals {len(p.approvals)}/{p.required_approvals}"
                                                  if p.confirmed else "not yet confirmed") +
        f", expires {show(p.expires_at)})" for p in waiting[:SHOWN]))
    soon = [w for w in facts.windows if w.starts_at <= now + timedelta(hours=24) and w.ends_at >= now]
    lines.append(f"Maintenance under way or within 24 h: {len(soon)}" + "".join(
        f"\n• {w.ref} {w.env}: {show(w.starts_at)} → {show(w.ends_at)}" for w in soon[:SHOWN]))
    firing = {number: names for number, names in facts.firing.items() if names}
    lines.append(f"Incidents with alerts still firing: {len(firing)}" + "".join(
        f"\n• {number}: " + ", ".join(f"{alert} × {count}" if count > 1 else alert
                                      for alert, count in names.most_common(5))
        for number, names in list(firing.items())[:SHOWN]))
    due = [(i, item) for i in open_ones for item in i.action_items
           if item.done_at is None and item.due is not None and shift.end is not None
           and item.due <= shift.end.date()]
    lines.append(f"Action items due before the next handoff: {len(due)}" + "".join(
        f"\n• {i.id} #{item.number} due {item.due}" for i, item in due[:SHOWN]))
    recent = [r for r in facts.actions if r.env and r.phase in ("succeeded", "failed") and r.at >= now - timedelta(days=1)]
    lines.append(f"Ops actions in the last 24 h: {len(recent)}" + "".join(
        f"\n• {show(r.at)} @{r.user} {r.action} {r.target or ''} in {r.env}: {r.phase}" for r in recent[-SHOWN:]))
    return "\n".join(lines)


def gap_reminders(name: str, schedule: Schedule, now: datetime, overrides: Sequence[Override]) -> list[Reminder]:
    """A week ahead, each gap in the schedule — once per gap."""
    if not schedule.channel:
        return []
    found = shifts(schedule, now, now + GAP_NOTICE, overrides=overrides)
    return [Reminder(key=f"oncall:{name}:gap:{gap.start.isoformat()}", kind="oncall_gap", due_at=now,
                     channel=schedule.channel,
                     text=f"⚠️ Nobody is on call for {name} from {show(gap.start)} to {show(gap.end)}: add an "
                          "override or change the schedule.")
            for gap in found if gap.user is None and gap.start is not None and gap.start > now]
