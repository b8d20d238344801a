"""What a change did, for the surface to carry out (effects, not flags).

Commands return these on their reply; each surface's Conversations port acts on them: in Slack an opened
incident gets its channel, a changed one has its pinned summary and topic refreshed, a plan is offered with a
Confirm button; the console prints, or asks y/N for a plan. One path whatever started the change.
"""
from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class IncidentOpened:
    number: int
    by: str  # Slack user ID: invited to the new channel ("" for nobody, e.g. opened by an alert)
    announce: str | None = None  # the announcement channel, when not the catalog's (an alert rule's `channel`)


@dataclass(frozen=True)
class IncidentChanged:
    number: int


@dataclass(frozen=True)
class PlanAwaitingConfirmation:
    plan_id: str
    summary: str


@dataclass(frozen=True)
class HealthSnapshot:
    """Keep the environment's health as evidence now (at declaration, at resolution); slow checks must not hold
    up the reply, so the surface decides when."""

    number: int
    moment: str  # "declaration" | "resolution"
    by: str


@dataclass(frozen=True)
class Announcement:
    """A message for the announcement channel, in the runbooks' format: a status update, the resolution, a
    reopening. `text` is the update, resolution summary or reason (neutral, redacted); `eta` an ISO time."""

    number: int
    kind: str  # update | resolved | reopened
    by: str
    text: str | None = None
    eta: str | None = None


Effect = IncidentOpened | IncidentChanged | PlanAwaitingConfirmation | HealthSnapshot | Announcement
