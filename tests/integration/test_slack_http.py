"""opsbot as a Slack app, over real HTTP: signed requests in, recorded Web API calls out."""
from __future__ import annotations

import asyncio
import gc
import json
import time

import httpx
import pytest
from slack_sdk.models.blocks import Block

from bot.app import served
from bot.config import SlackSettings
from bot.core.models import Status
from bot.views.blocks import mrkdwn
from bot.views.incidents import event_text
from tests.integration.conftest import protected_backup
from tests.poll import wait_until


def assert_valid_blocks(blocks) -> None:
    """Slack's own block models accept what we send (limits included)."""
    if isinstance(blocks, str):
        blocks = json.loads(blocks)
    assert len(blocks) <= 50
    for block in blocks:
        parsed = Block.parse(block)
        assert parsed is not None, block
        parsed.validate_json()




def open_incident(slack, text="open p1 Payment API returns 502 --impact checkout fails"):
    response = slack.command(text)
    assert response.status_code == 200
    # the channel is bound once Slack has answered every call
    incident = wait_until(lambda: next((i for i in slack.opsbot.store.list_incidents() if i.summary_ref), None),
                          timeout=10, what="INC-1 bound to its channel")
    slack.fake.wait_for("chat.postMessage", 2)  # summary and announcement
    return incident


def test_healthz(slack):
    assert httpx.get(slack.base + "/healthz").json() == {"ok": True, "scheduler": "off"}


def test_forged_signature_is_rejected_and_nothing_happens(slack):
    response = slack.command("open p1 Forged", secret="wrong-secret")
    assert response.status_code == 401
    time.sleep(0.2)
    assert slack.opsbot.store.list_incidents(include_closed=True) == []
    assert slack.fake.calls_to("conversations.create") == []


def test_stale_timestamp_is_rejected(slack):
    response = slack.command("open p1 Replayed", timestamp=int(time.time()) - 6 * 60)
    assert response.status_code == 401
    assert slack.opsbot.store.list_incidents(include_closed=True) == []


def test_open_creates_channel_invites_pins_summary_and_announces(slack):
    incident = open_incident(slack)
    fake = slack.fake
    created = fake.calls_to("conversations.create")[0]
    assert created.params["name"] == "inc-1-payment-api-returns-502"
    channel = incident.channel
    assert incident.channel_name == "inc-1-payment-api-returns-502" and channel.startswith("C")
    assert fake.calls_to("conversations.invite")[0].params == {"channel": channel, "users": "U_ALICE"}
    assert "P1 · declared · commander <@U_ALICE>" in fake.calls_to("conversations.setTopic")[0].params["topic"]
    summary = next(c for c in fake.calls_to("chat.postMessage") if c.params["channel"] == channel)
    assert_valid_blocks(summary.params["blocks"])
    assert "incident_ack" in str(summary.params["blocks"])
    assert fake.calls_to("pins.add")[0].params["channel"] == channel
    alert = next(c for c in fake.wait_for("chat.postMessage", 2) if c.params["channel"] == "incidents")
    assert "INCIDENT ALERT - P1" in alert.params["text"]
    assert f"<#{channel}>" in alert.params["text"]
    reply = fake.wait_for_response()[0]
    assert reply["response_type"] == "in_channel" and "INC-1" in reply["text"]
    assert_valid_blocks(reply["blocks"])
    assert "Incident channel #inc-1-payment-api-returns-502 created" in [
        e.text for e in slack.opsbot.store.timeline(1)]


def test_commands_in_the_incident_channel_need_no_id_and_edit_the_summary(slack):
    incident = open_incident(slack)
    slack.command("ack", channel=incident.channel, user="U_BOB")
    update = slack.fake.wait_for("chat.update")[0]
    assert update.params["ts"] == incident.summary_ref and update.params["channel"] == incident.channel
    assert_valid_blocks(update.params["blocks"])
    assert slack.opsbot.store.get_incident(1).status is Status.ACKNOWLEDGED


