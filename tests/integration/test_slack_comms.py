"""Communication to the end, over real HTTP against the local fake Slack: status updates, INCIDENT RESOLVED and
reopenings announced in the runbooks' format, private incidents, auth.test at start-up, concurrent set-up."""
from __future__ import annotations

import time

import pytest

from bot.config import Catalog
from tests.integration.test_slack_http import assert_valid_blocks, open_incident, wait_until


def announcements(slack, count: int, channel: str = "incidents") -> list:
    wait_until(lambda: len([c for c in slack.fake.calls_to("chat.postMessage") if c.params["channel"] == channel])
               >= count)
    return [c for c in slack.fake.calls_to("chat.postMessage") if c.params["channel"] == channel]


def test_auth_test_is_called_at_start_up_not_on_the_first_command(slack):
    assert len(slack.fake.calls_to("auth.test")) == 1  # before any request
    open_incident(slack)
    slack.command("list")
    slack.fake.wait_for_response(2)
    assert len(slack.fake.calls_to("auth.test")) == 1


def test_update_is_announced_with_eta_and_next_update(slack):
    incident = open_incident(slack)
    # Slack sends a typed @channel as <!channel>: stored as plain "@channel", announced escaped, pinging nobody.
    slack.command("update rolled back the release <!channel> <https://evil.example|docs> --eta 30m",
                  channel=incident.channel)
    posted = announcements(slack, 2)[-1]
    text = posted.params["text"]
    assert "*INCIDENT UPDATE - INC-1 · P1 (High)*" in text and "*Update:* rolled back the release @channel" in text
    assert "*ETA:* " in text and "*Next update:* by " in text and f"<#{incident.channel}>" in text
    assert "<!channel>" not in text and "<https://evil" not in text  # typed text never pings nor links
    assert_valid_blocks(posted.params["blocks"])
    update = slack.opsbot.store.timeline(1)[-1]
    assert update.kind == "update" and "eta" in update.data


def test_a_bad_eta_is_refused_and_changes_nothing(slack):
    incident = open_incident(slack)
    before = len(slack.opsbot.store.timeline(1))
    slack.command("update back soon --eta tomorrowish", channel=incident.channel)
    reply = slack.fake.wait_for_response(2)[-1]
    assert reply["response_type"] == "ephemeral" and "'tomorrowish' is not an ETA" in reply["text"]
    assert len(slack.opsbot.store.timeline(1)) == before and len(announcements(slack, 1)) == 1


def test_resolve_posts_the_incident_resolved_message_and_reopen_a_notice(slack):
    incident = open_incident(slack)
    slack.command("action add \"add a 502 alert\" @U_BOB", channel=incident.channel)
    slack.command("resolve rolled back v2.3.1", channel=incident.channel)
    resolved = announcements(slack, 2)[-1].params["text"]
    assert resolved.startswith("*INCIDENT RESOLVED - INC-1 · P1 (High)*")
    assert "*Issue:* Payment API returns 502" in resolved and "*Resolution:* rolled back v2.3.1" in resolved
    assert "*Duration:* " in resolved and "*Next Steps:* post-mortem due " in resolved
    assert "1 open action item(s)" in resolved
    slack.command("reopen errors are back", channel=incident.channel)
    reopened = announcements(slack, 3)[-1].params["text"]
    assert "*INCIDENT REOPENED - INC-1" in reopened and "*Reason:* errors are back" in reopened


def test_a_private_incident_gets_a_private_channel_and_its_announcements_omit_the_title(slack):
    slack.command("open p1 Leaked credentials in repo --private --impact keys exposed")
    wait_until(lambda: slack.opsbot.store.list_incidents() and slack.opsbot.store.get_incident(1).summary_ref)
    created = slack.fake.calls_to("conversations.create")[0]
    assert created.params["is_private"] in ("1", "true", True)
    alert = announcements(slack, 1)[-1].params["text"]
    assert "INCIDENT ALERT - P1" in alert and "Leaked" not in alert and "keys exposed" not in alert
    assert slack.opsbot.store.get_incident(1).private


@pytest.mark.parametrize("slack", [{}], indirect=True)
def test_per_type_private_default_and_per_severity_announcement_channel(slack):
    catalog = Catalog.model_validate({
        "incident_types": {"security": {"private": True}},
        "severities": {"P0": {"name": "Critical", "response": "15m", "announce": "sev0-war"},
                       "P1": {"name": "High", "response": "1h"}, "P2": {"name": "Medium", "response": "4h"},
                       "P3": {"name": "Low", "response": "next-business-day"}}})
    slack.opsbot.services.incidents.catalog = catalog  # the test's catalog, as protected_backup does
    slack.command("open p0 Suspicious logins --type security")
    wait_until(lambda: slack.opsbot.store.list_incidents() and slack.opsbot.store.get_incident(1).summary_ref)
    assert slack.opsbot.store.get_incident(1).private
    assert slack.fake.calls_to("conversations.create")[0].params["is_private"] in ("1", "true", True)
    slack.command("open p0 Another --type billing")
    reply = slack.fake.wait_for_response(2)[-1]
    assert "'billing' is not an incident type (security)" in reply["text"]
    assert len(slack.opsbot.store.list_incidents()) == 1


def test_channel_set_up_runs_side_by_side_within_the_targets(slack):
    """With each Web API call taking 100 ms: announcement <= 250 ms, channel ready <= 400 ms (loose here)."""
    slack.fake.latency = 0.1
    started = time.time()
    slack.command("open p1 Payment API returns 502")
    wait_until(lambda: len(slack.fake.calls_to("pins.add")) == 1 and len(announcements(slack, 1)) == 1)
    calls = {c.method: c.at + 0.1 - started for c in slack.fake.calls if c.method != "auth.test"}
    alert = next(c for c in slack.fake.calls_to("chat.postMessage") if c.params["channel"] == "incidents")
    ready = max(calls[m] for m in ("conversations.create", "conversations.invite", "conversations.setTopic",
                                   "pins.add"))
    assert alert.at + 0.1 - started < 0.25 + 0.15  # slack for a busy test machine
    assert ready < 0.40 + 0.15
