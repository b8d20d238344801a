"""Socket Mode against a local WebSocket server that sends Socket Mode envelopes."""
from __future__ import annotations

import asyncio
import threading
import time

import pytest

from bot.app import build, slack_surface
from bot.config import Settings, SlackSettings
from tests.poll import wait_until


@pytest.fixture
def socket_bot(fake_slack, sqlite_url):
    opsbot = build(settings=Settings(database_url=sqlite_url))
    settings = SlackSettings(slack_bot_token="xoxb-test", slack_app_token="xapp-test",
                             opsbot_slack_api_url=fake_slack.api_url)
    loop = asyncio.new_event_loop()
    thread = threading.Thread(target=loop.run_forever, daemon=True)
    thread.start()

    async def connect():  # the aiohttp session must be made inside the running loop
        surface = slack_surface(opsbot, settings, socket=True)
        await surface.start()
        await surface.socket.connecting
        return surface

    surface = asyncio.run_coroutine_threadsafe(connect(), loop).result(10)
    yield opsbot
    asyncio.run_coroutine_threadsafe(surface.stop_deliveries(), loop).result(10)
    asyncio.run_coroutine_threadsafe(surface.close(), loop).result(10)
    loop.call_soon_threadsafe(loop.stop)
    thread.join(10)
    opsbot.close()




def test_slash_command_over_socket_mode_is_acked_and_applied_once(socket_bot, fake_slack):
    assert fake_slack.wait_for("apps.connections.open")[0].headers["Authorization"] == "Bearer xapp-test"
    command = {"command": "/incident", "text": "open p2 Queue backlog growing", "user_id": "U_ALICE",
               "channel_id": "C_GENERAL", "team_id": "T0001", "trigger_id": "trig-1",
               "response_url": f"{fake_slack.base_url}/response/socket"}
    envelope = {"envelope_id": "env-1", "type": "slash_commands", "accepts_response_payload": True,
                "payload": command}
    fake_slack.send_envelope(envelope)
    wait_until(lambda: any(ack.get("envelope_id") == "env-1" for ack in fake_slack.acks))
    fake_slack.wait_for("pins.add")
    # A redelivery of the same command (Slack did not see our ack in time) changes nothing.
    fake_slack.send_envelope({**envelope, "envelope_id": "env-2"})
    wait_until(lambda: any(ack.get("envelope_id") == "env-2" for ack in fake_slack.acks))
    time.sleep(0.3)
    assert [i.title for i in socket_bot.store.list_incidents(include_closed=True)] == ["Queue backlog growing"]
    assert len(fake_slack.calls_to("conversations.create")) == 1


def test_event_redelivery_over_socket_mode_is_applied_once(socket_bot, fake_slack):
    fake_slack.wait_for("apps.connections.open")
    socket_bot.services.incidents.open("U_ALICE", "p1", "Outage", channel="C_INC")
    fake_slack.messages[("C_INC", "1700000003.000300")] = {"ts": "1700000003.000300", "user": "U_CAROL",
                                                          "text": "rolled back to v1.4.1"}
    body = {"type": "event_callback", "team_id": "T0001", "api_app_id": "A0001", "event_id": "Ev-socket-1",
            "event": {"type": "reaction_added", "user": "U_BOB", "reaction": "pushpin",
                      "item": {"type": "message", "channel": "C_INC", "ts": "1700000003.000300"}}}
    for attempt in range(2):
        fake_slack.send_envelope({"envelope_id": f"ev-env-{attempt}", "type": "events_api", "payload": body,
                                  "retry_attempt": attempt, "retry_reason": "timeout" if attempt else "",
                                  "accepts_response_payload": False})
    wait_until(lambda: len([a for a in fake_slack.acks if a.get("envelope_id", "").startswith("ev-env")]) == 2)
    fake_slack.wait_for("chat.postEphemeral")
    time.sleep(0.3)
    notes = [e for e in socket_bot.store.timeline(1) if "rolled back" in e.text]
    assert len(notes) == 1
