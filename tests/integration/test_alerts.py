"""Alerts open incidents, through a real Alertmanager (Debian's package, started per module on loopback): alerts
posted to its API reach opsbot's POST /alerts/alertmanager by Alertmanager's own grouping and resolve
notifications. opsbot is served as in `opsbot serve` (uvicorn, the Slack endpoint beside), Slack faked on loopback."""
from __future__ import annotations

import hashlib
import hmac
import json
import threading
from datetime import UTC, datetime, timedelta

import httpx
import pytest
import uvicorn

from bot.app import build, served
from bot.config import Settings, SlackSettings
from bot.core.models import EventKind, Status
from tests.integration.alertmanager_server import running_alertmanager
from tests.integration.conftest import SECRET, free_port
from tests.poll import wait_until

TOKEN, GRAFANA_TOKEN = "am-token-0123456789", "grafana-token-0123456789"
OPSBOT_PORT = free_port()  # Alertmanager's config names it before opsbot starts
CATALOG = f"""
environments:
  staging:  # its one check is opsbot's own port: a health snapshot is quick and always answers
    checks: [{{name: opsbot-port, kind: tcp, host: 127.0.0.1, port: {OPSBOT_PORT}}}]
alerts:
  rules:
    - {{match: ['alertname="Watchdog"'], ignore: true}}
    - {{match: ['alertname="DiskFull"'], severity: P2, on_resolved: resolve}}
    - match: ['env="prod"', 'alertname=~"High.*"']
      severity: sev2
      title: "{{alertname}} in {{env}}: {{summary}}"
      channel: alerts-prod
      commander: U0ONCALL1
    - {{match: ['source="grafana"'], severity: P2, on_resolved: resolve}}
"""




@pytest.fixture(scope="module")
def alertmanager(tmp_path_factory):
    """A real Alertmanager whose only receiver is opsbot."""
    with running_alertmanager(tmp_path_factory.mktemp("alertmanager"), f"""
route:
  receiver: opsbot
  group_by: [alertname]
  group_wait: 1s
  group_interval: 1s
  repeat_interval: 1h
receivers:
  - name: opsbot
    webhook_configs:
      - url: http://127.0.0.1:{OPSBOT_PORT}/alerts/alertmanager
        send_resolved: true
        http_config: {{authorization: {{type: Bearer, credentials: {TOKEN}}}}}
""") as http:
        yield http


@pytest.fixture
def opsbot(fake_slack, sqlite_url, tmp_path):
    """opsbot served on the port Alertmanager posts to, with the alert endpoint as `opsbot serve` wires it."""
    (tmp_path / "opsbot.yml").write_text(CATALOG)
    settings = SlackSettings(slack_bot_token="xoxb-test", slack_signing_secret=SECRET,
                             opsbot_slack_api_url=fake_slack.api_url, port=OPSBOT_PORT)
    bot = build(settings=Settings(database_url=sqlite_url, config=tmp_path / "opsbot.yml"), slack=settings)
    app = served(bot, settings, "http", alert_tokens={"alertmanager": TOKEN, "grafana": GRAFANA_TOKEN}).app
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=OPSBOT_PORT, log_level="warning", lifespan="on"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    wait_until(lambda: server.started, 10, "opsbot to listen")
    bot.http = httpx.Client(base_url=f"http://127.0.0.1:{OPSBOT_PORT}", timeout=10)
    yield bot
    bot.http.close()
    server.should_exit = True
    thread.join(10)
    bot.close()


def post_alerts(alertmanager: httpx.Client, *alerts: dict) -> None:
    assert alertmanager.post("/api/v2/alerts", json=list(alerts)).status_code == 200


def alert(name: str, instance: str, starts: datetime, ends: datetime | None = None, env: str = "prod") -> dict:
    body = {"labels": {"alertname": name, "instance": instance, "env": env},
            "annotations": {"summary": f"{instance} answers 5xx"}, "startsAt": starts.isoformat(),
            "generatorURL": f"http://prometheus.test/graph?g0.expr={name}"}
    return body | ({"endsAt": ends.isoformat()} if ends else {})


def alert_events(bot, number: int) -> list:
    return [e for e in bot.store.timeline(number) if e.kind is EventKind.ALERT]


