"""Similar past incidents, posted once in a new incident's channel by the served app (signed requests, the fake
Slack Web API on loopback) — for an incident opened by a slash command and for one opened by an alert."""
from __future__ import annotations

import hashlib
import hmac
import json

from tests.integration.test_alerts import GRAFANA_TOKEN, opsbot  # noqa: F401  (the served app with alert intake)
from tests.integration.test_slack_failures import PROXY_PAGE
from tests.integration.test_slack_http import wait_until


def _past(bot, title: str, resolution: str, service: str | None = None) -> None:
    flows = bot.services.flows
    incident = flows.incidents.open("U_OLD", "P2", title, service=service)
    flows.incidents.add_action_item(incident.number, "U_OLD", "alert earlier on this")
    flows.resolve(incident.number, "U_OLD", resolution)


def _similar_posts(fake, channel: str | None) -> list:
    return [c for c in fake.calls_to("chat.postMessage")
            if c.params.get("channel") == channel and "Similar past incidents" in json.dumps(c.params)]


def test_a_command_opened_incident_gets_the_similar_ones_once(slack):
    _past(slack.opsbot, "Postgres connection pool exhausted on api", "raised the pool size to 50", "api")
    _past(slack.opsbot, "Certificate expired on the status page", "renewed it")
    assert slack.command("open p1 API cannot get a database connection, pool exhausted --service api").status_code == 200
    incident = wait_until(lambda: next((i for i in slack.opsbot.store.list_incidents() if i.summary_ref), None),
                          timeout=10, what="INC-3 bound to its channel")
    posts = wait_until(lambda: _similar_posts(slack.fake, incident.channel), timeout=10, what="the similar post")
    text = json.dumps(posts[0].params)
    assert "INC-1" in text and "raised the pool size to 50" in text and "alert earlier on this" in text
    assert "INC-2" not in text  # not similar enough
    slack.command("note INC-3 looking", channel=incident.channel)
    slack.fake.wait_for_response(2)
    assert len(_similar_posts(slack.fake, incident.channel)) == 1


def test_nothing_is_posted_when_nothing_is_similar(slack):
    _past(slack.opsbot, "Postgres connection pool exhausted on api", "raised the pool size")
    slack.command("open p1 Kangaroo on the runway")
    incident = wait_until(lambda: next((i for i in slack.opsbot.store.list_incidents() if i.summary_ref), None),
                          timeout=10, what="the incident bound to its channel")
    slack.fake.wait_for("chat.postMessage", 2)
    assert _similar_posts(slack.fake, incident.channel) == []


def test_an_alert_opened_incident_gets_the_similar_ones(opsbot, fake_slack):  # noqa: F811
    _past(opsbot, "Checkout p95 latency above 2 seconds", "added an index on orders", "checkout")
    body = json.dumps({"title": "Checkout p95 above 2 s", "severity": "P1", "service": "checkout",
                       "dedup_key": "checkout-latency"}).encode()
    signature = "sha256=" + hmac.new(GRAFANA_TOKEN.encode(), body, hashlib.sha256).hexdigest()
    answer = opsbot.http.post("/alerts/webhook?source=grafana", content=body,
                              headers={"X-Opsbot-Signature": signature, "Content-Type": "application/json"})
    assert answer.status_code == 202
    incident = wait_until(lambda: next((i for i in opsbot.store.list_incidents() if i.channel), None), timeout=10,
                          what="the alert's incident bound to its channel")
    posts = wait_until(lambda: _similar_posts(fake_slack, incident.channel), timeout=10, what="the similar post")
    assert "INC-1" in json.dumps(posts[0].params) and "added an index on orders" in json.dumps(posts[0].params)


def test_the_similar_ones_follow_a_channel_made_on_a_later_try(slack):
    """Slack fails to create the channel at first: the similar list is posted once the background try makes it."""
    _past(slack.opsbot, "Postgres connection pool exhausted on api", "raised the pool size to 50", "api")
    slack.surface.conversations.retry_delays = (0.2, 0.2, 0.2)
    slack.fake.fail_next("conversations.create", status=500, html=PROXY_PAGE)
    slack.fake.fail_next("conversations.create", reset=True)  # the first background try …
    slack.fake.fail_next("conversations.create", reset=True)  # … whose SDK retry is reset too
    assert slack.command("open p1 API cannot get a database connection, pool exhausted --service api").status_code == 200
    incident = wait_until(lambda: next((i for i in slack.opsbot.store.list_incidents() if i.channel), None),
                          timeout=10, what="INC-2 bound to its channel on a later try")
    assert len(slack.fake.calls_to("conversations.create")) == 4
    posts = wait_until(lambda: _similar_posts(slack.fake, incident.channel), timeout=10, what="the similar post")
    assert "raised the pool size to 50" in json.dumps(posts[0].params)
    slack.command("note INC-2 looking", channel=incident.channel)
    slack.fake.wait_for_response(2)
    assert len(_similar_posts(slack.fake, incident.channel)) == 1
