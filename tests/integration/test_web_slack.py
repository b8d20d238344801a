"""`/opsbot login` through the served app with the fake Slack: the link comes back only to the asker (ephemeral),
signs them in to /ui/ once, and the pages show times on their Slack profile's clock and link the incident's channel
in the workspace."""
from __future__ import annotations

import json
import re

import httpx

from tests.integration.conftest import serving
from tests.poll import wait_until


def test_opsbot_login_in_slack_signs_in_to_the_web_view(fake_slack, sqlite_url, tmp_path):
    fake_slack.users["U_ALICE"] = {"tz": "Asia/Tokyo"}
    with serving(fake_slack, sqlite_url) as slack:
        slack.command("open p2 Search is slow")
        wait_until(lambda: any(i.channel for i in slack.opsbot.store.list_incidents()), timeout=10,
                   what="the incident and its channel")
        slack.command("login", command="/opsbot")
        answer = wait_until(lambda: next((r for r in fake_slack.responses if "/ui/login/" in json.dumps(r)), None),
                            timeout=10, what="the sign-in link")
        assert answer["response_type"] == "ephemeral"
        link = re.search(r"http://localhost:3000(/ui/login/[A-Za-z0-9_-]+)", json.dumps(answer)).group(1)
        with httpx.Client(base_url=slack.base, follow_redirects=False) as browser:
            assert "as <strong>U_ALICE</strong>" in browser.get(link).text  # the Sign in button, nothing spent
            signed = browser.post(link)
            assert signed.status_code == 303 and "opsbot_session=U_ALICE." in signed.headers["set-cookie"]
            page = browser.get("/ui/incidents/INC-1")
            channel = slack.opsbot.store.get_incident(1).channel
            assert page.status_code == 200 and f'href="https://ops.slack.com/archives/{channel}"' in page.text
            assert " JST</time>" in page.text  # Alice's clock (users.info), UTC in the tooltip
            assert browser.post(link).status_code == 403  # spent
