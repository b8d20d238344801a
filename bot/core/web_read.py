"""What the web view (/ui/) shows, as core queries over the same store and services every surface uses: the
incident list with its filters and response times, one incident's record, the audit log for admins, and insights.
Privacy and roles are the core's: a private incident exists only for its participants and admins (others get the
answer an unknown id gets), and the audit log needs admin (an environment's admins see only its records)."""
from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from itertools import islice

from bot.config.catalog import Catalog
from bot.config.environments import Role
from bot.core.audit import AuditRecord
from bot.core.models import Incident, Status
from bot.core.ops import OpsService
from bot.core.ports import Clock, Store
from bot.core.privacy import Viewer, may_see, viewer_for
from bot.core.search import SearchRequest, SearchService
from bot.errors import NotFound, PermissionDenied, UsageError

PAGE = 50
SEARCHED = 200  # matches of a text filter, best first, before the other filters
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
    text: str = ""  # words as `/incident search` takes them


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


class WebRead:
    def __init__(self, store: Store, catalog: Catalog, ops: OpsService, clock: Clock,
                 search: SearchService | None = None):
        self.store, self.catalog, self.ops, self.clock, self.search = store, catalog, ops, clock, search

    def viewer(self, user: str) -> Viewer:
        return viewer_for(self.catalog, user, None, self.ops.groups_of(user))

    # --- incidents -------------------------------------------------------------------------------------------
    def incidents(self, user: str, filters: Filters) -> Listing:
        if filters.state and filters.state not in STATES:
            raise UsageError(f"'{filters.state[:20]}' is not a state; use open, resolved or closed.")
        if filters.severity and filters.severity.upper() not in self.catalog.severities:
            raise UsageError(f"'{filters.severity[:20]}' is not a severity; use {', '.join(self.catalog.severities)}.")
        viewer = self.viewer(user)
        start = (max(filters.page, 1) - 1) * PAGE
        visible = (i for i in self._candidates(filters, viewer) if may_see(i, viewer))
        # Read only as far as this page and one more row (is there a next page?), never the whole store.
        chosen = list(islice(visible, start, start + PAGE + 1))
        return Listing([self.row(i) for i in chosen[:PAGE]], max(filters.page, 1), len(chosen) > PAGE)

    def _candidates(self, f: Filters, viewer: Viewer) -> Iterable[Incident]:
        if not f.text.strip():
            return self.store.incidents_where(STATES.get(f.state), f.severity.upper() or None, f.service or None,
                                              f.env or None, f.since, f.until)
        if self.search is None:
            raise UsageError("Text search is not available here.")
        # Search ranks the best matches (open ones too), within its cap; the other filters narrow them.
        found = self.search.search(SearchRequest(f.text, include_open=True), viewer, limit=SEARCHED)
        return [hit.incident for hit in found if self._matches(hit.incident, f)]

    @staticmethod
    def _matches(incident: Incident, f: Filters) -> bool:
        return ((not f.state or incident.status in STATES[f.state])
                and (not f.severity or incident.severity == f.severity.upper())
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

    def action_scope(self, user: str) -> set[str] | None:
        """The environments whose ops actions this person's insights count (None: all, for admins): those they
        hold a role in, as the audit log is scoped to its admins' environments."""
        if self.viewer(user).admin:
            return None
        return {name for name in self.catalog.environments if self.ops.role_of(user, name) >= Role.VIEWER}

    def audit(self, user: str, who: str = "", env: str = "", action: str = "", outcome: str = "",
              since: datetime | None = None, until: datetime | None = None, seq: int | None = None,
              limit: int = 500) -> list[AuditRecord]:
        """Newest first, at most `limit`: read from the newest back until that many match."""
        scope = self.audit_scope(user)
        found = (r for r in self.store.audit_newest(since, until, seq)
                 if (scope is None or r.env in scope) and (not who or r.user == who) and (not env or r.env == env)
                 and (not action or r.action == action) and (not outcome or r.phase == outcome))
        return list(islice(found, limit))
