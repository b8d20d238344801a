"""Alerts open incidents: a typed alert group (from Alertmanager or the generic webhook, see bot/alerts) is matched
to a rule of opsbot.yml's `alerts:` and becomes, at most, one incident per group key.

The first firing delivery opens the incident (through IncidentService's declaration, so channel, announcement
and timers are those of `/incident open`); later deliveries add a timeline event per alert that joins or
resolves; when the whole group resolves, the rule either resolves the incident or notes it and asks the
commander. Which of that happens is decided inside one store transaction (`AlertStore.record_alerts`), keyed
by the group and each alert's fingerprint, so concurrent deliveries and replicas never open a second incident
or record an alert twice. Every change is audited with the alert source as the actor.

Storms (`alerts.storm`): once `max_new` groups have needed a new incident within `per`, further groups join one
"alert storm" incident instead (decided in the same transaction, counted from the store, so the rate survives a
restart and is shared by replicas) until fewer than `max_new` groups need one within `per`. Big groups: every alert
is counted on its incident (per alert name), the first `keep_in_full` new alerts of a delivery get an event each
and the rest one summary (bot/core/alert_events.py).
"""
from __future__ import annotations

import logging
import secrets
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Literal

from pydantic import BaseModel, Field

from bot.config.alerts import AlertRule, render
from bot.config.catalog import Catalog
from bot.core.alert_events import events_for, group_resolved_key, inert_mentions, join_events, seen_alerts
from bot.core.audit import AuditRecord
from bot.core.effects import AskCommander, Effect, IncidentChanged
from bot.core.flows import IncidentFlows, opened_effects
from bot.core.incidents import IncidentService, scrubbed_event
from bot.core.models import Event, EventKind, Incident
from bot.core.oncall import on_call
from bot.core.oncall_overrides import Overrides
from bot.core.plain_text import printable, printable_nested
from bot.core.ports import AlertDelivery, AlertStore, StormOpening
from bot.core.redact import redact, redact_nested
from bot.errors import BackendError, OpsbotError
from bot.timeparse import format_duration, show, utcnow

log = logging.getLogger("opsbot.alerts")
AlertStatus = Literal["firing", "resolved"]


class Alert(BaseModel):
    """One alert, as every source is parsed into."""

    fingerprint: str
    status: AlertStatus
    labels: dict[str, str] = Field(default_factory=dict)
    annotations: dict[str, str] = Field(default_factory=dict)
    starts_at: datetime
    ends_at: datetime | None = None
    generator_url: str | None = None
    occurrence: str = ""  # which firing this is (Alertmanager: startsAt); an alert is recorded once per occurrence


class AlertGroup(BaseModel):
    """One delivery: a group of alerts under one key. `labels` are what the rules match (Alertmanager's
    commonLabels). The generic webhook names its incident's fields itself; Alertmanager leaves them to the rule."""

    source: str  # who sent it: the actor of every change (alertmanager, grafana, …)
    kind: str  # which endpoint: alertmanager | webhook
    key: str
    status: AlertStatus
    alerts: list[Alert]
    labels: dict[str, str] = Field(default_factory=dict)
    annotations: dict[str, str] = Field(default_factory=dict)
    title: str | None = None
    severity: str | None = None
    env: str | None = None
    service: str | None = None

    def scrubbed(self) -> AlertGroup:
        """Every text a sender wrote, redacted value by value — before it is queued, so the raw payload never
        reaches the store, and before any text is composed from it (a secret alone in a field is still one inside
        "Alert firing: … — <summary>"). Keys and fingerprints are not redacted (deduplication depends on them), but
        lose control characters like every text (bot/core/plain_text.py): PostgreSQL's text cannot hold a NUL, and
        one such delivery would otherwise stay first in the queue."""
        def text(value: str | None) -> str | None:
            return redact(printable(value)) if value else value

        def fields(value: dict[str, str]) -> dict[str, str]:  # control characters dropped too (plain_text.py)
            return redact_nested(printable_nested(value))

        return self.model_copy(update={
            "key": printable(self.key), "labels": fields(self.labels), "annotations": fields(self.annotations),
            "title": text(self.title), "env": text(self.env), "service": text(self.service),
            "alerts": [alert.model_copy(update={"fingerprint": printable(alert.fingerprint),
                                                "occurrence": printable(alert.occurrence),
                                                "labels": fields(alert.labels),
                                                "annotations": fields(alert.annotations),
                                                "generator_url": text(alert.generator_url)})
                       for alert in self.alerts]})


