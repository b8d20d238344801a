"""Alert groups in the store, on SQLite and PostgreSQL: one incident per group key, even when deliveries race
across two store objects (two replicas); replays and alerts already seen change nothing."""
from __future__ import annotations

import hashlib
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime

from bot.alerts import alertmanager
from bot.config import Catalog
from bot.core.alerts import AlertOutcome, AlertService
from bot.core.flows import IncidentFlows
from bot.core.incidents import IncidentService
from bot.core.models import EventKind, Status
from bot.store import open_store

T0 = datetime(2026, 11, 20, 9, 0, tzinfo=UTC)


def payload(group: str, fingerprints: list[str], status: str = "firing") -> bytes:
    import json

    ends = "0001-01-01T00:00:00Z" if status == "firing" else "2026-11-20T09:30:00Z"
    return json.dumps({
        "version": "4", "groupKey": f'{{}}:{{alertname="{group}"}}', "receiver": "opsbot", "status": status,
        "groupLabels": {"alertname": group}, "commonLabels": {"alertname": group, "env": "prod"},
        "commonAnnotations": {"summary": f"{group} is failing"}, "externalURL": "http://am", "truncatedAlerts": 0,
        "alerts": [{"status": status, "labels": {"alertname": group, "instance": fp}, "annotations": {},
                    "startsAt": "2026-11-20T08:50:00Z", "endsAt": ends,
                    "generatorURL": f"http://prom/graph?{fp}", "fingerprint": fp} for fp in fingerprints],
    }).encode()


def deliver(service: AlertService, body: bytes) -> AlertOutcome:
    """As the endpoint does: queue the delivery, then apply the queue."""
    if not service.accept([(alertmanager.parse(body, "alertmanager"), "alert:" + hashlib.sha256(body).hexdigest())])[0]:
        return AlertOutcome("duplicate")
    return service.process_pending()[-1]


def alerts_for(store, clock=lambda: T0) -> AlertService:
    catalog = Catalog.model_validate({"environments": {"prod": {}}})  # the environment the alerts name
    return AlertService(store, catalog, IncidentFlows(IncidentService(store, catalog, clock=clock)), clock=clock)


def test_first_firing_delivery_opens_one_incident_and_later_alerts_join_it(store):
    service = alerts_for(store)
    opened = deliver(service, payload("HighErrorRate", ["a1", "a2"]))
    joined = deliver(service, payload("HighErrorRate", ["a1", "a2", "a3"]))
    assert (opened.outcome, joined.outcome, joined.incident) == ("opened", "updated", opened.incident)
    incident = store.get_incident(opened.incident)
    assert incident.title == "HighErrorRate: HighErrorRate is failing" and incident.env == "prod"
    assert incident.impact_started_at == datetime(2026, 11, 20, 8, 50, tzinfo=UTC) and incident.commander is None
    alerts = [e for e in store.timeline(incident.number) if e.kind is EventKind.ALERT]
    assert [e.data["fingerprint"] for e in alerts] == ["a1", "a2", "a3"]
    assert alerts[0].data["generator_url"] == "http://prom/graph?a1" and alerts[0].data["labels"]["instance"] == "a1"
    assert [r.user for r in store.audit_records()] == ["alertmanager", "alertmanager"]
    assert store.audit_records()[0].target == f"INC-{incident.number}"


def test_a_replayed_delivery_changes_nothing(store):
    service = alerts_for(store)
    first = deliver(service, payload("DiskFull", ["d1"]))
    again = deliver(service, payload("DiskFull", ["d1"]))
    assert again.outcome == "duplicate" and len(store.timeline(first.incident)) == 3  # declared, impact, alert
    assert len(store.list_incidents()) == 1 and len(store.audit_records()) == 1


def test_resolved_group_is_noted_and_the_incident_stays_open_by_default(store):
    service = alerts_for(store)
    opened = deliver(service, payload("Latency", ["l1"]))
    noted = deliver(service, payload("Latency", ["l1"], status="resolved"))
    assert noted.outcome == "noted" and store.get_incident(opened.incident).is_open
    texts = [e.text for e in store.timeline(opened.incident)]
    assert "Every alert of the group has resolved" in texts
    assert any(text.startswith("Commander: every alert of INC-1 has resolved") for text in texts)


def test_a_rule_can_resolve_the_incident_when_the_group_resolves(store):
    catalog = Catalog.model_validate({"alerts": {"rules": [{"match": ['alertname="Latency"'], "severity": "sev1",
                                                            "on_resolved": "resolve"}]}})
    service = AlertService(store, catalog, IncidentFlows(IncidentService(store, catalog, clock=lambda: T0)),
                           clock=lambda: T0)
    opened = deliver(service, payload("Latency", ["l1"]))
    resolved = deliver(service, payload("Latency", ["l1"], status="resolved"))
    incident = store.get_incident(opened.incident)
    assert resolved.outcome == "resolved" and incident.status is Status.RESOLVED and incident.severity == "P0"
    # The group fires again later: the resolved incident stays history, a new one opens.
    again = deliver(service, payload("Latency", ["l1"]).replace(b"08:50:00", b"10:00:00"))
    assert again.outcome == "opened" and again.incident != opened.incident


def test_concurrent_deliveries_from_two_replicas_open_exactly_one_incident_per_group(store):
    replica = open_store(store.url)  # a second process's store: its own connections
    try:
        services = [alerts_for(store), alerts_for(replica)]
        bodies = [payload(f"Group{g}", [f"g{g}-{i}" for i in range(n + 1)]) for g in range(3) for n in range(8)]
        with ThreadPoolExecutor(16) as pool:
            queued = list(pool.map(lambda job: services[job[0] % 2].accept(
                [(alertmanager.parse(job[1], "alertmanager"), f"k{job[0]}")])[0], enumerate(bodies)))
            # Both replicas' workers apply the same queue at once, several times over: each delivery applies once.
            batches = list(pool.map(lambda n: services[n % 2].process_pending(limit=5), range(12)))
        outcomes = [outcome for batch in batches for outcome in batch] + services[0].process_pending()
        assert all(queued) and store.pending_alerts() == []
        assert len([o for o in outcomes if o.outcome != "duplicate"]) == len(bodies)
        assert [o.outcome for o in outcomes].count("opened") == 3
        incidents = store.list_incidents()
        assert len(incidents) == 3
        for incident in incidents:  # every alert recorded once, whichever delivery carried it first
            alerts = [e.data["fingerprint"] for e in store.timeline(incident.number) if e.kind is EventKind.ALERT]
            assert sorted(alerts) == sorted(set(alerts)) and len(alerts) == 8
    finally:
        replica.close()


def test_a_batch_queues_each_new_delivery_once_in_order_and_refuses_replays(store):
    assert store.queue_alerts([("alert:a", '{"n": 1}')]) == [True]
    queued = store.queue_alerts([("alert:b", '{"n": 2}'), ("alert:a", '{"n": 1}'), ("alert:c", '{"n": 3}'),
                                 ("alert:b", '{"n": 2}')])
    assert queued == [True, False, True, False]  # a replay of an earlier batch, and one within the batch
    assert store.pending_alerts() == [("alert:a", '{"n": 1}'), ("alert:b", '{"n": 2}'), ("alert:c", '{"n": 3}')]
    assert store.queue_alerts([("alert:a", "{}"), ("alert:c", "{}")]) == [False, False]  # nothing new: no insert
    assert store.queue_alerts([]) == []