def test_alertmanager_group_opens_one_incident_with_its_channel_and_a_resolve_is_noted(alertmanager, opsbot,
                                                                                      fake_slack):
    started = datetime.now(UTC).replace(microsecond=0) - timedelta(minutes=5)
    post_alerts(alertmanager, alert("HighErrorRate", "api-1", started), alert("HighErrorRate", "api-2", started),
                alert("Watchdog", "am", started))
    incident = wait_until(lambda: opsbot.store.list_incidents(), what="an incident")[0]
    assert incident.title == "HighErrorRate in prod: api-1 answers 5xx" and incident.severity == "P1"
    assert incident.impact_started_at == started and incident.commander == "U0ONCALL1" and incident.env == "prod"
    assert incident.opened_by == "alertmanager"
    # Slack's side, as for /incident open: the channel, the commander invited, the rule's announcement channel.
    assert fake_slack.wait_for("conversations.create")[0].params["name"].startswith("inc-1-higherrorrate")
    assert fake_slack.wait_for("conversations.invite")[0].params["users"] == "U0ONCALL1"
    wait_until(lambda: any(c.params.get("channel") == "alerts-prod" for c in fake_slack.calls_to("chat.postMessage")),
               what="the announcement in #alerts-prod")
    wait_until(lambda: len(alert_events(opsbot, 1)) == 2, what="two alert events")

    # A third alert joins the group: one more event, still one incident.
    post_alerts(alertmanager, alert("HighErrorRate", "api-3", started + timedelta(minutes=1)))
    wait_until(lambda: len(alert_events(opsbot, 1)) == 3, what="the third alert")
    third = alert_events(opsbot, 1)[-1]
    assert third.data["labels"]["instance"] == "api-3" and third.data["generator_url"].startswith("http://prometheus")

    # Every alert resolves: Alertmanager's resolve notification is noted and the commander asked in the channel.
    now = datetime.now(UTC)
    post_alerts(alertmanager, *(alert("HighErrorRate", f"api-{n}", started, ends=now) for n in (1, 2, 3)))
    wait_until(lambda: any("every alert of INC-1 has resolved" in c.params.get("text", "")
                           for c in fake_slack.calls_to("chat.postMessage")), what="the commander asked")
    ask = next(c for c in fake_slack.calls_to("chat.postMessage") if "has resolved" in c.params.get("text", ""))
    assert ask.params["channel"] == opsbot.store.get_incident(1).channel and "<@U0ONCALL1>" in ask.params["text"]
    assert opsbot.store.get_incident(1).status is Status.DECLARED and len(opsbot.store.list_incidents()) == 1
    assert {r.user for r in opsbot.store.audit_records()} == {"alertmanager"}


def test_generic_webhook_opens_and_resolves_with_an_hmac_signature(opsbot):
    def post(doc: dict):
        body = json.dumps(doc).encode()
        signature = "sha256=" + hmac.new(GRAFANA_TOKEN.encode(), body, hashlib.sha256).hexdigest()
        return opsbot.http.post("/alerts/webhook?source=grafana", content=body,
                                headers={"X-Opsbot-Signature": signature, "Content-Type": "application/json"})

    alert_doc = {"title": "Checkout p95 above 2 s", "severity": "P1", "env": "prod", "service": "checkout",
                 "dedup_key": "checkout-latency", "started_at": "2026-11-20T08:00:00Z"}
    opened = post(alert_doc)
    assert opened.status_code == 202 and opened.json() == {"outcome": "accepted"}
    replayed = post(alert_doc)
    assert replayed.status_code == 200 and replayed.json() == {"outcome": "duplicate"}
    wait_until(lambda: opsbot.store.list_incidents(), what="the incident")
    assert post(alert_doc | {"status": "resolved"}).status_code == 202
    incident = wait_until(lambda: opsbot.store.list_incidents(statuses=(Status.RESOLVED,)), what="the resolve")[0]
    assert (incident.status, incident.severity, incident.service, incident.opened_by) == \
        (Status.RESOLVED, "P1", "checkout", "grafana")
    metrics = opsbot.http.get("/metrics").text
    assert 'opsbot_alerts_received_total{outcome="opened",source="grafana"} 1.0' in metrics
    # Time to resolve runs from the impact's start (the alert's started_at), not from the declaration.
    mttr = next(line for line in metrics.splitlines() if line.startswith('opsbot_incident_mttr_seconds_sum{severity="P1"}'))
    started = datetime(2026, 11, 20, 8, 0, tzinfo=UTC)
    assert incident.impact_started_at == started
    assert float(mttr.split()[-1]) == pytest.approx((incident.resolved_at - started).total_seconds())


@pytest.mark.parametrize("headers, body, status, message", [
    ({}, b'{"title": "x", "dedup_key": "k"}', 401, "not authenticated"),
    ({"Authorization": "Bearer wrong"}, b'{"title": "x", "dedup_key": "k"}', 401, "OPSBOT_ALERT_TOKEN_WEBHOOK"),
    ({"Authorization": f"Bearer {TOKEN}"}, b"x" * (17 << 20), 413, "body larger"),
    ({"Authorization": f"Bearer {TOKEN}"}, b"{not json", 400, "malformed payload"),
    ({"Authorization": f"Bearer {TOKEN}"}, b'{"version": "3", "groupKey": "g", "status": "firing", "alerts": []}',
     400, "alerts: List should have at least 1 item"),
    ({"Authorization": f"Bearer {TOKEN}"}, (b'{"version": "4", "groupKey": "g", "status": "firing", "alerts": '
     b'[{"status": "firing", "startsAt": "yesterday", "fingerprint": "f"}]}'), 400, "alerts.0.startsAt"),
])
def test_refused_deliveries_say_why_and_store_nothing(opsbot, headers, body, status, message):
    path = "/alerts/webhook" if "WEBHOOK" in message else "/alerts/alertmanager"
    answer = opsbot.http.post(path, content=body, headers=headers)
    assert answer.status_code == status and message in answer.json()["error"]
    assert opsbot.store.list_incidents() == [] and opsbot.store.audit_records() == []


