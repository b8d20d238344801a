"""One flow per incident capability, called by every surface: the change (IncidentService) and the effects it
emits. Opening emits the channel, the announcement, the similar past incidents and the declaration snapshot; resolving emits INCIDENT
RESOLVED and the resolution snapshot; every change refreshes what shows the incident. Surfaces carry effects out;
they never choose them."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta

from bot.core.effects import (
    Announcement,
    Effect,
    HealthSnapshot,
    IncidentChanged,
    IncidentOpened,
    Result,
    SimilarIncidents,
)
from bot.core.evidence import Bundle, EvidenceService
from bot.core.incidents import IncidentService
from bot.core.models import Incident
from bot.core.redact import redact
from bot.core.requests import Actor
from bot.core.status_models import PublicIncident
from bot.core.status_page import PublicChange, StatusPageService
from bot.errors import UsageError


@dataclass(frozen=True)
class OpenIncident:
    """A declaration, typed: from `/incident open …`, the Slack modal or a web form."""

    severity: str
    title: str
    impact: str | None = None
    service: str | None = None
    env: str | None = None
    private: bool | None = None  # None: as the incident type or severity says
    type: str | None = None
    eta: datetime | None = None  # the estimated resolution, shown in the INCIDENT ALERT


def opened_effects(incident: Incident, by: str, invite: str | None = None,
                   announce: str | None = None) -> list[Effect]:
    """What a new incident sets off, however it was opened (a person, an alert). `invite`: who joins its channel
    (default: who opened it; "" for nobody); `announce`: another announcement channel than the catalog's."""
    effects: list[Effect] = [IncidentOpened(incident.number, by if invite is None else invite, announce),
                             SimilarIncidents(incident.number)]
    if incident.env:
        effects.append(HealthSnapshot(incident.number, "declaration", by))
    return effects


def resolved_effects(incident: Incident, by: str) -> list[Effect]:
    effects: list[Effect] = [IncidentChanged(incident.number), Announcement(incident.number, "resolved", by)]
    if incident.env:
        effects.append(HealthSnapshot(incident.number, "resolution", by))
    return effects


def _changed(incident: Incident, *more: Effect) -> Result[Incident]:
    return Result(incident, [IncidentChanged(incident.number), *more])


