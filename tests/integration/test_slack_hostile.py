"""Requests as an attacker or a broken proxy sends them, over real HTTP: verified before parsed, capped, and never
an HTTP 500 or a traceback for something malformed."""
from __future__ import annotations

import json
import time
from urllib.parse import urlencode

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.integration.conftest import protected_backup
from tests.poll import wait_until

FORM = "application/x-www-form-urlencoded"
MALFORMED_SIGNED = [
    ("", FORM),
    ("payload=", FORM),
    ("payload=not-json", FORM),
    ("payload=%5B1%2C2%5D", FORM),  # a JSON list
    ("payload=" + json.dumps({"type": "block_actions"}), FORM),
    (urlencode({"payload": json.dumps({"type": "block_actions", "user": {"id": "U1"}, "actions": "x"})}), FORM),
    (urlencode({"payload": json.dumps({"type": "block_actions", "user": {"id": "U1"},
                                       "actions": [{"action_id": "incident_ack", "value": "not-a-number"}]})}), FORM),
    (urlencode({"payload": json.dumps({"type": "block_actions", "user": {"id": "U1"},
                                       "actions": [{"action_id": "ops_confirm", "value": "p-1; --yes"}]})}), FORM),
    (urlencode({"payload": json.dumps({"type": "view_submission", "user": {"id": "U1"}})}), FORM),
    (urlencode({"payload": json.dumps({"type": "view_submission", "user": {"id": "U1"},
                                       "view": {"callback_id": "incident_open_modal", "state": None}})}), FORM),
    (urlencode({"payload": json.dumps({"type": "view_submission", "user": {"id": "U1"},
                                       "view": {"type": "modal", "callback_id": "incident_update_modal",
                                                "private_metadata": "x",
                                                "state": {"values": {}}}})}), FORM),
    (urlencode({"payload": json.dumps({"type": "message_action", "callback_id": "add_to_timeline",
                                       "user": {"id": "U1"}})}), FORM),
    (urlencode({"payload": json.dumps({"type": "shortcut", "callback_id": "add_to_timeline",
                                       "user": {"id": "U1"}})}), FORM),
    (urlencode({"command": "/incident"}), FORM),
    (urlencode({"command": "/incident", "text": "list", "user_id": "U1"}), FORM),
    ("{", "application/json"),
    ("[]", "application/json"),
    (json.dumps({"type": "event_callback"}), "application/json"),
    (json.dumps({"type": "event_callback", "event_id": "Ev1", "event": {"type": "reaction_added"}}),
     "application/json"),
    (json.dumps({"type": "event_callback", "event_id": "Ev2", "event": {"type": "reaction_added", "reaction": "pushpin",
                                                                        "item": {"type": "message"}}}),
     "application/json"),
    ("\xff\xfe garbage", "text/plain"),
]


@pytest.mark.parametrize("body,content_type", MALFORMED_SIGNED)
def test_a_malformed_signed_request_is_refused_without_a_500(slack, body, content_type, caplog):
    response = slack.post(body, content_type)
    assert response.status_code < 500, response.text
    time.sleep(0.05)
    assert "Traceback" not in caplog.text
    assert slack.opsbot.store.list_incidents(include_closed=True) == []


def test_a_bad_or_non_numeric_timestamp_is_401(slack):
    assert slack.post("command=/incident", FORM, timestamp=int(time.time()) - 600).status_code == 401
    response = slack.http.post("/slack/events", content=b"command=/incident", headers={
        "Content-Type": FORM, "X-Slack-Request-Timestamp": "soon", "X-Slack-Signature": "v0=00"})
    assert response.status_code == 401
    response = slack.http.post("/slack/events", content=b"command=/incident", headers={"Content-Type": FORM})
    assert response.status_code == 401


def test_a_non_utf8_body_or_a_309_digit_timestamp_is_4xx_never_500(slack, caplog):
    now = str(int(time.time()))
    for body, timestamp in ((b"command=/incident&text=\xff\xfe", now), (b"command=/incident", "9" * 309)):
        response = slack.http.post("/slack/events", content=body, headers={
            "Content-Type": FORM, "X-Slack-Request-Timestamp": timestamp, "X-Slack-Signature": "v0=" + "0" * 64})
        assert response.status_code == 401, response.text
    assert "Traceback" not in caplog.text
    assert slack.opsbot.store.list_incidents(include_closed=True) == []


def test_a_body_over_a_megabyte_is_413_before_anything_is_parsed(slack):
    body = "text=" + "x" * (1 << 20)
    assert slack.post(body, FORM).status_code == 413
    assert slack.post(body, FORM, secret="wrong").status_code == 413  # refused before the signature is checked


def test_yes_never_skips_the_plan_of_a_protected_environment_from_slack(slack, tmp_path):
    marker = protected_backup(slack, tmp_path)
    slack.command("run backup prod --yes", command="/ops")
    reply = slack.fake.wait_for_response()[0]
    assert "Plan" in reply["text"] and not marker.exists()


JSONISH = st.recursive(st.one_of(st.none(), st.booleans(), st.integers(), st.text(max_size=20)),
                       lambda inner: st.one_of(st.lists(inner, max_size=3), st.dictionaries(st.text(max_size=8), inner,
                                                                                          max_size=3)),
                       max_leaves=8)
KEYS = ["type", "user", "id", "actions", "action_id", "value", "view", "callback_id", "state", "values",
        "private_metadata", "channel", "message", "ts", "text", "event", "event_id", "item", "reaction", "trigger_id",
        "response_url", "block_id", "selected_options"]
