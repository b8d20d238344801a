"""`/opsbot login` over real HTTP against the local fake Slack: the link is answered only to the asker (an
ephemeral reply), signs them in to the web view once, and the pages show times in their Slack time zone
(users.info) with UTC on hover, and link to the incident's Slack channel."""
from __future__ import annotations

import json
import re

import httpx

from tests.integration.test_slack_http import open_incident


def test_opsbot_login_answers_only_the_asker_with_a_link_that_signs_in_once(slack):
    slack.fake.users["U0ALICE01"] = {"tz": "Asia/Tokyo"}
    incident = open_incident(slack)
    assert slack.command("login", command="/opsbot", user="U0ALICE01").status_code == 200
    reply = slack.fake.wait_for_response()[-1]
    assert reply["response_type"] == "ephemeral"
    (link,) = re.findall(r"http://localhost:3000/ui/login/[A-Za-z0-9_-]+", json.dumps(reply["blocks"]))
    web = httpx.Client(base_url=slack.base, timeout=10)
    path = link.removeprefix("http://localhost:3000")
    assert web.get(path).status_code == 200  # whose link it is and the Sign in button: nothing spent
    signed = web.post(path)
    assert signed.status_code == 303 and "opsbot_session=U0ALICE01." in signed.headers["set-cookie"]
    web.cookies.set("opsbot_session", signed.cookies["opsbot_session"], path="/ui")
    page = web.get("/ui/incidents/INC-1")
    assert page.status_code == 200 and " JST</time>" in page.text and re.search(r'title="[0-9-]+ [0-9:]+ UTC"', page.text)
    assert f'href="https://ops.slack.com/archives/{incident.channel}">Slack channel</a>' in page.text
    assert any(call.params.get("user") == "U0ALICE01" for call in slack.fake.calls_to("users.info"))
    assert httpx.get(slack.base + path).status_code == 403 and httpx.post(slack.base + path).status_code == 403


def test_opsbot_help_lists_login(slack):
    slack.command("help", command="/opsbot")
    reply = slack.fake.wait_for_response()[-1]
    assert reply["response_type"] == "ephemeral" and "/opsbot login" in reply["text"] + str(reply.get("blocks"))
