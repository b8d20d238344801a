"""Alert storms and big groups through a real Alertmanager (Debian's package, one per test on loopback): 300 groups
at once open at most `alerts.storm.max_new` incidents and one storm incident counting the rest per alert name, and a
group of 5,000 alerts (Alertmanager's default `max_alerts: 0` sends them in one notification) opens one incident with
every alert counted. opsbot is served as in `opsbot serve`, Slack faked on loopback."""
from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta

import httpx
import pytest
import uvicorn

from bot.app import build, served
from bot.config import Settings, SlackSettings
from bot.core.models import EventKind
from tests.integration.alertmanager_server import running_alertmanager
from tests.integration.conftest import SECRET, free_port
from tests.poll import wait_until

TOKEN = "am-token-0123456789"
NAMES = ("StormCPU", "StormDisk", "StormNet")


@pytest.fixture
def port() -> int:
    return free_port()


@pytest.fixture
def alertmanager(tmp_path, port):
    """Groups by alert name and instance (one group per alert), except `test="big"`: one group per alert name, sent
    once every alert posted has arrived (Alertmanager takes in a big post over a few hundred milliseconds)."""
    with running_alertmanager(tmp_path, f"""
route:
  receiver: opsbot
  group_by: [alertname, instance]
  group_wait: 1s
  group_interval: 1s
  repeat_interval: 1h
  routes:
    - {{matchers: ['test="big"'], group_by: [alertname], group_wait: 4s}}  # all 5,000 in its first notification
receivers:
  - name: opsbot
    webhook_configs:
      - url: http://127.0.0.1:{port}/alerts/alertmanager
        send_resolved: true
        http_config: {{authorization: {{type: Bearer, credentials: {TOKEN}}}}}
""") as http:
        yield http


@pytest.fixture
def opsbot(fake_slack, sqlite_url, tmp_path, port):
    (tmp_path / "opsbot.yml").write_text("alerts:\n  storm: {max_new: 10, per: 1m}\n")
    settings = SlackSettings(slack_bot_token="xoxb-test", slack_signing_secret=SECRET,
                             opsbot_slack_api_url=fake_slack.api_url, port=port)
    bot = build(settings=Settings(database_url=sqlite_url, config=tmp_path / "opsbot.yml"), slack=settings)
    app = served(bot, settings, "http", alert_tokens={"alertmanager": TOKEN}).app
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", lifespan="on"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    wait_until(lambda: server.started, 10, "opsbot to listen")
    bot.http = httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=10)
    yield bot
    bot.http.close()
    server.should_exit = True
    thread.join(10)
    bot.close()


def alert(name: str, instance: str, starts: datetime, test: str) -> dict:
    return {"labels": {"alertname": name, "instance": instance, "test": test},
            "annotations": {"summary": f"{instance} is unwell"}, "startsAt": starts.isoformat()}


def post_alerts(alertmanager: httpx.Client, alerts: list[dict]) -> None:
    assert alertmanager.post("/api/v2/alerts", json=alerts).status_code == 200


def test_300_groups_at_once_open_at_most_max_new_incidents_and_one_storm_counting_per_alert_name(
        alertmanager, opsbot, fake_slack):
    started = datetime.now(UTC).replace(microsecond=0) - timedelta(minutes=2)
    post_alerts(alertmanager, [alert(NAMES[n % 3], f"host-{n:03d}", started, "storm") for n in range(300)])

    def groups_applied() -> bool:
        return sum(i.alert_groups for i in opsbot.store.list_incidents()) == 300

    wait_until(groups_applied, 45, "all 300 groups applied")
    incidents = opsbot.store.list_incidents()
    storms = [incident for incident in incidents if incident.storm]
    own = [incident for incident in incidents if not incident.storm]
    assert len(own) == 10 and len(storms) == 1  # max_new incidents + one storm incident
    storm = storms[0]
    assert storm.alert_groups == 290 and sum(storm.alert_counts.values()) == 290
    for name in NAMES:  # every alert counted once: on its own incident or on the storm's
        assert storm.alert_counts[name] + sum(i.alert_counts.get(name, 0) for i in own) == 100
    joined = [e for e in opsbot.store.timeline(storm.number) if e.data.get("storm") == "joined"]
    assert len(joined) == 290 and len({e.data["group"] for e in joined}) == 290
    assert all(e.kind is EventKind.ALERT and e.actor == "alertmanager" for e in joined)

    # Slack: eleven channels (not 300), the storm announced once, and that announcement edited as groups joined
    # until it shows them all, with the count per alert name.
    wait_until(lambda: len(fake_slack.calls_to("conversations.create")) == 11, 20, "eleven channels")
    announced = [c for c in fake_slack.calls_to("chat.postMessage") if "ALERT STORM" in c.params.get("text", "")]
    assert len(announced) == 1 and announced[0].params["channel"] == "incidents"
    final = "*Groups:* 290 · *Alerts firing:* 290"

    def edited_to_the_end() -> list:
        return [c for c in fake_slack.calls_to("chat.update")
                if c.params.get("channel") == "incidents" and final in c.params.get("text", "")]

    last = wait_until(edited_to_the_end, 20, "the storm announcement showing every group")[-1].params["text"]
    assert all(f"• {name}: {storm.alert_counts[name]}" in last for name in NAMES)
    edits = [c for c in fake_slack.calls_to("chat.update") if c.params.get("channel") == "incidents"]
    assert len(edits) < 290  # coalesced while groups kept joining
    assert len(fake_slack.calls_to("conversations.create")) == 11


def test_a_group_of_5000_alerts_opens_one_incident_with_every_alert_counted(alertmanager, opsbot):
    started = datetime.now(UTC)  # an alert older than group_wait is sent at once, before the rest have arrived
    post_alerts(alertmanager, [alert("NodeDown", f"node-{n:04d}", started, "big") for n in range(5000)])
    incident = wait_until(lambda: opsbot.store.list_incidents(), 45, "the incident")[0]
    assert [r.args["alerts"] for r in opsbot.store.audit_records()] == [5000]  # one delivery, accepted whole
    assert incident.alert_counts == {"NodeDown": 5000} and incident.title == "NodeDown: node-0000 is unwell"
    alerts = [e for e in opsbot.store.timeline(incident.number) if e.kind is EventKind.ALERT]
    assert len(alerts) == 101  # the first 100 in full, then one summary
    assert len({e.data["fingerprint"] for e in alerts[:100]}) == 100
    assert alerts[100].data["summarised"] == 4900
    assert alerts[100].data["counts"] == [{"alertname": "NodeDown", "status": "firing", "count": 4900}]
    assert len(opsbot.store.list_incidents()) == 1
    metrics = opsbot.http.get("/metrics").text
    assert 'opsbot_alerts_received_total{outcome="opened",source="alertmanager"} 1.0' in metrics
    assert 'outcome="too_large"' not in metrics and 'outcome="malformed"' not in metrics
