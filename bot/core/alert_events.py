"""What an alert delivery writes on an incident's timeline: an event per alert state it brings (the first
`alerts.keep_in_full` new ones of a delivery in full, every further one counted in one summary per alert name and
status), the group's resolve, and — in a storm — the group joining the storm incident. Every event is redacted like
every other one (`scrubbed_event`), and text from outside never pings anybody (`inert_mentions`).

The store decides which alert states are new on the incident (inside its transaction); the events are made then,
for those only: a group of 5,000 alerts re-sent every few minutes costs the timeline nothing it has already.
"""
from __future__ import annotations

import re
from collections import Counter
from datetime import datetime
from typing import TYPE_CHECKING

from bot.core.incidents import scrubbed_event
from bot.core.models import Event, EventKind
from bot.core.ports import SeenAlert
from bot.core.redact import redact
from bot.timeparse import show

if TYPE_CHECKING:
    from bot.core.alerts import Alert, AlertGroup


def seen_alerts(group: AlertGroup) -> list[SeenAlert]:
    """Each alert state of the delivery (the group's resolve last): what the store records once per incident. The
    names the incident's counts are kept by are redacted and never ping (each distinct name once)."""
    names: dict[str, str] = {}
    seen = []
    for alert in group.alerts:
        raw = alert_name(group, alert)
        name = names.get(raw)
        if name is None:
            name = names[raw] = inert_mentions(redact(raw[:200]))
        seen.append(SeenAlert(f"{alert.fingerprint}|{alert.occurrence}|{alert.status}", name, alert.status == "firing"))
    if group.status == "resolved":
        seen.append(SeenAlert(group_resolved_key(group), "", False))
    return seen


def events_for(group: AlertGroup, keep: int, now: datetime, new: list[int]) -> list[Event]:
    """The events of the new alert states (indexes into `seen_alerts(group)`): the first `keep` in full, the rest
    in one summary counting them per alert name and status."""
    alerts = [index for index in new if index < len(group.alerts)]
    events = [_alert_event(group, group.alerts[index], now) for index in alerts[:keep]]
    rest = alerts[keep:]
    if rest:
        counts = Counter((alert_name(group, group.alerts[index]), group.alerts[index].status) for index in rest)
        ranked = sorted(counts.items(), key=lambda item: (-item[1], item[0]))
        shown = ", ".join(f"{name} {status} × {count:,}" for (name, status), count in ranked[:20])
        more = f" and {len(ranked) - 20} more names" if len(ranked) > 20 else ""
        text = inert_mentions(f"{len(rest):,} more alerts of the group, counted but not recorded one by one: "
                              f"{shown}{more}"[:3000])
        events.append(scrubbed_event(Event(at=now, actor=group.source, kind=EventKind.ALERT, text=text, data={
            "source": group.source, "group": group.key, "summarised": len(rest),
            "counts": [{"alertname": name, "status": status, "count": count}
                       for (name, status), count in ranked]})))
    if len(group.alerts) in new:
        events.append(scrubbed_event(Event(
            at=now, actor=group.source, kind=EventKind.ALERT, text="Every alert of the group has resolved",
            data={"source": group.source, "group": group.key, "status": "resolved"})))
    return events


def join_events(group: AlertGroup, now: datetime, title: str) -> list[Event]:
    """On the storm incident: the group that joined it (what would have been its own incident's title)."""
    firing = Counter(alert_name(group, alert) for alert in group.alerts if alert.status == "firing")
    names = ", ".join(f"{name} × {count:,}" for name, count in firing.most_common(10))
    text = inert_mentions(f"Alert group joined the storm: {title} ({len(group.alerts):,} alerts: {names})"[:3000])
    return [scrubbed_event(Event(at=now, actor=group.source, kind=EventKind.ALERT, text=text, data={
        "source": group.source, "group": group.key, "storm": "joined", "labels": group.labels,
        "alerts": len(group.alerts),
        "firing": [{"alertname": name, "count": count} for name, count in firing.most_common()]}))]


def alert_name(group: AlertGroup, alert: Alert) -> str:
    return alert.labels.get("alertname") or group.labels.get("alertname") or group.title or alert.fingerprint


def _alert_event(group: AlertGroup, alert: Alert, now: datetime) -> Event:
    name = alert.labels.get("alertname") or group.title or alert.fingerprint
    summary = alert.annotations.get("summary") or alert.annotations.get("description") or ""
    when = show(alert.starts_at) if alert.status == "firing" else show(alert.ends_at or now)
    text = f"Alert {alert.status}: {name}" + (f" — {summary}" if summary else "") + \
        f" ({'since' if alert.status == 'firing' else 'at'} {when})" + \
        (f" {alert.generator_url}" if alert.generator_url else "")
    return scrubbed_event(Event(at=now, actor=group.source, kind=EventKind.ALERT, text=inert_mentions(text[:3000]), data={
        "source": group.source, "fingerprint": alert.fingerprint, "status": alert.status,
        "labels": alert.labels, "starts_at": alert.starts_at.isoformat(),
        "ends_at": alert.ends_at.isoformat() if alert.ends_at else None,
        "generator_url": alert.generator_url}))


# A Slack-shaped ID after @ or # would become a mention (a ping) wherever the text is shown; text from outside
# (an alert's title, name or summary) never pings anybody: a word joiner keeps the ID as plain text.
_MENTION_LIKE = re.compile(r"(?<![\w@#])([@#])(?=[UWSCG][A-Z0-9_]*[0-9_])")


def inert_mentions(text: str) -> str:
    return _MENTION_LIKE.sub(lambda match: match.group(1) + "\u2060", text)


def group_resolved_key(group: AlertGroup) -> str:
    # The latest occurrence: a group that fires and resolves again is noted again.
    return "group|resolved|" + max((alert.occurrence for alert in group.alerts), default="")
