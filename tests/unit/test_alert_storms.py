"""Alert storms and big groups, in the core over a real store (SQLite here; PostgreSQL in
tests/contract/test_on_postgres_alert_storms.py): past `alerts.storm.max_new` groups needing a new incident within
`per`, further groups join one storm incident until the rate falls; a group of thousands of alerts opens one
incident with every alert counted, the first few recorded in full and the rest summarised."""
from __future__ import annotations

import json
from concurrent.futures import ThreadPoolExecutor

import pytest

from bot.alerts import alertmanager, webhook
from bot.config import Catalog
from bot.core.alerts import AlertOutcome, AlertService
from bot.core.flows import IncidentFlows
from bot.core.incidents import IncidentService
from bot.core.models import EventKind, Status
from bot.store import open_store
from bot.views.channel import alert_text
from bot.views.incidents import incident_card
from bot.views.text import to_text

STORM = {"storm": {"max_new": 3, "per": "1m"}}


def payload(group: str, instances: list[str], name: str | None = None, status: str = "firing",
            summary: str = "") -> bytes:
    name = name or group
    ends = "0001-01-01T00:00:00Z" if status == "firing" else "2026-11-20T09:30:00Z"
    return json.dumps({
        "version": "4", "groupKey": f'{{}}:{{group="{group}"}}', "receiver": "opsbot", "status": status,
        "groupLabels": {"group": group}, "commonLabels": {"alertname": name, "env": "prod"},
        "alerts": [{"status": status, "labels": {"alertname": name, "instance": instance},
                    "annotations": {"summary": summary or f"{instance} is down"},
                    "startsAt": "2026-11-20T08:50:00Z", "endsAt": ends, "fingerprint": f"{group}-{instance}"}
                   for instance in instances],
    }).encode()


def alerts_for(store, clock, alerts: dict | None = None) -> AlertService:
    catalog = Catalog.model_validate({"alerts": alerts or STORM})
    return AlertService(store, catalog, IncidentFlows(IncidentService(store, catalog, clock=clock)), clock=clock)


def deliver(service: AlertService, body: bytes, parse=alertmanager.parse) -> AlertOutcome:
    """As the endpoint does: queue the delivery, then apply the queue."""
    group = service.check(parse(body, "alertmanager" if parse is alertmanager.parse else "grafana"))
    assert service.accept([(group, f"alert:{hash(body)}:{len(body)}")]) == [True]
    return service.process_pending()[-1]


def storm_incidents(store) -> list:
    return [incident for incident in store.list_incidents(include_closed=True) if incident.storm]


def test_past_max_new_groups_within_the_window_further_groups_join_one_storm_incident(store, clock):
    service = alerts_for(store, clock)
    names = ["HighCPU", "DiskFull"]
    outcomes = [deliver(service, payload(f"g{n}", [f"i{n}a", f"i{n}b"], name=names[n % 2])) for n in range(10)]
    assert [o.outcome for o in outcomes] == ["opened"] * 4 + ["joined"] * 6
    own, storm = outcomes[:3], outcomes[3]
    assert len({o.incident for o in own}) == 3 and {o.incident for o in outcomes[3:]} == {storm.incident}
    assert len(store.list_incidents()) == 4  # max_new incidents + one storm incident
    incident = store.get_incident(storm.incident)
    assert incident.storm and incident.title == "Alert storm: more than 3 alert groups within 1m"
    # Seven groups joined it, each with two alerts: counted per alert name (g3, g5, g7, g9 DiskFull; the rest HighCPU).
    assert incident.alert_groups == 7 and incident.alert_counts == {"DiskFull": 8, "HighCPU": 6}
    timeline = store.timeline(incident.number)
    joined = [e for e in timeline if e.data.get("storm") == "joined"]
    assert [e.data["group"] for e in joined] == [f'{{}}:{{group="g{n}"}}' for n in range(3, 10)]
    assert joined[0].text.startswith("Alert group joined the storm: DiskFull: i3a is down (2 alerts: DiskFull × 2)")
    assert len([e for e in timeline if e.data.get("fingerprint")]) == 14  # every alert of every group, in full
    # The outcome the surfaces carry out: the storm's channel and announcement once, then refreshes.
    assert storm.effects[0].__class__.__name__ == "IncidentOpened"
    assert all(o.effects[0].__class__.__name__ == "IncidentChanged" for o in outcomes[4:])
    records = [r for r in store.audit_records() if r.args.get("storm")]
    assert len(records) == 7 and {r.target for r in records} == {incident.id}
    # Every surface shows the counts: the card (console, Slack's pinned summary) and Slack's storm announcement.
    assert "Alert storm — Alerts: 14 firing in 7 groups — DiskFull 8 · HighCPU 6" in to_text(
        incident_card(incident, Catalog()))
    announcement = alert_text(incident, Catalog(), "C_STORM")
    assert announcement.startswith("*ALERT STORM - P2 (Medium)* INC-4: Alert storm: more than 3 alert groups")
    assert "*Groups:* 7 · *Alerts firing:* 14\n• DiskFull: 8\n• HighCPU: 6\n*Channel:* <#C_STORM>" in announcement