AlertEffect = Effect  # one effect vocabulary for every source of change
Outcome = Literal["opened", "joined", "updated", "resolved", "noted", "unchanged", "ignored", "duplicate"]


@dataclass
class AlertOutcome:
    outcome: Outcome
    incident: int | None = None
    effects: list[AlertEffect] = field(default_factory=list)
    source: str = ""


class AlertService:
    def __init__(self, store: AlertStore, catalog: Catalog, flows: IncidentFlows,
                 clock: Callable[[], datetime] = utcnow):
        self.store, self.catalog, self.flows, self.clock = store, catalog, flows, clock
        self.incidents: IncidentService = flows.incidents

    def check(self, group: AlertGroup) -> AlertGroup:
        """The group with its severity as the catalog's key; UsageError for an unknown one (nothing is queued)."""
        if group.severity is None:
            return group
        return group.model_copy(update={"severity": self.incidents.severity(group.severity)})

    def accept(self, deliveries: list[tuple[AlertGroup, str]]) -> list[bool]:
        """Queue checked deliveries (group, key) in one transaction: what the sources wait for, a few
        milliseconds. False for a replay."""
        return self.store.queue_alerts([(key, group.scrubbed().model_dump_json()) for group, key in deliveries])

    def process_pending(self, limit: int = 100) -> list[AlertOutcome]:
        """Apply the queued deliveries, oldest first. A delivery that cannot be applied is logged and dropped;
        BackendError (the store is unreachable) propagates, and the deliveries stay queued for the next try."""
        outcomes = []
        for key, doc in self.store.pending_alerts(limit):
            try:
                group = AlertGroup.model_validate_json(doc)  # scrubbed before it was queued
                outcome = self._apply(group, key)
                outcome.source = group.source
                outcomes.append(outcome)
            except (OpsbotError, ValueError) as exc:
                if isinstance(exc, BackendError):
                    raise
                log.error("alert delivery %s dropped: %s", key, exc, exc_info=exc)
                self.store.drop_alert(key)
        return outcomes

    def receive(self, group: AlertGroup, delivery_key: str) -> AlertOutcome:
        """Apply one delivery (a duplicate if another worker has taken it), redacted first."""
        return self._apply(group.scrubbed(), delivery_key)

    def _apply(self, group: AlertGroup, delivery_key: str) -> AlertOutcome:
        rule = self.catalog.alerts.rule_for(group.labels)
        if rule.ignore:
            self.store.drop_alert(delivery_key)
            return AlertOutcome("ignored")
        firing = [alert for alert in group.alerts if alert.status == "firing"]
        opening = self._declaration(group, rule, firing) if firing else None
        now, keep = self.clock(), self.catalog.alerts.keep_in_full
        recorded = self.store.record_alerts(AlertDelivery(
            delivery_key=delivery_key, group_key=f"{group.kind}:{group.key}",
            incident=opening[0] if opening else None, opening_events=opening[1] if opening else [],
            seen=seen_alerts(group), events_for=lambda new: events_for(group, keep, now, new),
            audit=self._audit(group, "alert"), storm=self._storm(group, opening) if opening else None))
        if recorded.duplicate:
            return AlertOutcome("duplicate", recorded.number)
        if recorded.number is None:
            return AlertOutcome("unchanged")  # only resolved alerts, for a group that never opened an incident
        number = recorded.number
        if recorded.opened:  # the same effects as a declaration by hand: channel, announcement, health snapshot
            return AlertOutcome("opened", number, opened_effects(self.incidents.get(number), group.source,
                                                                 invite=rule.commander or "", announce=rule.channel))
        if recorded.joined_storm:  # the storm incident's counts grew: what shows it is refreshed
            return AlertOutcome("joined", number, [IncidentChanged(number)])
        resolved_now = group.status == "resolved" and group_resolved_key(group) in recorded.new_keys
        if not resolved_now:
            return AlertOutcome("updated" if recorded.new_keys else "unchanged", number,
                                [IncidentChanged(number)] if recorded.new_keys else [])
        return self._group_resolved(group, rule, number)

    # --- helpers ---------------------------------------------------------------------------------------------
    def _commander(self, named: str | None, at: datetime) -> str | None:
        """A rule's commander: a user, or whoever is on call in the schedule it names (nobody in a gap)."""
        if named is None or not named.startswith("schedule:"):
            return named
        name = named.removeprefix("schedule:")
        schedule = self.catalog.oncall.schedules.get(name)
        if schedule is None:
            return None
        return on_call(schedule, at, Overrides(self.store, self.catalog, self.clock).active(name)).user

    def _declaration(self, group: AlertGroup, rule: AlertRule, firing: list[Alert]) -> tuple[Incident, list[Event]]:
        first = min(firing, key=lambda alert: alert.starts_at)
        labels, notes = {**group.labels, **first.labels}, {**group.annotations, **first.annotations}
        title = group.title or render(rule.title, labels, notes) or f"Alert group {group.key}"
        limit = self.catalog.limits.title_max
        title = title if len(title) <= limit else title[:limit - 1] + "…"  # an alert is never refused for its title
        title = inert_mentions(title)
        env = group.env or render(rule.env, labels, notes) or None
        incident, events = self.incidents.declaration(
            group.source, group.severity or rule.severity, title,
            service=group.service or render(rule.service, labels, notes) or None, env=env,
            commander=self._commander(rule.commander, self.clock()), impact_started_at=first.starts_at)
        events.append(scrubbed_event(Event(at=events[0].at, actor=group.source, kind=EventKind.IMPACT_START,
                                           text=f"Impact started {show(first.starts_at)} (the first alert's start)",
                                           data={"at": first.starts_at.isoformat(), "source": group.source,
                                                 "group": group.key})))
        if env is not None and env not in self.catalog.environments:  # an alert is never refused: it is said
            events.append(scrubbed_event(Event(
                at=events[0].at, actor=group.source, kind=EventKind.NOTE,
                text=f"The alert names environment '{env[:60]}', which the catalog does not have: no health "
                     "snapshot, evidence or ops action can use it", data={"env": env, "unknown_env": True})))
        return incident, events

    def _storm(self, group: AlertGroup, opening: tuple[Incident, list[Event]]) -> StormOpening:
        """The storm rule for a group that may need a new incident, with the storm incident it would open: the
        group's severity and commander, no service or environment (a storm spans them)."""
        storm, (own, _) = self.catalog.alerts.storm, opening
        now, per = own.declared_at, format_duration(storm.per)
        incident, events = self.incidents.declaration(
            group.source, own.severity, f"Alert storm: more than {storm.max_new} alert groups within {per}",
            commander=own.commander, impact_started_at=own.impact_started_at)
        incident.storm = True
        events.append(scrubbed_event(Event(
            at=now, actor=group.source, kind=EventKind.NOTE,
            text=f"Alert storm: further alert groups join this incident until fewer than {storm.max_new} need a new "
                 f"incident within {per}", data={"storm": "opened", "source": group.source})))
        return StormOpening(max_new=storm.max_new, since=now - storm.per, at=now, incident=incident,
                            opening_events=events, join_events=join_events(group, now, own.title))

    def _group_resolved(self, group: AlertGroup, rule: AlertRule, number: int) -> AlertOutcome:
        incident = self.incidents.get(number)
        if not incident.is_open:
            return AlertOutcome("updated", number)
        if incident.storm:  # one group of many has resolved: the storm's commander decides when it is over
            return AlertOutcome("updated", number, [IncidentChanged(number)])
        if rule.on_resolved == "resolve":
            try:
                resolved = self.flows.resolve(number, group.source, f"Every alert resolved ({group.source})")
            except OpsbotError as exc:  # e.g. a status that cannot go to resolved: the commander decides
                self.incidents.add_note(number, group.source, f"Not resolved automatically: {exc}")
            else:
                self.store.append_audit(self._audit(group, "alert.resolve", f"INC-{number}"))
                # INCIDENT RESOLVED and the resolution snapshot, as when a person resolves it
                return AlertOutcome("resolved", number, resolved.effects)
        who = f"@{incident.commander}" if incident.commander else "Commander"
        noted = self.flows.add_note(number, group.source, f"{who}: every alert of {incident.id} has resolved. "
                                                          "If the impact is over, resolve it.")
        self.store.append_audit(self._audit(group, "alert.note", f"INC-{number}"))
        return AlertOutcome("noted", number, [*noted.effects, AskCommander(number, incident.commander)])

    def _audit(self, group: AlertGroup, action: str, target: str | None = None) -> AuditRecord:
        # env stays empty: these are not ops actions (the ops-action metric counts records with an env)
        return AuditRecord(at=self.clock(), attempt="al-" + secrets.token_hex(6), phase="succeeded",
                           user=group.source, command=f"POST /alerts/{group.kind}", action=action, target=target,
                           args={"group": redact(group.key[:200]), "status": group.status,
                                 "alerts": len(group.alerts)})
