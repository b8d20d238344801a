"""What the web view (/ui/) shows, as core queries over the same store and services every surface uses: the
incident list with its filters and response times, one incident's record, the audit log for admins, and insights.
Privacy and roles are the core's: a private incident exists only for its participants and admins (others get the
answer an unknown id gets), and the audit log needs admin (an environment's admins see only its records)."""
from __future__ import annotations

import statistics
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from bot.config.catalog import Catalog
from bot.config.environments import Role
from bot.core.audit import AuditRecord
from bot.core.models import Incident, Status
from bot.core.ops import OpsService
from bot.core.ports import Clock, Store
from bot.core.privacy import Viewer, may_see, viewer_for
from bot.errors import NotFound, PermissionDenied, UsageError

PAGE = 50
STATES = {"open": (Status.DECLARED, Status.ACKNOWLEDGED, Status.INVESTIGATING, Status.MITIGATED),
          "resolved": (Status.RESOLVED,), "closed": (Status.CLOSED,)}


@dataclass(frozen=True)
class Filters:
    state: str = ""  # open | resolved | closed | "" (all)
    severity: str = ""
    service: str = ""
    env: str = ""
    since: datetime | None = None
    until: datetime | None = None
    page: int = 1
    size: int = PAGE


@dataclass(frozen=True)
class Row:
    incident: Incident
    tta: timedelta | None  # time to acknowledge
    ttr: timedelta | None  # time to resolve
    tta_target: timedelta | None
    ttr_target: timedelta | None

    @property
    def duration(self) -> timedelta | None:
        end = self.incident.resolved_at
        return None if end is None else end - self.incident.declared_at


@dataclass
class Listing:
    rows: list[Row]
    page: int
    more: bool


@dataclass
class Percentiles:
    count: int = 0
    p50: timedelta | None = None
    p90: timedelta | None = None
    target: timedelta | None = None
    within: float | None = None  # share within the target


@dataclass
class Insights:
    months: list[str]
    by_severity: dict[str, Counter] = field(default_factory=dict)  # month -> severity -> count
    by_service: dict[str, Counter] = field(default_factory=dict)
    mtta: dict[str, Percentiles] = field(default_factory=dict)  # per severity
    mttm: dict[str, Percentiles] = field(default_factory=dict)
    mttr: dict[str, Percentiles] = field(default_factory=dict)
    updates_kept: float | None = None  # share of open time with a status update within the severity's cadence
    actions: Counter = field(default_factory=Counter)  # ops actions by outcome