def test_later_deliveries_of_a_joined_group_stay_on_the_storm_incident_and_its_resolve_resolves_nothing(store, clock):
    service = alerts_for(store, clock, {**STORM, "default": {"on_resolved": "resolve"}})
    for n in range(4):
        last = deliver(service, payload(f"g{n}", [f"i{n}"]))
    assert last.outcome == "opened" and store.get_incident(last.incident).storm
    grown = deliver(service, payload("g3", ["i3", "i3-more"]))
    assert (grown.outcome, grown.incident) == ("updated", last.incident)
    assert store.get_incident(last.incident).alert_counts == {"g3": 2}
    resolved = deliver(service, payload("g3", ["i3", "i3-more"], status="resolved"))
    assert (resolved.outcome, resolved.incident) == ("updated", last.incident)
    assert store.get_incident(last.incident).status is Status.DECLARED  # one group of a storm is not the storm
    # Its own rule still resolves a group that has its own incident.
    assert deliver(service, payload("g0", ["i0"], status="resolved")).outcome == "resolved"


def test_the_storm_ends_when_the_rate_falls_and_a_later_storm_opens_a_new_storm_incident(store, clock):
    service = alerts_for(store, clock)
    first = [deliver(service, payload(f"a{n}", ["x"])) for n in range(5)]
    storm = first[3].incident
    clock.advance(seconds=30)
    assert deliver(service, payload("a5", ["x"])).incident == storm  # still 3 or more within the minute
    clock.advance(seconds=61)  # fewer than 3 groups within the last minute: normal behaviour resumes
    calm = [deliver(service, payload(f"b{n}", ["x"])) for n in range(3)]
    assert [o.outcome for o in calm] == ["opened"] * 3 and storm not in {o.incident for o in calm}
    later = [deliver(service, payload(f"c{n}", ["x"])) for n in range(2)]
    assert [o.outcome for o in later] == ["opened", "joined"]
    assert later[0].incident != storm and store.get_incident(later[0].incident).storm
    assert len(storm_incidents(store)) == 2 and store.get_incident(storm).alert_groups == 3


def test_a_resolved_storm_incident_is_not_joined_again(store, clock):
    service = alerts_for(store, clock)
    storm = [deliver(service, payload(f"g{n}", ["x"])) for n in range(4)][-1].incident
    IncidentService(store, Catalog(), clock=clock).resolve(storm, "U_ME", "upstream fixed")
    again = deliver(service, payload("g9", ["x"]))
    assert again.outcome == "opened" and again.incident != storm and store.get_incident(again.incident).storm


def test_the_rate_is_kept_in_the_store_and_survives_a_restart(store, clock):
    for n in range(3):
        deliver(alerts_for(store, clock), payload(f"g{n}", ["x"]))
    restarted = open_store(store.url)  # a new process: nothing but the store remembers the three openings
    try:
        outcome = deliver(alerts_for(restarted, clock), payload("g3", ["x"]))
        assert outcome.outcome == "opened" and restarted.get_incident(outcome.incident).storm
    finally:
        restarted.close()


def test_every_alert_source_gets_the_storm_rule(store, clock):
    service = alerts_for(store, clock, {"storm": {"max_new": 2, "per": "5m"}})
    docs = [{"title": f"Check {n} failing", "dedup_key": f"check-{n}", "severity": "P1"} for n in range(4)]
    outcomes = [deliver(service, json.dumps(doc).encode(), parse=webhook.parse) for doc in docs]
    assert [o.outcome for o in outcomes] == ["opened", "opened", "opened", "joined"]
    storm = store.get_incident(outcomes[2].incident)
    assert storm.storm and storm.severity == "P1" and storm.opened_by == "grafana"
    assert storm.alert_counts == {"Check 2 failing": 1, "Check 3 failing": 1}


