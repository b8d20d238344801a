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


Effect = IncidentOpened | IncidentChanged | PlanAwaitingConfirmation