def test_a_command_outside_an_incident_channel_asks_for_an_id(slack):
    open_incident(slack)
    slack.command("ack", channel="C_RANDOM")
    reply = slack.fake.wait_for_response(2)[-1]
    assert reply["response_type"] == "ephemeral" and "not an incident channel" in reply["text"]
    assert slack.opsbot.store.get_incident(1).status is Status.DECLARED


def test_bad_input_is_answered_ephemerally_with_usage(slack):
    slack.command("open p9 Something")
    reply = slack.fake.wait_for_response()[0]
    assert reply["response_type"] == "ephemeral"
    assert "'p9' is not a severity" in reply["text"]
    assert "Usage" in json.dumps(reply["blocks"])
    assert slack.opsbot.store.list_incidents(include_closed=True) == []


def test_taken_channel_name_gets_a_suffix(slack):
    slack.fake.fail_next("conversations.create", "name_taken")
    incident = open_incident(slack)
    names = [c.params["name"] for c in slack.fake.calls_to("conversations.create")]
    assert names == ["inc-1-payment-api-returns-502", "inc-1-payment-api-returns-502-2"]
    assert incident.channel_name == "inc-1-payment-api-returns-502-2"


def test_rate_limited_call_is_retried_after_retry_after(slack):
    slack.fake.fail_next("conversations.create", "ratelimited", status=429, headers={"Retry-After": "1"})
    open_incident(slack)
    assert len(slack.fake.calls_to("conversations.create")) == 2


def test_missing_scope_is_explained_and_the_incident_is_kept(slack):
    slack.fake.fail_next("conversations.create", "missing_scope", needed="channels:manage")
    slack.command("open p2 Slow search")
    replies = slack.fake.wait_for_response(2)
    assert "`channels:manage` scope" in replies[-1]["text"] and replies[-1]["response_type"] == "ephemeral"
    assert slack.opsbot.store.get_incident(1).title == "Slow search"


def test_announcement_joins_the_channel_when_not_in_it(slack):
    slack.fake.fail_next("chat.postMessage", "not_in_channel", when=lambda p: p.get("channel") == "incidents")
    slack.command("open p1 Outage")
    assert slack.fake.wait_for("conversations.join")[0].params["channel"] == "incidents"
    posts = slack.fake.wait_for("chat.postMessage", 3)
    assert [p.params["channel"] for p in posts].count("incidents") == 2


def test_ack_button_acknowledges_and_refreshes_the_summary(slack):
    incident = open_incident(slack)
    response = slack.interaction({
        "type": "block_actions", "user": {"id": "U_BOB"}, "channel": {"id": incident.channel},
        "message": {"ts": incident.summary_ref}, "container": {"type": "message"},
        "response_url": f"{slack.fake.base_url}/response/button",
        "actions": [{"action_id": "incident_ack", "block_id": "incident_actions", "value": "1", "type": "button"}]})
    assert response.status_code == 200
    slack.fake.wait_for("chat.update")
    stored = slack.opsbot.store.get_incident(1)
    assert stored.status is Status.ACKNOWLEDGED
    assert slack.opsbot.store.timeline(1)[-1].actor == "U_BOB"


