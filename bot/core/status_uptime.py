"""90 days of a component's history as the page's uptime bars: each day's worst status (days cut on the page's own
clock) and the share of time it was up. As Statuspage counts it, a major outage is down time and a partial outage
counts 30% of its length; degraded performance and maintenance are up."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from bot.core.status_models import ComponentStatus, HistoryEntry, worst

DAYS = 90
DOWN_WEIGHT = {ComponentStatus.MAJOR_OUTAGE: 1.0, ComponentStatus.PARTIAL_OUTAGE: 0.3}


@dataclass(frozen=True)
class Day:
    day: date
    status: ComponentStatus  # the worst of the day
    down_s: float  # weighted seconds of down time


@dataclass(frozen=True)
class Uptime:
    days: tuple[Day, ...]  # oldest first, today last
    share: float  # 0..1 over the whole span


def uptime(history: list[HistoryEntry], component: str, now: datetime, zone: str, days: int = DAYS) -> Uptime:
    """`history`: the store's component_history(since) — each change since then, with the state at `since`."""
    local = ZoneInfo(zone)
    today = now.astimezone(local).date()
    first = today - timedelta(days=days - 1)
    # In UTC: Python subtracts two times of one zone by their wall clocks, and a 25-hour day would count 24.
    start = datetime.combine(first, time(), local).astimezone(UTC)
    segments = _segments([h for h in history if h.component == component], start, now)
    found, total_down = [], 0.0
    for offset in range(days):
        day = first + timedelta(days=offset)
        begin = max(datetime.combine(day, time(), local).astimezone(UTC), start)
        end = min(datetime.combine(day + timedelta(days=1), time(), local).astimezone(UTC), now)
        statuses, down = [], 0.0
        for status, seg_start, seg_end in segments:
            overlap = (min(end, seg_end) - max(begin, seg_start)).total_seconds()
            if overlap > 0 or (seg_start <= begin < seg_end):
                statuses.append(status)
                down += max(overlap, 0.0) * DOWN_WEIGHT.get(status, 0.0)
        found.append(Day(day, worst(statuses), down))
        total_down += down
    span = max((now - start).total_seconds(), 1.0)
    return Uptime(tuple(found), max(0.0, 1.0 - total_down / span))


def _segments(entries: list[HistoryEntry], start: datetime, now: datetime) -> list[tuple[ComponentStatus, datetime, datetime]]:
    """(status, from, to) covering [start, now]: operational before anything is known."""
    out: list[tuple[ComponentStatus, datetime, datetime]] = []
    status, since = ComponentStatus.OPERATIONAL, start
    for entry in sorted(entries, key=lambda e: e.at):
        at = max(entry.at, start)
        if at > since:
            out.append((status, since, at))
        status, since = entry.status, at
    out.append((status, since, max(now, since)))
    return out
