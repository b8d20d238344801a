"""Who may steer an incident is the catalog's (`incident_permissions`), checked by the core for every surface; each
lifecycle and role change is an audit record written with its timeline event, a refusal an audited denial."""
from __future__ import annotations

import pytest

from bot.app import build_services
from bot.config import Catalog
from commands.base import Context
from commands.router import Router

STRICT = {"roles": {"*": {"admin": ["U_ROOT"]}},
          "incident_permissions": {"resolve": "participants", "close": "commander", "severity": "admins",
                                   "roles": "commander", "reopen": "participants"}}


def make(store, clock, catalog: dict) -> Router:
    router = Router(build_services(store, Catalog.model_validate(catalog), clock=clock))
    assert router.handle("/incident", "open p2 Checkout slow", Context(user="U_ALICE", channel="C_INC")).ok
    assert router.handle("/incident", "role INC-1 scribe @U_BOB", Context(user="U_ALICE", channel="C_INC")).ok
    return router


def run(router: Router, text: str, user: str, source: str = "slack"):
    return router.handle("/incident", text, Context(user=user, channel="C_ELSEWHERE", source=source))


def test_by_default_anybody_may_and_every_change_is_audited_with_its_event(store, clock):
    router = make(store, clock, {})
    assert run(router, "sev INC-1 p1", "U_EVE").ok and run(router, "resolve INC-1 rolled back", "U_EVE").ok
    records = [(r.action, r.user, r.phase, r.target) for r in store.audit_records()]
    assert records == [("incident.role", "U_ALICE", "succeeded", "INC-1"), ("incident.severity", "U_EVE", "succeeded",
                       "INC-1"), ("incident.resolve", "U_EVE", "succeeded", "INC-1")]
    seqs = [e.data.get("audit_seq") for e in store.timeline(1) if e.kind in ("role", "severity", "status")]
    assert [s for s in seqs if s] == [1, 2, 3]


@pytest.mark.parametrize("source", ["slack", "console"])
def test_the_catalog_says_who_may_and_a_refusal_is_an_audited_denial(store, clock, source):
    router = make(store, clock, STRICT)
    refused = run(router, "resolve INC-1 fixed", "U_EVE", source)
    assert not refused.ok and "Only its participants may resolve INC-1 (incident_permissions.resolve)" in refused.text
    assert not run(router, "sev INC-1 p1", "U_ALICE", source).ok  # severity: admins only
    assert run(router, "sev INC-1 p1", "U_ROOT", source).ok
    assert not run(router, "role INC-1 commander @U_EVE", "U_BOB", source).ok  # roles: the commander
    assert run(router, "resolve INC-1 fixed", "U_BOB", source).ok  # the scribe is a participant
    assert not run(router, "close INC-1", "U_BOB", source).ok  # close: the commander
    assert run(router, "close INC-1", "U_ALICE", source).ok
    phases = [(r.action, r.user, r.phase) for r in store.audit_records()][1:]
    assert phases == [("incident.resolve", "U_EVE", "denied"), ("incident.severity", "U_ALICE", "denied"),
                      ("incident.severity", "U_ROOT", "succeeded"), ("incident.role", "U_BOB", "denied"),
                      ("incident.resolve", "U_BOB", "succeeded"), ("incident.close", "U_BOB", "denied"),
                      ("incident.close", "U_ALICE", "succeeded")]
    incident = store.get_incident(1)
    assert (incident.status.value, incident.severity, incident.commander) == ("closed", "P1", "U_ALICE")


def test_naming_oneself_owner_of_an_action_item_does_not_make_one_a_participant_who_steers(store, clock):
    router = make(store, clock, STRICT)
    assert run(router, 'action INC-1 add "look at the pool" @U_EVE', "U_EVE").ok  # anybody may add one
    refused = run(router, "resolve INC-1 fixed", "U_EVE")
    assert not refused.ok and "Only its participants may resolve INC-1" in refused.text


def test_an_alert_is_held_to_the_same_permissions_and_asks_the_commander_instead(store, clock):
    """`on_resolved: resolve` with `incident_permissions.resolve: commander`: the alert source opened the incident
    (a participant) but is not its commander, so its resolution is an audited denial and the commander is asked —
    the rule holds on every path, alerts included. (With `participants`, the source that opened it may.)"""
    import json

    from bot.alerts import alertmanager
    from bot.core.alerts import AlertService
    from bot.core.effects import AskCommander
    from bot.core.flows import IncidentFlows

    catalog = Catalog.model_validate({"incident_permissions": {"resolve": "commander"},
                                      "alerts": {"rules": [{"on_resolved": "resolve", "commander": "U0ONCALL1"}]}})
    services = build_services(store, catalog, clock=clock)
    alerts = AlertService(store, catalog, IncidentFlows(services.incidents), clock=clock)

    def group(status: str):
        return alertmanager.parse(json.dumps({
            "version": "4", "groupKey": "g1", "status": status, "receiver": "opsbot",
            "commonLabels": {"alertname": "DBDown"},
            "alerts": [{"status": status, "fingerprint": "f1", "startsAt": "2026-11-20T08:00:00Z",
                        "endsAt": "2026-11-20T08:30:00Z" if status == "resolved" else None,
                        "labels": {"alertname": "DBDown"}}]}).encode(), "alertmanager")

    assert alerts.accept([(group("firing"), "d1")]) == [True]
    assert [o.outcome for o in alerts.process_pending()] == ["opened"]
    assert alerts.accept([(group("resolved"), "d2")]) == [True]
    (outcome,) = alerts.process_pending()
    assert outcome.outcome == "noted" and any(isinstance(e, AskCommander) for e in outcome.effects)
    assert store.get_incident(1).is_open
    notes = [e.text for e in store.timeline(1) if e.kind == "note"]
    assert any("Not resolved automatically: Only its commander may resolve INC-1" in n for n in notes)
    assert ("incident.resolve", "alertmanager", "denied") in [(r.action, r.user, r.phase) for r in store.audit_records()]
