"""What a change did, for the surface to carry out (effects, not flags).

The core's services return these with their result (`Result`): the same change emits the same effects whoever
asked for it — a slash command, a button, a modal, the console, an alert, the scheduler. Each surface has one
effect handler: in Slack an opened incident gets its channel, a changed one has its pinned summary and topic
refreshed, a plan is offered with a Confirm button, a health snapshot is taken in the background; the console
prints, or asks y/N for a plan; without a chat surface they are logged.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Generic, TypeVar


@dataclass(frozen=True)
class IncidentOpened:
    number: int
    by: str  # Slack user ID: invited to the new channel ("" for nobody, e.g. opened by an alert)
    announce: str | None = None  # the announcement channel, when not the catalog's (an alert rule's `channel`)


@dataclass(frozen=True)
class SimilarIncidents:
    """Post once in the new incident's channel the past incidents most like it (bot/core/search.py), after the
    channel is made; nothing when none is similar enough."""

    number: int


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


@dataclass(frozen=True)
class AskCommander:
    """Every alert of the incident's group resolved: its commander (or, without one, its channel) is asked whether
    to resolve it."""

    number: int
    commander: str | None


@dataclass(frozen=True)
class StatusPageNotice:
    """What the page says and what the checks found disagree (bot/core/status_watch.py): told in the incident's
    channel (`number`), else the announcement channel. Never a publication: a person decides."""

    number: int | None  # the incident whose channel hears it (None: the announcement channel)
    kind: str  # "unpublished": checks fail under an operational component; "healthy": ask about monitoring
    component: str | None = None
    failing: tuple[str, ...] = ()
    minutes: int = 0


Effect = (IncidentOpened | SimilarIncidents | IncidentChanged | PlanAwaitingConfirmation | HealthSnapshot | Announcement
          | AskCommander | StatusPageNotice)
T = TypeVar("T")


@dataclass
class Result(Generic[T]):
    """A service's answer: what it returns, and what the surfaces must carry out because of it."""

    value: T
    effects: list[Effect] = field(default_factory=list)