SHAPED = st.recursive(
    st.one_of(st.none(), st.integers(), st.sampled_from(["block_actions", "view_submission", "message_action",
                                                        "shortcut", "event_callback", "reaction_added", "pushpin",
                                                        "message", "incident_ack", "ops_confirm", "maint_check",
                                                        "incident_open_modal", "U1", "C1", "1", "modal", ""]),
              JSONISH),
    lambda inner: st.one_of(st.lists(inner, max_size=3), st.dictionaries(st.sampled_from(KEYS), inner, max_size=6)),
    max_leaves=20)


@settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(payload=st.dictionaries(st.sampled_from(KEYS), SHAPED, max_size=8), as_event=st.booleans())
def test_random_signed_payloads_never_get_a_500(slack, payload, as_event):
    if as_event:
        response = slack.post(json.dumps(payload), "application/json")
    else:
        response = slack.post(urlencode({"payload": json.dumps(payload)}), FORM)
    assert response.status_code < 500, (payload, response.text)


@pytest.mark.parametrize("action_id,value", [("incident_ack", "1 --yes"), ("ops_confirm", "p-000000 extra"),
                                             ("ops_confirm", "--yes"), ("maint_mode_on", "prod --yes"),
                                             ("maint_mode_on", "$(id)")])
def test_button_values_are_looked_up_never_pasted_into_a_command(slack, action_id, value):
    response = slack.interaction({"type": "block_actions", "user": {"id": "U_ALICE"}, "channel": {"id": "C1"},
                                  "container": {"type": "message"},
                                  "response_url": f"{slack.fake.base_url}/response/button",
                                  "actions": [{"action_id": action_id, "block_id": "b", "value": value,
                                               "type": "button"}]})
    assert response.status_code == 200
    reply = slack.fake.wait_for_response()[0]
    assert reply["response_type"] == "ephemeral" and "no longer valid" in reply["text"]


def test_a_global_shortcut_with_the_timeline_callback_is_not_taken_for_a_message_shortcut(slack):
    started = time.monotonic()
    response = slack.interaction({"type": "shortcut", "callback_id": "add_to_timeline", "user": {"id": "U_ALICE"}})
    assert response.status_code == 404 and time.monotonic() - started < 2
    assert slack.fake.calls_to("chat.postEphemeral") == []


def test_a_form_body_that_looks_like_json_is_read_as_bolt_reads_it(slack):
    body = ('{"type":"view_submission","user":{"id":"U1"},"view":{"callback_id":"incident_open_modal"},'
            '"x":"&command=/ops&user_id=U1&channel_id=C1&response_url=https://x"}')
    assert slack.post(body, FORM).status_code == 400


def test_a_slash_command_mentioning_payload_is_not_lost(slack):
    assert slack.command("open p2 bad payload from upstream").status_code == 200
    wait_until(slack.opsbot.store.list_incidents, timeout=10, what="the command (lost?)")
    assert slack.opsbot.store.get_incident(1).title == "bad payload from upstream"


@pytest.mark.parametrize("slack", [{"opsbot_slack_workers": 1, "opsbot_slack_queue": 1}], indirect=True)
def test_past_the_queue_bound_a_delivery_is_refused_at_once_and_changes_nothing(slack):
    slack.fake.hold_responses()  # the one worker's reply waits, so the worker stays busy
    try:
        assert slack.command("list").status_code == 200
        wait_until(lambda: slack.fake.held >= 1, timeout=10, what="the busy worker's reply")
        assert slack.command("open p2 Waits for the worker").status_code == 200  # the one place in the queue
        assert slack.command("open p1 Refused, queue full").status_code == 200  # acked, then refused
        wait_until(lambda: slack.fake.held >= 2, timeout=10, what="the refusal")
        assert slack.fake.held == 2  # the busy worker's reply and the refusal
        # An event waits its turn however full the queue: nobody asked anything, so nobody is told "busy".
        reaction = {"type": "reaction_added", "user": "U_BOB", "reaction": "thumbsup",
                    "item": {"type": "message", "channel": "C_GENERAL", "ts": "1700000009.000900"}}
        assert slack.event(reaction, "Ev-while-busy").status_code == 200
    finally:
        slack.fake.release_responses()
    replies = slack.fake.wait_for_response(3)
    busy = [reply for reply in replies if "opsbot is busy" in reply["text"]]
    assert len(busy) == 1 and "nothing was done" in busy[0]["text"] and busy[0]["response_type"] == "ephemeral"
    titles = [incident.title for incident in slack.opsbot.store.list_incidents()]
    assert titles == ["Waits for the worker"]  # the refused one was not opened
    assert b"opsbot_busy_refusals_total 1.0" in slack.http.get("/metrics").content
    assert not any("busy" in str(call.params) for call in slack.fake.calls_to("chat.postEphemeral"))


def test_a_body_trickled_slower_than_the_deadline_gets_408_and_the_server_goes_on(slack, monkeypatch):
    """Over a real socket: the headers promise 100 bytes, one arrives, then nothing; the gate answers 408 when the
    deadline passes (here 1 s) and the next request is served."""
    import socket
    import time
    from urllib.parse import urlsplit

    import bot.asgi

    monkeypatch.setattr(bot.asgi, "BODY_DEADLINE", 1.0)
    address = urlsplit(slack.base)
    with socket.create_connection((address.hostname, address.port), timeout=10) as raw:
        raw.sendall(b"POST /slack/events HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                    b"Content-Length: 100\r\n\r\n{")
        started = time.monotonic()
        answer = raw.recv(4096).decode()
        assert answer.startswith("HTTP/1.1 408") and time.monotonic() - started < 5
    assert slack.command("help").status_code == 200
