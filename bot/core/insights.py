"""Insights over a range of months, for the web view (/ui/insights): incidents per month by severity and by service;
time to acknowledge, mitigate and resolve (p50/p90) per severity against the catalog's targets with the share
within target; how well the status-update cadence was kept; ops actions by outcome. Only incidents the viewer may
see count. Read in a few queries whatever the number of incidents (bench/web.py: 10,000 in well under 500 ms)."""
from __future__ import annotations

import math
import statistics
import threading
from collections import Counter, OrderedDict
from collections.abc import Collection
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from bot.config.catalog import NEXT_BUSINESS_DAY, Catalog
from bot.core.models import EventKind
from bot.core.ports import Store
from bot.core.privacy import Viewer, may_see
from bot.timeparse import parse_duration

OUTCOMES = ("succeeded", "failed", "denied", "refused")


@dataclass(frozen=True)
class IncidentTimes:
    """What insights need of an incident, read without its whole record (10,000 records parse in ~100 ms)."""

    number: int
    severity: str
    service: str | None
    declared_at: datetime
    acknowledged_at: datetime | None
    mitigated_at: datetime | None
    resolved_at: datetime | None
    private: bool


@dataclass
class Percentiles:
    count: int = 0
    p50: timedelta | None = None
    p90: timedelta | None = None
    target: timedelta | None = None
    within: float | None = None  # share within the target
    target_label: str = ""  # how to show a target that is no fixed duration ("next business day")


@dataclass
class Insights:
    since: datetime
    months: list[str]
    by_severity: dict[str, Counter] = field(default_factory=dict)  # month -> severity -> count
    by_service: dict[str, Counter] = field(default_factory=dict)
    mtta: dict[str, Percentiles] = field(default_factory=dict)  # per severity
    mttm: dict[str, Percentiles] = field(default_factory=dict)
    mttr: dict[str, Percentiles] = field(default_factory=dict)
    updates_kept: float | None = None  # share of open time with a status update within the severity's cadence
    actions: Counter = field(default_factory=Counter)  # ops actions by outcome


def month_start(now: datetime, months_back: int) -> datetime:
    """The first instant of the month `months_back` months before now's (0: this month)."""
    year, month = divmod(now.year * 12 + now.month - 1 - months_back, 12)
    return now.replace(year=year, month=month + 1, day=1, hour=0, minute=0, second=0, microsecond=0)


def months_from(since: datetime, now: datetime) -> list[str]:
    """Every month from since's to now's, as YYYY-MM."""
    first, last = since.year * 12 + since.month - 1, now.year * 12 + now.month - 1
    return [f"{n // 12:04d}-{n % 12 + 1:02d}" for n in range(first, last + 1)]


def insights(store: Store, catalog: Catalog, viewer: Viewer, now: datetime, months: int = 6,
             action_envs: Collection[str] | None = None) -> Insights:
    """The figures `viewer` may see: private incidents only if theirs, ops actions of `action_envs` (None: all)."""
    since = month_start(now, months - 1)
    # A private incident (rare) is read whole to ask whether this viewer may see it.
    chosen = [i for i in store.incident_times(since)
              if not i.private or may_see(store.get_incident(i.number), viewer)]
    result = Insights(since=since, months=[])
    of_severity: dict[str, list[IncidentTimes]] = {}
    for incident in chosen:  # one pass: 10,000 incidents are read in a few hundred milliseconds at most
        at = incident.declared_at
        month = f"{at.year:04d}-{at.month:02d}"
        result.by_severity.setdefault(month, Counter())[incident.severity] += 1
        result.by_service.setdefault(month, Counter())[incident.service or "(none)"] += 1
        of_severity.setdefault(incident.severity, []).append(incident)
    result.months = months_from(since, now)  # every month of the range: a quiet one is a zero, not a gap
    for name, severity in catalog.severities.items():
        mine = of_severity.get(name, [])
        if severity.response == NEXT_BUSINESS_DAY:  # counts business days: each incident against its own deadline
            acked = [(i.acknowledged_at - i.declared_at, severity.response_deadline(i.declared_at) - i.declared_at)
                     for i in mine if i.acknowledged_at]
            target = severity.response_deadline(since) - since
        else:
            target = parse_duration(severity.response)
            acked = [(i.acknowledged_at - i.declared_at, target) for i in mine if i.acknowledged_at]
        result.mtta[name] = _percentiles([v for v, _ in acked], target, [v <= t for v, t in acked])
        if severity.response == NEXT_BUSINESS_DAY:
            result.mtta[name].target_label = "next business day"
        result.mttm[name] = _percentiles([i.mitigated_at - i.declared_at for i in mine if i.mitigated_at],
                                         severity.mitigate)
        result.mttr[name] = _percentiles([i.resolved_at - i.declared_at for i in mine if i.resolved_at],
                                         severity.resolve)
    updates = store.event_times(EventKind.UPDATE.value, since)
    kept = [_cadence_kept(i, catalog, updates.get(i.number, []), now) for i in chosen]
    result.updates_kept = statistics.fmean(kept) if kept else None
    result.actions = Counter({k: v for k, v in store.audit_outcomes(since, action_envs).items() if k in OUTCOMES})
    return result


class CachedInsights:
    """Insights are read often and change rarely: one computation per (viewer, range), kept until the store
    changes (any incident saved or created, any event, any audit record) or the minute turns (an open incident's
    cadence is measured up to now). A few entries only: the pages of a handful of people."""

    def __init__(self, store: Store, catalog: Catalog, size: int = 32):
        self.store, self.catalog, self.size = store, catalog, size
        self._kept: OrderedDict[tuple, Insights] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, viewer: Viewer, now: datetime, months: int, action_envs: Collection[str] | None = None) -> Insights:
        key = (viewer.user, viewer.admin, months, now.replace(second=0, microsecond=0), self.store.change_mark(),
               None if action_envs is None else frozenset(action_envs))
        with self._lock:
            if key in self._kept:
                self._kept.move_to_end(key)
                return self._kept[key]
        found = insights(self.store, self.catalog, viewer, now, months, action_envs)
        with self._lock:
            self._kept[key] = found
            while len(self._kept) > self.size:
                self._kept.popitem(last=False)
        return found


def _cadence_kept(incident: IncidentTimes, catalog: Catalog, updates: list[datetime], now: datetime) -> float:
    """1.0 when every status update came within the severity's cadence while the incident was open."""
    severity = catalog.severities.get(incident.severity)
    every = severity.update_every if severity else timedelta(minutes=30)
    end = incident.resolved_at or now
    open_for = max((end - incident.declared_at).total_seconds(), 1.0)
    gaps, last = 0.0, incident.declared_at
    for at in [*(u for u in updates if u < end), end]:
        gaps += max(0.0, ((at - last) - every).total_seconds())
        last = at
    return max(0.0, 1.0 - gaps / open_for)


def _percentiles(values: list[timedelta], target: timedelta | None, met: list[bool] | None = None) -> Percentiles:
    if not values:
        return Percentiles(target=target)
    ordered = sorted(values)

    def pick(share: float) -> timedelta:  # nearest rank: the smallest value with `share` of them at or below it
        return ordered[max(0, math.ceil(share * len(ordered)) - 1)]

    if met is None and target is not None:
        met = [v <= target for v in values]
    within = sum(met) / len(met) if met else None
    return Percentiles(len(ordered), pick(0.5), pick(0.9), target, within)