def test_two_replicas_applying_a_burst_open_at_most_max_new_incidents_and_one_storm(store, clock):
    replica = open_store(store.url)  # a second process's store: its own connections
    try:
        services = [alerts_for(store, clock, {"storm": {"max_new": 5, "per": "1m"}}),
                    alerts_for(replica, clock, {"storm": {"max_new": 5, "per": "1m"}})]
        for n in range(20):
            services[n % 2].accept([(alertmanager.parse(payload(f"g{n}", ["x", "y"]), "alertmanager"), f"k{n}")])
        with ThreadPoolExecutor(8) as pool:
            batches = list(pool.map(lambda n: services[n % 2].process_pending(limit=3), range(16)))
        outcomes = [o for batch in batches for o in batch] + services[0].process_pending()
        applied = [o for o in outcomes if o.outcome != "duplicate"]
        assert len(applied) == 20 and store.pending_alerts() == []
        assert [o.outcome for o in applied].count("opened") == 6 and len(store.list_incidents()) == 6
        storm = storm_incidents(store)
        assert len(storm) == 1 and storm[0].alert_groups == 15 and sum(storm[0].alert_counts.values()) == 30
    finally:
        replica.close()


def test_a_group_of_5000_alerts_opens_one_incident_with_every_alert_counted_and_the_rest_summarised(store, clock):
    service = alerts_for(store, clock)
    instances = [f"node-{n:04d}" for n in range(5000)]
    body = payload("big", instances, name="NodeDown", summary="login failed password=hunter2secret")
    assert len(body) > 1_000_000
    opened = deliver(service, body)
    incident = store.get_incident(opened.incident)
    assert opened.outcome == "opened" and len(store.list_incidents()) == 1
    assert incident.alert_counts == {"NodeDown": 5000} and incident.alert_groups == 1
    alerts = [e for e in store.timeline(incident.number) if e.kind is EventKind.ALERT]
    full, summary = alerts[:-1], alerts[-1]
    assert len(full) == 100 and [e.data["fingerprint"] for e in full] == [f"big-{i}" for i in instances[:100]]
    assert summary.data["summarised"] == 4900
    assert summary.data["counts"] == [{"alertname": "NodeDown", "status": "firing", "count": 4900}]
    assert summary.text == ("4,900 more alerts of the group, counted but not recorded one by one: "
                            "NodeDown firing × 4,900")
    assert store.audit_records()[0].args["alerts"] == 5000
    # Alertmanager sends the whole group again (one more alert): only what is new is recorded and counted.
    again = deliver(service, payload("big", [*instances, "node-5000"], name="NodeDown", summary="x"))
    assert (again.outcome, again.incident) == ("updated", incident.number)
    assert store.get_incident(incident.number).alert_counts == {"NodeDown": 5001}
    assert [e.data.get("fingerprint") for e in store.timeline(incident.number)][-1] == "big-node-5000"
    stored = json.dumps([e.model_dump(mode="json") for e in store.timeline(incident.number)])
    assert "hunter2secret" not in stored and "password=***" in stored  # redacted like every alert


@pytest.mark.parametrize("status", ["firing", "resolved"])
def test_a_summary_counts_per_alert_name_and_status(store, clock, status):
    service = alerts_for(store, clock, {"keep_in_full": 2})
    deliver(service, payload("mix", ["a", "b"], name="Base"))
    mixed = json.loads(payload("mix", ["a", "b"], name="Base", status=status))
    mixed["alerts"] += [alert | {"labels": {"alertname": f"Extra{n % 2}", "instance": f"e{n}"},
                                 "fingerprint": f"e{n}", "status": "firing", "endsAt": "0001-01-01T00:00:00Z"}
                        for n, alert in enumerate(mixed["alerts"] * 3)]
    deliver(service, json.dumps(mixed).encode())
    summary = next(e for e in store.timeline(1) if "summarised" in e.data)
    # Two new states kept in full, the rest summarised: the six extra alerts (and, resolved, Base's two resolves).
    expected = 4 if status == "firing" else 6
    assert summary.data["summarised"] == expected
    assert sum(row["count"] for row in summary.data["counts"]) == expected
    assert store.get_incident(1).alert_counts == {"Base": 2, "Extra0": 3, "Extra1": 3}
    texts = [e.text for e in store.timeline(1)]
    after = texts[texts.index(summary.text) + 1:]
    assert after[:1] == (["Every alert of the group has resolved"] if status == "resolved" else [])
