"""Paging follows the schedule, through the served app with its scheduler and the fake Slack: the person on call
is named in the INCIDENT ALERT and DM'd at declaration, at once rather than at the next tick; a level whose
schedule has a gap pages the next level at once and says so."""
from __future__ import annotations

import json

from tests.integration.conftest import serving
from tests.poll import wait_until

CONFIG = """
scheduler: {tick: 30s}
oncall:
  schedules:
    primary:
      layers: [{name: weekly, users: [U01AAAA, U01BBBB], rotation: weekly, start: "2026-01-05T09:00"}]
    nights:
      layers: [{name: n, users: [U01NNNN], rotation: daily, start: "2099-01-05T00:00"}]  # nobody until then: a gap
severities:
  P0: {name: Critical, response: 15m, escalation: [schedule:nights, schedule:primary, U0LEAD01]}
  P1: {name: High, response: 1h, escalation: [schedule:primary, U0LEAD01]}
  P2: {name: Medium, response: 4h}
  P3: {name: Low, response: next-business-day}
"""


def test_the_on_call_person_is_named_and_paged_at_declaration_and_a_gap_pages_the_next_level(
        fake_slack, sqlite_url, tmp_path):
    config = tmp_path / "opsbot.yml"
    config.write_text(CONFIG)
    with serving(fake_slack, sqlite_url, config=config, scheduler=True) as slack:
        wait_until(lambda: slack.surface.leader(), timeout=10, what="the scheduler leading")
        opsbot = slack.opsbot
        from bot.core.oncall import on_call
        from bot.timeparse import utcnow

        oncall = on_call(opsbot.catalog.oncall.schedules["primary"], utcnow()).user
        slack.command("open p1 Checkout down")
        # the 30 s tick is not waited for: the declaration brings it forward
        dm = wait_until(lambda: next((c for c in fake_slack.calls_to("chat.postMessage")
                                      if c.params.get("channel") == oncall), None), timeout=8, what="the on-call DM")
        assert "You are paged for" in dm.params["text"]
        alert = wait_until(lambda: next((c for c in fake_slack.calls_to("chat.postMessage")
                                         if "INCIDENT ALERT" in c.params.get("text", "")), None),
                           timeout=8, what="the INCIDENT ALERT")  # posted beside the page, in either order
        assert f"*On call:* <@{oncall}> (paged)" in alert.params["text"]
        slack.command("open p0 Database gone")  # nights has nobody now: level 1 is a gap
        gap = wait_until(lambda: next((c for c in fake_slack.calls_to("chat.postMessage")
                                       if "level 1 has nobody on call" in c.params.get("text", "")), None),
                         timeout=8, what="the gap page")
        assert f"<@{oncall}>" in gap.params["text"]


def test_oncall_shows_times_on_the_askers_own_clock_from_their_slack_profile(fake_slack, sqlite_url, tmp_path):
    """/oncall through the served app: the schedule's zone (UTC here) and the asker's (users.info's tz) side by
    side; someone whose profile Slack cannot give sees UTC and the schedule's zone only."""
    config = tmp_path / "opsbot.yml"
    config.write_text(CONFIG)
    fake_slack.users["U_TOKYO"] = {"tz": "Asia/Tokyo"}
    with serving(fake_slack, sqlite_url, config=config) as slack:
        slack.command("", command="/oncall", user="U_TOKYO")
        shown = json.dumps(fake_slack.wait_for_response(1)[0]["blocks"], ensure_ascii=False)
        assert "*primary*: <@U01" in shown and "yours, Asia/Tokyo)" in shown
        assert "*nights*: _nobody is on call" in shown
        slack.command("", command="/oncall", user="U_NOBODY")
        second = json.dumps(fake_slack.wait_for_response(2)[-1]["blocks"], ensure_ascii=False)
        assert "*primary*: <@U01" in second and "yours" not in second
        assert [c.params["user"] for c in fake_slack.calls_to("users.info")] == ["U_TOKYO", "U_NOBODY"]
        slack.command("", command="/oncall", user="U_TOKYO")  # known for an hour: no second users.info
        fake_slack.wait_for_response(3)
        assert len(fake_slack.calls_to("users.info")) == 2