class IncidentFlows:
    def __init__(self, incidents: IncidentService, status: StatusPageService | None = None):
        self.incidents = incidents
        self.status = status  # the public status page: a published incident's resolution is posted there

    def declare(self, actor: str, request: OpenIncident, channel: str | None = None) -> Result[Incident]:
        """`channel`: a surface without channels to create (the console) names the one it types in."""
        incident = self.incidents.open(actor, request.severity, request.title, impact=request.impact,
                                       service=request.service, env=request.env, channel=channel,
                                       private=request.private, type=request.type, eta=request.eta)
        return Result(incident, opened_effects(incident, actor))

    def resolve(self, number: int, actor: str, summary: str, public_text: str | None = None) -> Result[Incident]:
        """Resolved, and — when it is on the status page — its public "resolved" update (`public_text`, else the
        catalog's template) posted and its components released. `public_text` is checked before anything changes."""
        text = self.status.public_text(public_text) if self.status is not None else None
        if public_text is not None and (self.status is None or self.status.published(number) is None):
            raise UsageError(f"INC-{number} is not on the status page; a public text is for a published incident.")
        incident = self.incidents.resolve(number, actor, summary)
        if self.status is not None:
            self.status.resolve(incident, actor, text)
        return Result(incident, resolved_effects(incident, actor))

    def publish(self, number: int, actor: str, title: str, components: list[str] | None = None,
                impact: str | None = None, state: str | None = None, text: str | None = None) -> Result[PublicIncident]:
        public = self._status().publish(self.incidents.get(number), actor, title, components, impact, state, text)
        return Result(public, [IncidentChanged(number)])

    def public_update(self, number: int, actor: str, change: PublicChange,
                      eta: datetime | None = None) -> Result[Incident]:
        """A public update is also the internal status update (timeline, announcement): everything is checked
        before either is written."""
        status = self._status()
        status.public_update(self.incidents.get(number), actor, change, dry=True)
        result = self.post_update(number, actor, change.text, eta)
        status.public_update(result.value, actor, change)
        return result

    def _status(self) -> StatusPageService:
        if self.status is None:
            raise UsageError("This opsbot has no status page.")
        return self.status

    def post_update(self, number: int, actor: str, text: str, eta: datetime | None = None) -> Result[Incident]:
        incident = self.incidents.post_update(number, actor, text, eta)
        return _changed(incident, Announcement(number, "update", actor, redact(text), eta.isoformat() if eta else None))

    def reopen(self, number: int, actor: str, reason: str | None = None,
               public_text: str | None = None) -> Result[Incident]:
        """Reopened; with `public_text`, its resolved public incident is reopened on the status page too (checked
        before anything changes). Without it the page is left as it is: the reply says how to tell the public."""
        text = self.status.public_text(public_text) if self.status is not None else None
        if public_text is not None:
            published = self.status.published(number) if self.status is not None else None
            if published is None:
                raise UsageError(f"INC-{number} is not on the status page; a public text is for a published incident.")
            if published.is_open:
                raise UsageError(f"INC-{number} is still open on the status page; post a public update instead.")
            assert self.status is not None
            self.status.permit_update(self.incidents.get(number), actor)
        incident = self.incidents.reopen(number, actor, reason)
        if self.status is not None and text is not None:
            self.status.reopen(incident, actor, text)
        return _changed(incident, Announcement(number, "reopened", actor, redact(reason) if reason else None))

    def acknowledge(self, number: int, actor: str) -> Result[Incident]:
        return _changed(self.incidents.acknowledge(number, actor))

    def set_status(self, number: int, actor: str, status: str, text: str | None = None) -> Result[Incident]:
        return _changed(self.incidents.set_status(number, actor, status, text))

    def set_severity(self, number: int, actor: str, severity: str) -> Result[Incident]:
        return _changed(self.incidents.set_severity(number, actor, severity))

    def assign_role(self, number: int, actor: str, role: str, user: str) -> Result[Incident]:
        return _changed(self.incidents.assign_role(number, actor, role, user))

    def add_note(self, number: int, actor: str, text: str, data: dict | None = None) -> Result[Incident]:
        return _changed(self.incidents.add_note(number, actor, text, data))

    def set_impact(self, number: int, actor: str, impact: str) -> Result[Incident]:
        return _changed(self.incidents.set_impact(number, actor, impact))

    def set_impact_start(self, number: int, actor: str, when: datetime) -> Result[Incident]:
        return _changed(self.incidents.set_impact_start(number, actor, when))

    def set_detected(self, number: int, actor: str, when: datetime) -> Result[Incident]:
        return _changed(self.incidents.set_detected(number, actor, when))

    def add_action_item(self, number: int, actor: str, text: str, owner: str | None = None,
                        due: date | None = None) -> Result[Incident]:
        return _changed(self.incidents.add_action_item(number, actor, text, owner, due))

    def complete_action_item(self, number: int, actor: str, item_number: int) -> Result[Incident]:
        return _changed(self.incidents.complete_action_item(number, actor, item_number))

    def close(self, number: int, actor: str) -> Result[Incident]:
        return _changed(self.incidents.close(number, actor))

    def postmortem_done(self, number: int, actor: str) -> Result[Incident]:
        return _changed(self.incidents.postmortem_done(number, actor))



class EvidenceFlows:
    """Evidence kept for an incident is on its timeline: what shows the incident is refreshed."""

    def __init__(self, evidence: EvidenceService):
        self.evidence = evidence

    def collect(self, actor: Actor, number: int, env: str | None = None, since: timedelta | None = None,
                only: list[str] | None = None) -> Result[Bundle]:
        return Result(self.evidence.collect(actor, number, env, since, only), [IncidentChanged(number)])

    def add(self, actor: Actor, number: int, text: str) -> Result[Bundle]:
        return Result(self.evidence.add(actor, number, text), [IncidentChanged(number)])
