"""The incident domain: plain pydantic models, no I/O."""
from __future__ import annotations

from datetime import date, datetime
from enum import StrEnum

from pydantic import BaseModel, Field

ROLES = ("commander", "scribe", "comms")


class Status(StrEnum):
    DECLARED = "declared"
    ACKNOWLEDGED = "acknowledged"
    INVESTIGATING = "investigating"
    MITIGATED = "mitigated"
    RESOLVED = "resolved"
    CLOSED = "closed"


OPEN_STATUSES = (Status.DECLARED, Status.ACKNOWLEDGED, Status.INVESTIGATING, Status.MITIGATED)


class EventKind(StrEnum):
    DECLARED = "declared"
    STATUS = "status"
    SEVERITY = "severity"
    ROLE = "role"
    IMPACT = "impact"
    UPDATE = "update"
    NOTE = "note"
    ACTION_ADDED = "action_added"
    ACTION_DONE = "action_done"
    POSTMORTEM = "postmortem"
    ESCALATION = "escalation"
    CHANNEL = "channel"
    EVIDENCE = "evidence"
    OPS = "ops"  # an /ops action's outcome (data: action, env, target, outcome, duration_ms, audit_seq, attempt)
    CHECK = "check"  # a health check run for the incident (data: env, levels, results)
    IMPACT_START = "impact_start"
    DETECTED = "detected"
    ALERT = "alert"  # an alert joined or left the incident's alert group (bot/core/alerts.py)
    PUBLIC = "public"  # published on the status page, or a public update (data: public_id, state, impact, components)


class ActionItem(BaseModel):
    number: int
    text: str
    owner: str | None = None
    due: date | None = None
    done_at: datetime | None = None


class Incident(BaseModel):
    number: int = 0
    title: str
    severity: str
    status: Status = Status.DECLARED
    impact: str | None = None
    service: str | None = None
    env: str | None = None
    channel: str | None = None  # the chat channel bound to the incident (Slack channel ID)
    channel_name: str | None = None
    summary_ref: str | None = None  # the pinned summary message (Slack ts), edited after each change
    opened_by: str
    roles: dict[str, str] = Field(default_factory=dict)
    declared_at: datetime
    acknowledged_at: datetime | None = None
    investigating_at: datetime | None = None
    mitigated_at: datetime | None = None
    resolved_at: datetime | None = None
    closed_at: datetime | None = None
    resolution: str | None = None
    postmortem_done_at: datetime | None = None
    eta: datetime | None = None  # the estimated resolution, as declared or as the latest update says
    last_update_at: datetime | None = None  # the latest `/incident update`: the status-update cadence runs from it
    impact_started_at: datetime | None = None  # when users were first hurt (said afterwards; may precede declaration)
    detected_at: datetime | None = None  # when someone or something first noticed (defaults to the declaration)
    implied: list[str] = Field(default_factory=list)  # milestones stamped by a later step, never explicitly reached
    action_items: list[ActionItem] = Field(default_factory=list)
    private: bool = False  # a private channel; announcements leave out its title and impact
    type: str | None = None  # a kind from the catalog's incident_types (e.g. security)
    # Alerts: the groups that opened or joined it, its firing alerts counted per alert name (every alert, also those
    # summarised on the timeline), and whether it is an alert storm's (groups past alerts.storm.max_new join it).
    alert_groups: int = 0
    alert_counts: dict[str, int] = Field(default_factory=dict)
    storm: bool = False
    announcement_ref: str | None = None  # the announcement (Slack "channel ts") edited as a storm grows
    version: int = 0

    @property
    def id(self) -> str:
        return f"INC-{self.number}"

    @property
    def is_open(self) -> bool:
        return self.status in OPEN_STATUSES

    @property
    def has_timers(self) -> bool:
        """Whether the scheduler's incident timers may still fire: open, post-mortem not written, or an
        action item with a due date not done. Depends on state only, never on the time."""
        if self.is_open or self.postmortem_done_at is None:
            return True
        return any(item.done_at is None and item.due is not None for item in self.action_items)

    @property
    def commander(self) -> str | None:
        return self.roles.get("commander")


class Event(BaseModel):
    """One timeline entry. The timeline is append-only: events are never edited or deleted."""

    incident: int = 0
    at: datetime
    actor: str
    kind: EventKind
    text: str
    data: dict = Field(default_factory=dict)