def test_unknown_severity_and_wrong_method_are_refused(opsbot):
    bearer = {"Authorization": f"Bearer {GRAFANA_TOKEN}"}
    answer = opsbot.http.post("/alerts/webhook?source=grafana", headers=bearer,
                              content=b'{"title": "x", "dedup_key": "k", "severity": "urgent"}')
    assert answer.status_code == 400 and "'urgent' is not a severity" in answer.json()["error"]
    assert opsbot.http.get("/alerts/alertmanager").status_code == 405
    assert opsbot.store.list_incidents() == []


def test_deliveries_left_queued_by_a_stopped_process_are_applied_at_start(sqlite_url):
    import asyncio

    from bot.alerts import webhook
    from bot.alerts.endpoint import AlertEndpoint

    bot = build(settings=Settings(database_url=sqlite_url))
    try:
        # Accepted (the source got its 202), then the process stopped before its worker applied it.
        assert bot.alerts.accept([(webhook.parse(b'{"title": "Disk full on db-1", "dedup_key": "disk"}', "uptime"),
                                   "alert:k1")]) == [True]
        endpoint = AlertEndpoint(bot.alerts, {})

        async def serve_briefly() -> None:
            endpoint.start()  # as the server's start-up does
            while bot.store.pending_alerts(1):
                await asyncio.sleep(0.05)
            await endpoint.drain(5)

        asyncio.run(asyncio.wait_for(serve_briefly(), 10))
        incident = bot.store.list_incidents()[0]
        assert (incident.title, incident.opened_by, incident.severity) == ("Disk full on db-1", "uptime", "P2")
    finally:
        bot.close()


def announced_resolved(fake_slack, incident_id: str) -> bool:
    return any("INCIDENT RESOLVED" in c.params.get("text", "") and incident_id in c.params.get("text", "")
               for c in fake_slack.calls_to("chat.postMessage"))


def test_an_alert_opened_and_resolved_incident_gets_the_same_effects_as_one_run_by_hand(opsbot, alertmanager,
                                                                                      fake_slack):
    """Through Alertmanager: the declaration snapshot when the group opens it (it names an environment), and
    INCIDENT RESOLVED with the resolution snapshot when the group resolves it (`on_resolved: resolve`)."""
    started = datetime.now(UTC) - timedelta(minutes=3)
    disk = {"labels": {"alertname": "DiskFull", "env": "staging", "instance": "db-1"},
            "annotations": {"summary": "/var at 97%"}, "startsAt": started.isoformat()}
    post_alerts(alertmanager, disk)
    incident = wait_until(lambda: opsbot.store.list_incidents(), what="the incident")[0]
    assert incident.env == "staging"
    wait_until(lambda: "declaration" in opsbot.services.evidence.health_snapshots(incident.number),
               what="the declaration snapshot")
    assert "opsbot-port" in opsbot.services.evidence.health_snapshots(incident.number)["declaration"]

    post_alerts(alertmanager, disk | {"endsAt": datetime.now(UTC).isoformat()})
    wait_until(lambda: opsbot.store.get_incident(incident.number).status is Status.RESOLVED, what="the resolve")
    wait_until(lambda: announced_resolved(fake_slack, incident.id), what="INCIDENT RESOLVED")
    wait_until(lambda: "resolution" in opsbot.services.evidence.health_snapshots(incident.number),
               what="the resolution snapshot")


def test_a_webhook_opened_and_resolved_incident_gets_the_same_effects_as_one_run_by_hand(opsbot, fake_slack):
    def post(doc: dict) -> httpx.Response:
        return opsbot.http.post("/alerts/webhook?source=grafana", json=doc,
                                headers={"Authorization": f"Bearer {GRAFANA_TOKEN}"})

    doc = {"title": "Queue backlog", "severity": "P2", "env": "staging", "dedup_key": "queue-backlog"}
    assert post(doc).status_code == 202
    incident = wait_until(lambda: opsbot.store.list_incidents(), what="the incident")[0]
    wait_until(lambda: "declaration" in opsbot.services.evidence.health_snapshots(incident.number),
               what="the declaration snapshot")
    assert post(doc | {"status": "resolved"}).status_code == 202
    wait_until(lambda: announced_resolved(fake_slack, incident.id), what="INCIDENT RESOLVED")
    wait_until(lambda: "resolution" in opsbot.services.evidence.health_snapshots(incident.number),
               what="the resolution snapshot")
    assert opsbot.store.get_incident(incident.number).status is Status.RESOLVED
