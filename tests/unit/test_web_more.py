"""More of the web view over HTTP: `opsbot web-login` prints a working link, the cookie is Secure over HTTPS, the
store keeps only hashes of links and sessions, an ops action on the timeline links to its audit record, the
maintenance page (last 30 and next 30 days, recurring reminders) and the on-call page (now and 14 days).
Both stores: tests/contract/test_on_postgres_web_more.py."""
from __future__ import annotations

import hashlib
import re
import uuid
from datetime import UTC, datetime, timedelta

import pytest

from bot.cli import main
from bot.core.audit import AuditRecord
from bot.core.models import Event, EventKind
from commands.base import Context
from tests.webview import client, opsbot_on, say, signed_in

CATALOG = """
environments:
  prod: {services: {api: {}}}
roles:
  prod: {responder: [U0RESP01]}
  "*": {admin: [U0ADMIN01]}
scheduler:
  reminders:
    patching: {cron: "0 9 * * mon", title: "Patch <b>Tuesday</b>", channel: "#ops", timezone: Europe/Berlin}
oncall:
  schedules:
    primary:
      time_zone: Europe/Berlin
      layers:
        - {name: weekly, users: [U01AAAA, U01BBBB], rotation: weekly, start: 2026-11-02T09:00}
"""


@pytest.fixture
def bot(tmp_path, store_url):
    """opsbot on this module's catalog (reminders and an on-call schedule), as tests/webview.py builds it."""
    with opsbot_on(tmp_path, store_url, CATALOG) as opsbot:
        yield opsbot


def test_web_login_prints_a_link_that_signs_the_user_in(bot, tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("OPSBOT_DATABASE_URL", bot.settings.database_url)
    monkeypatch.setenv("OPSBOT_WEB_URL", "https://ops.example.com/")
    assert main(["web-login", "--user", "U0RESP01", "--config", str(tmp_path / "opsbot.yml")]) == 0
    link = capsys.readouterr().out.strip()
    assert link.startswith("https://ops.example.com/ui/login/")
    browser = client(bot)
    assert browser.post(link.removeprefix("https://ops.example.com")).status_code == 303
    assert main(["web-login", "--user", "alice", "--config", str(tmp_path / "opsbot.yml")]) != 0
    assert "is not a Slack user ID" in capsys.readouterr().err


def test_opsbot_login_is_ephemeral_and_help_lists_it(bot):
    reply = bot.router.handle("/opsbot", "login", Context(user="U0RESP01", source="console"))
    assert reply.ok and reply.ephemeral and "/ui/login/" in reply.text + str(reply)
    help_text = bot.router.handle("/opsbot", "help", Context(user="U0RESP01", source="console"))
    assert "/opsbot login" in str(help_text)


def test_the_cookie_is_secure_over_https_and_the_store_keeps_only_hashes(bot):
    link = bot.services.web.link("U0RESP01")
    token = link.rsplit("/", 1)[1]
    browser = client(bot, base="https://testserver")
    answer = browser.post(f"/ui/login/{token}")
    cookie = answer.headers["set-cookie"]
    assert "Secure" in cookie and "HttpOnly" in cookie and "Max-Age=43200" in cookie
    session = answer.cookies["opsbot_session"].split(".", 1)[1]
    with bot.store._read() as db:
        rows = db.execute("SELECT hash, kind, who FROM web_tokens").fetchall()
    stored = {row[0] for row in rows}
    assert hashlib.sha256(token.encode()).hexdigest() in stored and hashlib.sha256(session.encode()).hexdigest() in stored
    assert token not in str(rows) and session not in str(rows)


def test_an_ops_action_on_the_timeline_links_to_its_audit_record(bot):
    say(bot, "U0RESP01", "open p1 Checkout down --env prod --service api")
    record = AuditRecord(at=datetime.now(UTC), attempt=uuid.uuid4().hex, phase="succeeded", user="U0RESP01",
                         env="prod", action="restart", target="api", incident=1)
    stored = bot.store.append_audit(record, timeline=(1, Event(at=record.at, actor="U0RESP01", kind=EventKind.OPS,
                                                               text="restart api in prod: succeeded")))
    page = signed_in(bot).get("/ui/incidents/INC-1").text
    assert f'<a href="/ui/audit?seq={stored.seq}">audit #{stored.seq}</a>' in page
    audit = signed_in(bot, "U0ADMIN01").get(f"/ui/audit?seq={stored.seq}").text
    assert f'id="seq-{stored.seq}"' in audit and audit.count('<tr id="seq-') == 1


def test_maintenance_shows_the_last_and_next_30_days_and_the_recurring_reminders(bot):
    say(bot, "U0ADMIN01", 'schedule prod in 3h 1h "db <script>upgrade</script>"', "/maint")
    say(bot, "U0ADMIN01", 'schedule prod in 40d 1h "far away"', "/maint")
    page = signed_in(bot).get("/ui/maintenance").text
    assert "db &lt;script&gt;upgrade&lt;/script&gt;" in page and "far away" not in page
    assert "Patch &lt;b&gt;Tuesday&lt;/b&gt;" in page and "0 9 * * mon" in page and "recurring" in page
    calendar = page.split('<table tabindex="0" class="calendar">', 1)[1].split("</table>", 1)[0]
    assert 8 <= calendar.count("↻ Patch &lt;b&gt;Tuesday&lt;/b&gt;") <= 9  # every Monday of the 61 days
    today = calendar.split('aria-current="date">', 1)[1].split("</td>", 1)[0]
    assert "MW-1 db &lt;script&gt;upgrade&lt;/script&gt;" in today or "MW-1" in calendar.split(
        'aria-current="date">', 1)[1].split("</tr>", 1)[0]  # in 3 h: today, or tomorrow late in the day
    assert "far away" not in calendar and "<script>" not in page


def test_on_call_shows_who_now_and_the_next_14_days(bot):
    page = signed_in(bot).get("/ui/oncall").text
    assert "primary" in page and "</strong> now" in page
    starts = [datetime.fromisoformat(at) for at in re.findall(r'<td><time datetime="([^"]+)"', page)[::2]]
    # Weekly hand-overs: the shift now, then two or three more that start within the next 14 days.
    assert 3 <= len(starts) <= 4 and page.count("U01AAAA") + page.count("U01BBBB") == len(starts)
    assert all(at <= datetime.now(UTC) + timedelta(days=14) for at in starts)
