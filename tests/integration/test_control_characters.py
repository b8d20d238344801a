"""Control characters (a NUL PostgreSQL's text cannot hold, a terminal's ^K XML refuses) are dropped on every path
text enters by: alerts (their payload's title, labels and annotations) on both stores, Slack's modals; typed
commands and the console in tests/unit/test_commands.py and test_search.py, public status text in
test_status_http.py (bot/core/plain_text.py)."""
from __future__ import annotations

import json

from bot.alerts import webhook
from bot.app import build
from bot.config import Settings
from tests.integration.test_slack_http import click_update, open_incident, submit_update


def test_an_alert_with_control_characters_opens_its_incident_on_either_store(store_url):
    bot = build(settings=Settings(database_url=store_url))
    try:
        body = json.dumps({"title": "Disk\u0000 full\u000b on db-1", "dedup_key": "disk\u0001", "severity": "P2",
                           "description": "usage 99%\u0007", "labels": {"team\u0000": "storage\u001b"}}).encode()
        assert bot.alerts.accept([(webhook.parse(body, "uptime"), "alert:k1")]) == [True]
        (outcome,) = bot.alerts.process_pending()
        assert outcome.outcome == "opened"
        incident = bot.store.list_incidents()[0]
        assert incident.title == "Disk full on db-1"
        kept = json.dumps([e.model_dump(mode="json") for e in bot.store.timeline(incident.number)])
        assert "usage 99%" in kept and "\\u0000" not in kept and "\\u0007" not in kept and "\\u001b" not in kept
    finally:
        bot.close()


def test_a_modals_text_is_kept_without_control_characters(slack):
    incident = open_incident(slack)
    response = submit_update(slack, click_update(slack, incident), "cache\x0b warmed\x00, watching")
    assert response.status_code == 200
    assert slack.opsbot.store.timeline(1)[-1].text == "Status update: cache warmed, watching"


def test_an_alert_key_with_a_nul_neither_fails_nor_holds_back_the_alerts_after_it(store_url):
    bot = build(settings=Settings(database_url=store_url))
    try:
        bad = json.dumps({"title": "Disk full", "dedup_key": "disk\u0000x", "severity": "P2"}).encode()
        good = json.dumps({"title": "CPU hot", "dedup_key": "cpu", "severity": "P2"}).encode()
        assert bot.alerts.accept([(webhook.parse(bad, "uptime"), "alert:k1"),
                                  (webhook.parse(good, "uptime"), "alert:k2")]) == [True, True]
        assert [o.outcome for o in bot.alerts.process_pending()] == ["opened", "opened"]
        assert sorted(i.title for i in bot.store.list_incidents()) == ["CPU hot", "Disk full"]
    finally:
        bot.close()


def test_a_message_added_to_the_timeline_keeps_no_control_characters(store_url):
    """The 📌 reaction and the message shortcut reach the incident service with a Slack message's own text."""
    bot = build(settings=Settings(database_url=store_url))
    try:
        incident = bot.services.incidents.open("U0ALICE", "p2", "Checkout slow")
        bot.services.incidents.add_note(incident.number, "U0ALICE", "Message from @U0BOB: db\x00 failover\x0b done")
        assert bot.store.timeline(incident.number)[-1].text == "Message from @U0BOB: db failover done"
    finally:
        bot.close()
