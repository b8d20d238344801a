"""Alerts open incidents: a typed alert group (from Alertmanager or the generic webhook, see bot/alerts) is matched
to a rule of opsbot.yml's `alerts:` and becomes, at most, one incident per group key.

The first firing delivery opens the incident (through IncidentService's declaration, so channel, announcement
and timers are those of `/incident open`); later deliveries add a timeline event per alert that joins or
resolves; when the whole group resolves, the rule either resolves the incident or notes it and asks the
commander. Which of that happens is decided inside one store transaction (`AlertStore.record_alerts`), keyed
by the group and each alert's fingerprint, so concurrent deliveries and replicas never open a second incident
or record an alert twice. Every change is audited with the alert source as the actor.
"""
from __future__ import annotations

import logging
import re
import secrets
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Literal

from pydantic import BaseModel, Field

from bot.config.alerts import AlertRule, render
from bot.config.catalog import Catalog
from bot.core.audit import AuditRecord
from bot.core.effects import AskCommander, Effect
from bot.core.flows import IncidentFlows, opened_effects
from bot.core.incidents import IncidentService, scrubbed_event
from bot.core.models import Event, EventKind, Incident
from bot.core.ports import AlertDelivery, AlertStore
from bot.core.redact import redact
from bot.errors import BackendError, OpsbotError
from bot.timeparse import show, utcnow

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


AlertEffect = Effect  # one effect vocabulary for every source of change
Outcome = Literal["opened", "updated", "resolved", "noted", "unchanged", "ignored", "duplicate"]


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
        return self.store.queue_alerts([(key, group.model_dump_json()) for group, key in deliveries])

    def process_pending(self, limit: int = 100) -> list[AlertOutcome]:
        """Apply the queued deliveries, oldest first. A delivery that cannot be applied is logged and dropped;
        BackendError (the store is unreachable) propagates, and the deliveries stay queued for the next try."""
        outcomes = []
        for key, doc in self.store.pending_alerts(limit):
            try:
                group = AlertGroup.model_validate_json(doc)
                outcome = self.receive(group, key)
                outcome.source = group.source
                outcomes.append(outcome)
            except (OpsbotError, ValueError) as exc:
                if isinstance(exc, BackendError):
                    raise
                log.error("alert delivery %s dropped: %s", key, exc, exc_info=exc)
                self.store.drop_alert(key)
        return outcomes

    def receive(self, group: AlertGroup, delivery_key: str) -> AlertOutcome:
        """Apply one queued delivery (a duplicate if another worker has taken it)."""
        rule = self.catalog.alerts.rule_for(group.labels)
        if rule.ignore:
            self.store.drop_alert(delivery_key)
            return AlertOutcome("ignored")
        firing = [alert for alert in group.alerts if alert.status == "firing"]
        opening = self._declaration(group, rule, firing) if firing else None
        recorded = self.store.record_alerts(AlertDelivery(
            delivery_key=delivery_key, group_key=f"{group.kind}:{group.key}",
            incident=opening[0] if opening else None, opening_events=opening[1] if opening else [],
            alert_events=self._alert_events(group), audit=self._audit(group, "alert")))
        if recorded.duplicate:
            return AlertOutcome("duplicate", recorded.number)
        if recorded.number is None:
            return AlertOutcome("unchanged")  # only resolved alerts, for a group that never opened an incident
        number = recorded.number
        if recorded.opened:  # the same effects as a declaration by hand: channel, announcement, health snapshot
            return AlertOutcome("opened", number, opened_effects(self.incidents.get(number), group.source,
                                                                 invite=rule.commander or "", announce=rule.channel))
        resolved_now = group.status == "resolved" and _group_resolved_key(group) in recorded.new_keys
        if not resolved_now:
            return AlertOutcome("updated" if recorded.new_keys else "unchanged", number)
        return self._group_resolved(group, rule, number)

    # --- helpers ---------------------------------------------------------------------------------------------
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
            commander=rule.commander, impact_started_at=first.starts_at)
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

    def _alert_events(self, group: AlertGroup) -> list[tuple[str, Event]]:
        """(seen key, event) per alert state: an alert firing since a time, or resolved, is recorded once."""
        now = self.clock()
        events = []
        for alert in group.alerts:
            name = alert.labels.get("alertname") or group.title or alert.fingerprint
            summary = alert.annotations.get("summary") or alert.annotations.get("description") or ""
            when = show(alert.starts_at) if alert.status == "firing" else show(alert.ends_at or now)
            text = f"Alert {alert.status}: {name}" + (f" — {summary}" if summary else "") + \
                f" ({'since' if alert.status == 'firing' else 'at'} {when})" + \
                (f" {alert.generator_url}" if alert.generator_url else "")
            key = f"{alert.fingerprint}|{alert.occurrence}|{alert.status}"
            text = inert_mentions(text[:3000])
            events.append((key, scrubbed_event(Event(at=now, actor=group.source, kind=EventKind.ALERT, text=text, data={
                "source": group.source, "fingerprint": alert.fingerprint, "status": alert.status,
                "labels": alert.labels, "starts_at": alert.starts_at.isoformat(),
                "ends_at": alert.ends_at.isoformat() if alert.ends_at else None,
                "generator_url": alert.generator_url}))))
        if group.status == "resolved":
            events.append((_group_resolved_key(group), scrubbed_event(Event(
                at=now, actor=group.source, kind=EventKind.ALERT, text="Every alert of the group has resolved",
                data={"source": group.source, "group": group.key, "status": "resolved"}))))
        return events

    def _group_resolved(self, group: AlertGroup, rule: AlertRule, number: int) -> AlertOutcome:
        incident = self.incidents.get(number)
        if not incident.is_open:
            return AlertOutcome("updated", number)
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


# A Slack-shaped ID after @ or # would become a mention (a ping) wherever the text is shown; text from outside
# (an alert's title, name or summary) never pings anybody: a word joiner keeps the ID as plain text.
_MENTION_LIKE = re.compile(r"(?<![\w@#])([@#])(?=[UWSCG][A-Z0-9_]*[0-9_])")


def inert_mentions(text: str) -> str:
    return _MENTION_LIKE.sub(lambda match: match.group(1) + "\u2060", text)


def _group_resolved_key(group: AlertGroup) -> str:
    # The latest occurrence: a group that fires and resolves again is noted again.
    return "group|resolved|" + max((alert.occurrence for alert in group.alerts), default="")