def test_open_without_text_opens_a_modal_with_field_validation(slack):
    slack.command("open")
    view = slack.fake.wait_for("views.open")[0].params["view"]
    modal = json.loads(view) if isinstance(view, str) else view
    assert modal["callback_id"] == "incident_open_modal"
    assert_valid_blocks(modal["blocks"])

    blocks = {block["block_id"]: block for block in modal["blocks"]}
    assert [option["value"] for option in blocks["env"]["element"]["options"]] == list(slack.opsbot.catalog.environments)
    assert blocks["private"]["element"]["type"] == "checkboxes" and "type" not in blocks  # the catalog has no types

    def submit(severity, title, eta=None):
        values = {"severity": {"value": {"type": "static_select",
                                         "selected_option": {"value": severity} if severity else None}},
                  "title": {"value": {"type": "plain_text_input", "value": title}},
                  "impact": {"value": {"type": "plain_text_input", "value": None}},
                  "service": {"value": {"type": "plain_text_input", "value": "api"}},
                  "env": {"value": {"type": "static_select", "selected_option": {"value": "local"}}},
                  "private": {"value": {"type": "checkboxes", "selected_options": [{"value": "private"}]}},
                  "eta": {"value": {"type": "plain_text_input", "value": eta}}}
        return slack.interaction({"type": "view_submission", "user": {"id": "U_ALICE"},
                                  "view": {"id": slack.fake.opened_views[-1], "type": "modal",
                                           "callback_id": "incident_open_modal", "private_metadata": "",
                                           "state": {"values": values}}})

    rejected = submit(None, "   ")
    assert rejected.status_code == 200
    assert set(rejected.json()["errors"]) == {"severity", "title"}
    too_long = submit("P2", "x" * 151)  # validated by the incident service, as `/incident open` is
    assert too_long.json()["errors"] == {"title": "The title is 151 characters long; the limit is 150."}
    late = submit("P2", "Checkout latency", eta="soonish")
    assert "'soonish' is not an ETA" in late.json()["errors"]["eta"]
    assert slack.opsbot.store.list_incidents(include_closed=True) == []
    accepted = submit("P2", "Checkout latency", eta="45m")
    assert accepted.status_code == 200
    slack.fake.wait_for("pins.add")
    incident = slack.opsbot.store.get_incident(1)
    assert (incident.service, incident.env, incident.private) == ("api", "local", True)
    assert incident.eta is not None and incident.eta > incident.declared_at  # the form's ETA, like --eta
    assert slack.fake.calls_to("conversations.create")[0].params["is_private"] in (True, "true", "1")


def test_message_shortcut_adds_the_message_to_the_timeline(slack):
    incident = open_incident(slack)
    slack.interaction({"type": "message_action", "callback_id": "add_to_timeline", "user": {"id": "U_BOB"},
                       "channel": {"id": incident.channel},
                       "message": {"ts": "1700000001.000100", "user": "U_CAROL", "text": "db failover done"},
                       "response_url": f"{slack.fake.base_url}/response/shortcut"})
    slack.fake.wait_for("chat.postEphemeral")
    note = slack.opsbot.store.timeline(1)[-1]
    # Stored neutral (the author's ID in data); Slack's view mentions the author.
    assert note.text == "Message from @U_CAROL: db failover done" and note.actor == "U_BOB"
    assert mrkdwn(event_text(note)) == "Message from <@U_CAROL>: db failover done"
    assert note.data["permalink"].endswith("p1700000001.000100")


def test_pushpin_reaction_is_applied_once_despite_retries(slack):
    incident = open_incident(slack)
    slack.fake.messages[(incident.channel, "1700000002.000200")] = {
        "ts": "1700000002.000200", "user": "U_CAROL", "text": "error rate 12%"}
    event = {"type": "reaction_added", "user": "U_BOB", "reaction": "pushpin",
             "item": {"type": "message", "channel": incident.channel, "ts": "1700000002.000200"}}
    assert slack.event(event, "Ev001").status_code == 200
    assert slack.event(event, "Ev001", headers={"X-Slack-Retry-Num": "1",
                                                "X-Slack-Retry-Reason": "http_timeout"}).status_code == 200
    slack.fake.wait_for("chat.postEphemeral")
    time.sleep(0.3)
    notes = [e for e in slack.opsbot.store.timeline(1) if "error rate 12%" in e.text]
    assert len(notes) == 1
    assert len(slack.fake.calls_to("conversations.history")) == 1


def test_postmortem_is_posted_as_a_markdown_file(slack):
    incident = open_incident(slack)
    slack.command("postmortem", channel=incident.channel)
    complete = slack.fake.wait_for("files.completeUploadExternal")[0]
    assert incident.channel in json.dumps(complete.params)
    assert slack.fake.calls_to("upload")[0].params["bytes"] > 500


def test_ops_unknown_environment_and_maint_list(slack):
    slack.command("health prod", command="/ops")
    reply = slack.fake.wait_for_response()[0]
    assert reply["response_type"] == "ephemeral" and "Unknown environment 'prod'" in reply["text"]
    slack.command("list", command="/maint")
    reply = slack.fake.wait_for_response(2)[-1]
    assert reply["text"] == "Maintenance windows"
    assert "Weekly maintenance (Sunday 02:00 UTC)" in json.dumps(reply["blocks"])