class WebRead:
    def __init__(self, store: Store, catalog: Catalog, ops: OpsService, clock: Clock):
        self.store, self.catalog, self.ops, self.clock = store, catalog, ops, clock

    def viewer(self, user: str) -> Viewer:
        return viewer_for(self.catalog, user, None, self.ops.groups_of(user))

    # --- incidents -------------------------------------------------------------------------------------------
    def incidents(self, user: str, filters: Filters) -> Listing:
        if filters.state and filters.state not in STATES:
            raise UsageError(f"'{filters.state[:20]}' is not a state; use open, resolved or closed.")
        if filters.severity and filters.severity.upper() not in self.catalog.severities:
            raise UsageError(f"'{filters.severity[:20]}' is not a severity; use {', '.join(self.catalog.severities)}.")
        viewer = self.viewer(user)
        statuses = STATES.get(filters.state)
        start = (max(filters.page, 1) - 1) * filters.size
        wanted = start + filters.size + 1  # one more than the page: whether there is a next one
        read = wanted
        while True:  # newest first, reading ten times more each round until the page is full (or all is read)
            batch = self.store.list_incidents(include_closed=True, limit=read, statuses=statuses)
            found = [i for i in batch if may_see(i, viewer) and self._matches(i, filters)]
            if len(found) >= wanted or len(batch) < read:
                break
            read *= 10
        return Listing([self.row(i) for i in found[start:start + filters.size]], max(filters.page, 1),
                       len(found) > start + filters.size)

    @staticmethod
    def _matches(incident: Incident, f: Filters) -> bool:
        return ((not f.severity or incident.severity == f.severity.upper())
                and (not f.service or incident.service == f.service) and (not f.env or incident.env == f.env)
                and (f.since is None or incident.declared_at >= f.since)
                and (f.until is None or incident.declared_at < f.until))

    def row(self, incident: Incident) -> Row:
        severity = self.catalog.severities.get(incident.severity)
        tta_target = (severity.response_deadline(incident.declared_at) - incident.declared_at) if severity else None
        return Row(incident,
                   incident.acknowledged_at - incident.declared_at if incident.acknowledged_at else None,
                   incident.resolved_at - incident.declared_at if incident.resolved_at else None,
                   tta_target, severity.resolve if severity else None)

    def incident(self, user: str, number: int) -> Incident:
        """The incident, or NotFound (as for an unknown id) when it is private and the user is not a participant."""
        incident = self.store.get_incident(number)
        if not may_see(incident, self.viewer(user)):
            raise NotFound(f"There is no incident INC-{number}.")
        return incident

    # --- audit -----------------------------------------------------------------------------------------------
    def audit_scope(self, user: str) -> set[str] | None:
        """The environments whose records this person may read (None: every record), or refused."""
        if self.viewer(user).admin:
            return None
        envs = {name for name in self.catalog.environments if self.ops.role_of(user, name) >= Role.ADMIN
                and user in {m for members in self.catalog.roles.get(name, {}).values() for m in members}}
        if not envs:
            raise PermissionDenied("The audit log is for admins (the catalog's roles).")
        return envs

    def audit(self, user: str, who: str = "", env: str = "", action: str = "", outcome: str = "",
              since: datetime | None = None, limit: int = 500) -> list[AuditRecord]:
        scope = self.audit_scope(user)
        records = [r for r in self.store.audit_records(since=since)
                   if (scope is None or r.env in scope) and (not who or r.user == who) and (not env or r.env == env)
                   and (not action or r.action == action) and (not outcome or r.phase == outcome)]
        return records[-limit:][::-1]  # newest first

    # --- insights --------------------------------------------------------------------------------------------
    def insights(self, user: str, months: int = 6) -> Insights:
        viewer, now = self.viewer(user), self.clock()
        since = (now.replace(day=1) - timedelta(days=31 * (months - 1))).replace(day=1, hour=0, minute=0, second=0,
                                                                                 microsecond=0)
        chosen = [i for i in self.store.list_incidents(include_closed=True, limit=2**31)
                  if i.declared_at >= since and may_see(i, viewer)]
        result = Insights(months=sorted({f"{i.declared_at:%Y-%m}" for i in chosen}))
        for incident in chosen:
            month = f"{incident.declared_at:%Y-%m}"
            result.by_severity.setdefault(month, Counter())[incident.severity] += 1
            result.by_service.setdefault(month, Counter())[incident.service or "(none)"] += 1
        for name, severity in self.catalog.severities.items():
            mine = [i for i in chosen if i.severity == name]
            result.mtta[name] = _percentiles([i.acknowledged_at - i.declared_at for i in mine if i.acknowledged_at],
                                             severity.response_deadline(since) - since)
            result.mttm[name] = _percentiles([i.mitigated_at - i.declared_at for i in mine if i.mitigated_at],
                                             severity.mitigate)
            result.mttr[name] = _percentiles([i.resolved_at - i.declared_at for i in mine if i.resolved_at],
                                             severity.resolve)
        updates = self.store.event_times("update")
        kept = [self._cadence_kept(i, now, updates.get(i.number, [])) for i in chosen]
        result.updates_kept = statistics.fmean(kept) if kept else None
        result.actions = Counter(r.phase for r in self.store.audit_records(since=since)
                                 if r.env and r.phase in ("succeeded", "failed", "denied", "refused"))
        return result

    def _cadence_kept(self, incident: Incident, now: datetime, times: list[datetime]) -> float:
        """1.0 when every status update came within the severity's cadence while the incident was open."""
        every = self.catalog.severities[incident.severity].update_every if incident.severity in \
            self.catalog.severities else timedelta(minutes=30)
        end = incident.resolved_at or now
        open_for = max((end - incident.declared_at).total_seconds(), 1.0)
        gaps, last = 0.0, incident.declared_at
        for at in [*sorted(times), end]:
            gaps += max(0.0, ((at - last) - every).total_seconds())
            last = at
        return max(0.0, 1.0 - gaps / open_for)


def _percentiles(values: list[timedelta], target: timedelta | None) -> Percentiles:
    if not values:
        return Percentiles(target=target)
    ordered = sorted(values)
    pick = lambda share: ordered[min(len(ordered) - 1, int(share * len(ordered)))]
    within = sum(v <= target for v in ordered) / len(ordered) if target is not None else None
    return Percentiles(len(ordered), pick(0.5), pick(0.9), target, within)
