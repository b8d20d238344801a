"""The public status page's domain: public incidents (separate from the internal ones), components and their status,
and the page's overall indicator. Plain models and rules, no I/O.

A public incident holds only what was written for the public — its own title, impact, state, the components it
affects and its public updates — plus the internal incident's number, which never leaves opsbot (its public id is
random and stable). A component's status is the worst any open public incident, public maintenance in progress or a
person gives it; with none of them, it is operational again."""
from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum

from pydantic import BaseModel, Field


class Impact(StrEnum):
    NONE = "none"
    MINOR = "minor"
    MAJOR = "major"
    CRITICAL = "critical"


class PublicState(StrEnum):
    INVESTIGATING = "investigating"
    IDENTIFIED = "identified"
    MONITORING = "monitoring"
    RESOLVED = "resolved"


class ComponentStatus(StrEnum):
    OPERATIONAL = "operational"
    DEGRADED_PERFORMANCE = "degraded_performance"
    PARTIAL_OUTAGE = "partial_outage"
    MAJOR_OUTAGE = "major_outage"
    UNDER_MAINTENANCE = "under_maintenance"


IMPACT_ORDER = {Impact.NONE: 0, Impact.MINOR: 1, Impact.MAJOR: 2, Impact.CRITICAL: 3}
# Worst last: maintenance is planned, so any real outage outranks it.
STATUS_ORDER = {ComponentStatus.OPERATIONAL: 0, ComponentStatus.UNDER_MAINTENANCE: 1,
                ComponentStatus.DEGRADED_PERFORMANCE: 2, ComponentStatus.PARTIAL_OUTAGE: 3,
                ComponentStatus.MAJOR_OUTAGE: 4}
# What a public incident's impact does to the components it names, unless an update says otherwise.
IMPACT_STATUS = {Impact.NONE: ComponentStatus.OPERATIONAL, Impact.MINOR: ComponentStatus.DEGRADED_PERFORMANCE,
                 Impact.MAJOR: ComponentStatus.PARTIAL_OUTAGE, Impact.CRITICAL: ComponentStatus.MAJOR_OUTAGE}
STATUS_IMPACT = {ComponentStatus.OPERATIONAL: Impact.NONE, ComponentStatus.UNDER_MAINTENANCE: Impact.NONE,
                 ComponentStatus.DEGRADED_PERFORMANCE: Impact.MINOR, ComponentStatus.PARTIAL_OUTAGE: Impact.MAJOR,
                 ComponentStatus.MAJOR_OUTAGE: Impact.CRITICAL}
# The severity's default impact when a publication gives none (the runbooks' P0 is a critical outage).
SEVERITY_IMPACT = {"P0": Impact.CRITICAL, "P1": Impact.MAJOR, "P2": Impact.MINOR, "P3": Impact.MINOR}
# Statuspage's own wording of the overall indicator.
INDICATOR_TEXT = {"none": "All Systems Operational", "minor": "Minor Service Outage", "major": "Partial System Outage",
                  "critical": "Major Service Outage", "maintenance": "Service Under Maintenance"}
STATUS_TEXT = {ComponentStatus.OPERATIONAL: "Operational", ComponentStatus.DEGRADED_PERFORMANCE: "Degraded Performance",
               ComponentStatus.PARTIAL_OUTAGE: "Partial Outage", ComponentStatus.MAJOR_OUTAGE: "Major Outage",
               ComponentStatus.UNDER_MAINTENANCE: "Under Maintenance"}


def new_public_id() -> str:
    """12 lowercase letters and digits, like Statuspage's ids: random, so they say nothing of internal numbering."""
    alphabet = "abcdefghijklmnopqrstuvwxyz0123456789"
    return "".join(secrets.choice(alphabet) for _ in range(12))


def stable_id(kind: str, name: str) -> str:
    """A component's (or the page's) id, the same on every replica and in every build: derived from its name."""
    digest = int.from_bytes(hashlib.sha256(f"{kind}:{name}".encode()).digest()[:8], "big")
    alphabet, out = "abcdefghijklmnopqrstuvwxyz0123456789", ""
    for _ in range(12):
        digest, rest = divmod(digest, 36)
        out += alphabet[rest]
    return out


class PublicUpdate(BaseModel):
    id: str
    state: PublicState
    body: str
    at: datetime
    components: dict[str, ComponentStatus] = Field(default_factory=dict)  # the affected components at that moment


class PublicIncident(BaseModel):
    id: str
    number: int  # the internal incident: never shown, never exported to the page
    name: str
    impact: Impact
    state: PublicState
    components: dict[str, ComponentStatus] = Field(default_factory=dict)
    updates: list[PublicUpdate] = Field(default_factory=list)  # oldest first
    created_at: datetime
    updated_at: datetime
    monitoring_at: datetime | None = None
    resolved_at: datetime | None = None

    @property
    def is_open(self) -> bool:
        return self.state is not PublicState.RESOLVED


class ManualStatus(BaseModel):
    """A component's status set by a person (`/status component`), until set back to operational."""

    status: ComponentStatus
    reason: str | None = None
    by: str
    at: datetime


class ComponentState(BaseModel):
    name: str
    status: ComponentStatus = ComponentStatus.OPERATIONAL  # what the page shows now
    since: datetime | None = None  # when it last changed (None: never has)
    manual: ManualStatus | None = None


class HistoryEntry(BaseModel):
    """A component's status from `at` on (kept for uptime); `cause` says what set it."""

    component: str
    status: ComponentStatus
    at: datetime
    cause: str  # "incident <public id>", "manual", "maintenance", "released"


@dataclass
class StatusSnapshot:
    """What a change of the page is computed from, read at one `version` of the page."""

    version: int
    components: dict[str, ComponentState]
    open_incidents: list[PublicIncident]
    maintenance: set[str] = field(default_factory=set)  # components under public maintenance in progress


def worst(statuses: list[ComponentStatus]) -> ComponentStatus:
    return max(statuses, key=STATUS_ORDER.__getitem__, default=ComponentStatus.OPERATIONAL)


def effective_statuses(names: list[str], open_incidents: list[PublicIncident],
                       manual: dict[str, ManualStatus | None], maintenance: set[str]) -> dict[str, ComponentStatus]:
    """Each component's status: the worst its open public incidents, maintenance in progress and a person give it."""
    found: dict[str, ComponentStatus] = {}
    for name in names:
        given = [incident.components[name] for incident in open_incidents if name in incident.components]
        if manual.get(name) is not None:
            given.append(manual[name].status)  # type: ignore[union-attr]
        if name in maintenance:
            given.append(ComponentStatus.UNDER_MAINTENANCE)
        found[name] = worst(given)
    return found


def indicator(statuses: list[ComponentStatus], open_incidents: list[PublicIncident], maintenance: bool) -> str:
    """The page's overall indicator: the worst of the open incidents' impacts and the components' statuses
    (`none|minor|major|critical`), or `maintenance` when only maintenance is under way."""
    level = max([IMPACT_ORDER[incident.impact] for incident in open_incidents]
                + [IMPACT_ORDER[STATUS_IMPACT[status]] for status in statuses], default=0)
    if level == 0 and (maintenance or ComponentStatus.UNDER_MAINTENANCE in statuses):
        return "maintenance"
    return next(impact.value for impact, order in IMPACT_ORDER.items() if order == level)