def test_ack_is_fast(slack):
    started = time.perf_counter()
    response = slack.command("list")
    assert response.status_code == 200
    assert time.perf_counter() - started < 3.0  # Slack's limit; the bench measures the real figures


def test_ops_plan_confirm_button_runs_the_action(slack, tmp_path):
    marker = protected_backup(slack, tmp_path)
    slack.command("run backup prod", command="/ops")
    plan_reply = slack.fake.wait_for_response()[0]
    assert_valid_blocks(plan_reply["blocks"])
    button = plan_reply["blocks"][-1]["elements"][0]
    assert button["action_id"] == "ops_confirm" and "confirm" in button and not marker.exists()
    slack.interaction({"type": "block_actions", "user": {"id": "U_ALICE"}, "channel": {"id": "C_GENERAL"},
                       "container": {"type": "message"}, "response_url": f"{slack.fake.base_url}/response/confirm",
                       "actions": [{"action_id": "ops_confirm", "block_id": "ops_plan", "value": button["value"],
                                    "type": "button"}]})
    done = slack.fake.wait_for_response(2)[-1]
    assert "Done" in done["text"] and marker.read_text() == "done"


@pytest.mark.parametrize("slack", [{"opsbot_slack_workers": 1}], indirect=True)
def test_busy_workers_delay_replies_not_acks_nor_modals(slack):
    """With the only work slot held by a reply Slack has not taken yet, the next command is still acked, its
    reply waits its turn, and a modal (whose trigger_id expires in 3 s) opens at once."""
    slack.fake.hold_responses()
    assert slack.command("list").status_code == 200
    wait_until(lambda: slack.fake.held == 1)  # the first reply is in flight, holding the slot

    assert slack.command("help").status_code == 200
    assert slack.command("open").status_code == 200
    slack.fake.wait_for("views.open")
    time.sleep(0.3)
    assert slack.fake.held == 1 and slack.fake.responses == []  # the second reply is queued, not sent

    slack.fake.release_responses()
    first, second = slack.fake.wait_for_response(2)
    assert "no open incidents" in first["text"].lower()
    assert "/incident" in second["text"]


def test_start_up_objects_are_frozen_out_of_the_collector_and_the_session_closed(slack):
    built = served(slack.opsbot, SlackSettings(slack_bot_token="xoxb-test", slack_signing_secret="s",
                                               opsbot_slack_api_url=slack.fake.api_url))
    bolt = built.slack.bolt
    messages = [{"type": "lifespan.startup"}, {"type": "lifespan.shutdown"}]
    sent = []

    async def receive():
        return messages.pop(0)

    async def send(message):
        if message["type"] == "lifespan.startup.complete":
            assert gc.get_freeze_count() > 0 and not bolt.client.session.closed
        sent.append(message["type"])

    gc.unfreeze()
    asyncio.run(built.app({"type": "lifespan", "asgi": {"version": "3.0"}}, receive, send))
    assert sent == ["lifespan.startup.complete", "lifespan.shutdown.complete"]
    assert bolt.client.session.closed


def click_update(slack, incident, user: str = "U_BOB") -> str:
    """The pinned summary's Update status button: opsbot opens the modal; returns its view id."""
    opened = len(slack.fake.opened_views)
    slack.interaction({"type": "block_actions", "user": {"id": user}, "channel": {"id": incident.channel},
                       "container": {"type": "message"}, "response_url": f"{slack.fake.base_url}/response/u",
                       "actions": [{"action_id": "incident_update", "block_id": "incident_actions", "value": "1",
                                    "type": "button"}]})
    wait_until(lambda: len(slack.fake.opened_views) > opened)
    return slack.fake.opened_views[-1]


def submit_update(slack, view_id: str, text: str, user: str = "U_BOB"):
    return slack.interaction({"type": "view_submission", "user": {"id": user},
                              "view": {"id": view_id, "type": "modal", "callback_id": "incident_update_modal",
                                       "private_metadata": "1", "state": {"values": {
                                           "text": {"value": {"type": "plain_text_input", "value": text}}}}}})


