"""Slack failing strangely — an HTML 500 from a proxy, a 429, a connection reset — never loses an incident or
its channel: every failure reaches the code as one error, the reply says exactly what exists, and a channel Slack
failed to create is made in the background (then by the scheduler leader) until the incident is bound to it."""
from __future__ import annotations

import asyncio

from tests.poll import wait_until

PROXY_PAGE = "<html><head><title>500 Internal Server Error</title></head><body>nginx</body></html>"


def replies_text(slack, count: int) -> str:
    return "\n".join(reply.get("text", "") for reply in slack.fake.wait_for_response(count))


def test_an_html_500_and_a_reset_while_furnishing_leave_the_incident_bound_and_say_so(slack):
    slack.fake.fail_next("chat.postMessage", status=500, html=PROXY_PAGE)
    slack.fake.fail_next("chat.postMessage", status=502, html=PROXY_PAGE)
    slack.fake.fail_next("conversations.setTopic", reset=True)
    assert slack.command("open p1 Checkout down").status_code == 200
    incident = wait_until(lambda: next((i for i in slack.opsbot.store.list_incidents() if i.channel), None),
                          timeout=10, what="INC-1 bound to its channel")
    assert incident.channel == slack.fake.calls_to("conversations.create")[0].params.get("channel", incident.channel)
    said = replies_text(slack, 2)
    assert "INC-1" in said and "nothing was changed" not in said
    assert "Slack refused chat.postMessage to incidents (http_500)" in said
    assert "Slack refused chat.postMessage (http_502)" in said
    # one reset connection is retried inside the call (Slack's SDK): the topic was set, nothing to report
    assert len(slack.fake.calls_to("conversations.setTopic")) == 2 and "setTopic" not in said
    assert incident.summary_ref is None  # the summary never got out: nothing to pin, and the reply said why


def test_a_channel_slack_failed_to_create_is_made_in_the_background(slack):
    slack.surface.conversations.retry_delays = (0.2, 0.2, 0.2)
    slack.fake.fail_next("conversations.create", status=500, html=PROXY_PAGE)
    slack.fake.fail_next("conversations.create", reset=True)  # the first background try …
    slack.fake.fail_next("conversations.create", reset=True)  # … whose SDK retry is reset too
    slack.fake.fail_next("conversations.create", "ratelimited", status=429, headers={"Retry-After": "0"})
    assert slack.command("open p2 Search is slow").status_code == 200
    said = replies_text(slack, 2)
    assert "INC-1 is recorded, but its channel could not be created yet; opsbot keeps trying" in said
    assert "http_500" in said and "nothing was changed" not in said
    incident = wait_until(lambda: slack.opsbot.store.get_incident(1).channel and slack.opsbot.store.get_incident(1),
                          timeout=10, what="INC-1 bound after the retries")
    assert len(slack.fake.calls_to("conversations.create")) == 5
    assert incident.channel_name == "inc-1-search-is-slow"
    invited = slack.fake.wait_for("conversations.invite")[-1].params
    assert invited == {"channel": incident.channel, "users": "U_ALICE"}  # the declarer is brought in when it exists


def test_the_leader_reconciles_an_incident_left_without_a_channel(slack):
    """A process that stopped before making the channel (here: opened from the console on the shared store):
    the leader's pass makes it; a closed incident is left alone."""
    store = slack.opsbot.store
    services = slack.opsbot.services
    left = services.incidents.open("U_BOB", "p2", "Left behind")
    done = services.incidents.open("U_BOB", "p3", "Already over")
    services.incidents.resolve(done.number, "U_BOB", "fixed")
    conversations = slack.surface.conversations
    loop = slack.surface._reconciling.get_loop()  # the server's loop, where the Slack client's session lives
    asyncio.run_coroutine_threadsafe(conversations.reconcile(left.declared_at), loop).result(15)
    assert store.get_incident(left.number).channel_name == f"inc-{left.number}-left-behind"
    assert store.get_incident(done.number).channel is None
    assert [c.params["name"] for c in slack.fake.calls_to("conversations.create")] == [f"inc-{left.number}-left-behind"]


def test_the_threads_client_turns_an_html_page_into_the_one_slack_error(fake_slack):
    """The synchronous client (reminders, the audit channel, user groups) fails the same way: a SlackApiError
    with a code, counted by method — never an AttributeError from reading HTML as JSON."""
    import pytest
    from slack_sdk.errors import SlackApiError

    from bot.app import slack_thread_client
    from bot.config import SlackSettings
    from bot.metrics import Metrics

    metrics = Metrics()
    client = slack_thread_client(SlackSettings(slack_bot_token="xoxb-test", opsbot_slack_api_url=fake_slack.api_url),
                                 metrics)
    fake_slack.fail_next("chat.postMessage", status=503, html=PROXY_PAGE)
    with pytest.raises(SlackApiError) as raised:
        client.chat_postMessage(channel="C1", text="hello")
    assert raised.value.response.get("error") == "http_503"
    exposition = metrics.exposition().decode()
    assert 'opsbot_slack_api_errors_total{error="http_503",method="chat.postMessage"} 1.0' in exposition


def test_a_long_action_tells_the_asker_how_it_goes_in_slack(slack):
    """A deploy's progress reaches the asker as ephemeral messages while the command runs, before its reply."""
    from bot.config import Catalog
    from tests.fakes.platform import FakePlatform

    platform = FakePlatform("dev")
    slack.opsbot.services.ops.catalog = Catalog.model_validate({"environments": {"dev": {
        "platform": {"kind": "kubernetes", "namespace": "shop"}, "services": {"api": {"image": "shop/api"}}}}})
    slack.opsbot.services.ops.platform_for = lambda name, env: platform
    slack.command("deploy api dev 2.1.0", command="/ops")
    replies = slack.fake.wait_for_response(2)
    assert replies[0]["response_type"] == "ephemeral" and replies[0]["text"] == "⏳ api: 1/1 updated"
    assert "deploy api in dev: image shop/api:2 → shop/api:2.1.0" in replies[1]["text"]