def test_update_modal_text_is_taken_as_typed_and_posted_in_the_incident_channel(slack):
    incident = open_incident(slack)
    text = "error rate back to 0.1% after 10–15 min; “cache” warmed — watching"
    response = submit_update(slack, click_update(slack, incident), text)
    assert response.status_code == 200 and response.text in ("", "null")
    posts = slack.fake.wait_for("chat.postMessage", 4)  # summary, alert, then the update in the channel and announced
    posted = [p for p in posts if p.params["channel"] == incident.channel][-1]
    assert "10–15 min" in posted.params["text"]
    announced = [p for p in posts if p.params["channel"] == "incidents"][-1]
    assert "INCIDENT UPDATE - INC-1" in announced.params["text"] and "10–15 min" in announced.params["text"]
    assert slack.opsbot.store.timeline(1)[-1].text == f"Status update: {text}"


def test_a_submission_is_accepted_only_for_a_modal_opsbot_opened_for_that_user(slack):
    incident = open_incident(slack)
    before = len(slack.opsbot.store.timeline(1))
    forged = submit_update(slack, "V9999", "all good, nothing to see")  # never opened
    assert "not opened for you" in forged.json()["errors"]["text"]
    view_id = click_update(slack, incident, user="U_BOB")
    someone_else = submit_update(slack, view_id, "all good", user="U_EVE")  # Bob's modal, Eve's submission
    assert "not opened for you" in someone_else.json()["errors"]["text"]
    assert len(slack.opsbot.store.timeline(1)) == before
    assert submit_update(slack, view_id, "rolled back, watching").status_code == 200
    assert slack.opsbot.store.timeline(1)[-1].text == "Status update: rolled back, watching"
    again = submit_update(slack, view_id, "rolled back, watching")  # replayed
    assert "not opened for you" in again.json()["errors"]["text"]


def test_the_open_modal_offers_the_catalogs_incident_types_and_a_type_can_make_it_private():
    from bot.config import Catalog
    from bot.slack.modals import open_modal

    catalog = Catalog.model_validate({"incident_types": {"security": {"private": True}, "data": {}}})
    modal = open_modal(catalog, "C1")
    assert_valid_blocks(modal["blocks"])
    blocks = {block["block_id"]: block for block in modal["blocks"]}
    assert [(o["value"], o["text"]["text"]) for o in blocks["type"]["element"]["options"]] == \
        [("security", "security (private channel)"), ("data", "data")]
    assert "env" not in blocks  # no environments in this catalog, so no field to fill


def test_a_type_chosen_in_the_open_modal_gives_its_private_channel(slack):
    from bot.config import Catalog

    slack.opsbot.services.incidents.catalog = Catalog.model_validate({"incident_types": {"security": {"private": True}}})
    slack.command("open")
    slack.fake.wait_for("views.open")
    values = {"severity": {"value": {"type": "static_select", "selected_option": {"value": "P1"}}},
              "title": {"value": {"type": "plain_text_input", "value": "Leaked key"}},
              "type": {"value": {"type": "static_select", "selected_option": {"value": "security"}}},
              "private": {"value": {"type": "checkboxes", "selected_options": []}}}  # unticked: the type decides
    accepted = slack.interaction({"type": "view_submission", "user": {"id": "U_ALICE"},
                                  "view": {"id": slack.fake.opened_views[-1], "type": "modal",
                                           "callback_id": "incident_open_modal", "private_metadata": "",
                                           "state": {"values": values}}})
    assert accepted.status_code == 200
    slack.fake.wait_for("pins.add")
    incident = slack.opsbot.store.get_incident(1)
    assert (incident.type, incident.private) == ("security", True)
    assert slack.fake.calls_to("conversations.create")[0].params["is_private"] in (True, "true", "1")


def test_open_with_an_unknown_env_is_refused_in_slack_listing_the_catalogs(slack):
    assert slack.command("open p2 Slow search --env nosuchenv").status_code == 200
    reply = slack.fake.wait_for_response()[-1]
    assert "Unknown environment 'nosuchenv'. Environments: local." in reply["text"]
    assert reply["response_type"] == "ephemeral"
    assert slack.opsbot.store.list_incidents(include_closed=True) == []
