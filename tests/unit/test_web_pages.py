"""The web view's pages beyond sign-in (tests/unit/test_web_view.py): the incident page's roles and their history,
evidence bundles with their manifest and a verification computed on the server (a changed file shows), the
timeline in pages, the post-mortem on its own page (Markdown rendered, hostile text inert), the list's text filter
(search), the Slack channel link and times in the viewer's zone. Both stores: tests/contract/test_on_postgres_web_pages.py."""
from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from bot.app import audit_witnesses
from bot.core.models import Event, EventKind
from bot.views.web_html import when
from tests.webview import opsbot_on, say, signed_in

CATALOG = """
environments:
  prod: {services: {api: {}, web: {}}}
roles:
  prod: {responder: [U0RESP01]}
  "*": {admin: [U0ADMIN01]}
"""


@pytest.fixture
def bot(tmp_path, store_url):
    """opsbot on this module's catalog (a second service, for the text filter), as tests/webview.py builds it."""
    with opsbot_on(tmp_path, store_url, CATALOG, evidence_dir=tmp_path / "evidence") as opsbot:
        yield opsbot


def test_roles_with_their_history_and_evidence_verified_on_the_server(bot, tmp_path: Path):
    say(bot, "U0RESP01", "open p1 Checkout down --env prod --service api")
    say(bot, "U0RESP01", "role INC-1 scribe <@U0SCRIBE1>")
    say(bot, "U0RESP01", "role INC-1 scribe <@U0SCRIBE2>")
    say(bot, "U0RESP01", "evidence add INC-1 saw a spike at 02:10 <b>bold</b>")
    browser = signed_in(bot)
    page = browser.get("/ui/incidents/INC-1").text
    assert "Role history" in page and page.count("U0SCRIBE1") >= 1 and "scribe: U0SCRIBE2" in page
    assert "EB-1" in page and "Manifest SHA-256" in page and "Verified now, on the server: 1 item matches" in page
    (bundle,) = bot.services.evidence.bundles(1)
    assert bundle.manifest_sha256 in page
    stored = next(p for p in Path(bundle.location).iterdir() if p.name != "MANIFEST.json")
    stored.write_text("rewritten after the fact")
    changed = browser.get("/ui/incidents/INC-1").text
    assert "Verification failed" in changed and f"EB-1: {stored.name} was changed" in changed


def test_the_timeline_comes_in_pages_of_500(bot):
    say(bot, "U0RESP01", "open p2 Noisy --env prod --service api")
    start = datetime.now(UTC)
    bot.store.append_events(1, [Event(at=start + timedelta(seconds=n), actor="U0RESP01", kind=EventKind.NOTE,
                                      text=f"note number {n}") for n in range(620)])
    browser = signed_in(bot)
    first = browser.get("/ui/incidents/INC-1").text
    total = len(bot.store.timeline(1))
    assert f"Events 1–500 of {total}." in first and 'href="/ui/incidents/INC-1?events=2">Later events' in first
    assert "note number 0<" in first and "note number 619" not in first
    second = browser.get("/ui/incidents/INC-1?events=2").text
    assert "note number 619" in second and f"Events 501–{total} of {total}." in second and "Earlier events" in second
    assert "Later events" not in second
    bad = browser.get("/ui/incidents/INC-1?events=zero")
    assert bad.status_code == 400 and "events is a page number from 1." in bad.text


def test_the_post_mortem_page_renders_markdown_and_keeps_hostile_text_inert(bot):
    say(bot, "U0RESP01", "open p1 <script>alert(1)</script> Checkout --env prod --service api")
    say(bot, "U0RESP01", "note INC-1 see [here](javascript:alert(2)) and [docs](https://example.com/x) "
                         "<img src=x onerror=alert(3)> *mrkdwn* <!channel>")
    say(bot, "U0RESP01", "resolve INC-1 pool raised")
    page = signed_in(bot).get("/ui/incidents/INC-1/postmortem")
    assert page.status_code == 200 and "Post-mortem draft — INC-1" in page.text
    assert "<h2>" in page.text and "<table tabindex=\"0\">" in page.text  # the Markdown's headings and tables, as HTML
    assert "<script>alert" not in page.text and "<img src=x" not in page.text
    assert not re.search(r'href="javascript:', page.text, re.IGNORECASE)
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page.text
    assert page.text.count("<h1>") == 1


def test_the_list_filters_by_text_through_search_and_by_the_other_filters_too(bot):
    say(bot, "U0RESP01", "open p1 Checkout payments failing --env prod --service api")
    say(bot, "U0RESP01", "open p2 Search is slow --env prod --service web")
    say(bot, "U0RESP01", "note INC-2 the checkout page is fine")
    say(bot, "U0RESP01", "resolve INC-2 index rebuilt")
    browser = signed_in(bot)
    payments = browser.get("/ui/?q=payments").text
    assert "Checkout payments failing" in payments and "Search is slow" not in payments
    both = browser.get("/ui/?q=checkout").text
    assert "INC-1" in both and "INC-2" in both
    resolved = browser.get("/ui/?q=checkout&state=resolved").text
    assert "Search is slow" in resolved and "Checkout payments failing" not in resolved
    assert 'value="checkout"' in resolved  # the form keeps what was asked
    assert "No incidents." in browser.get("/ui/?q=nothinglikethis").text


def test_a_slack_channel_link_when_the_channel_is_known(bot):
    say(bot, "U0RESP01", "open p1 Checkout down --env prod --service api")
    incident = bot.store.get_incident(1)
    assert 'app_redirect' not in signed_in(bot).get("/ui/incidents/INC-1").text
    bot.store.save_incident(incident.model_copy(update={"channel": "C0CHAN001"}), [])
    page = signed_in(bot).get("/ui/incidents/INC-1").text
    assert 'href="https://slack.com/app_redirect?channel=C0CHAN001">Slack channel</a>' in page


def test_times_show_in_the_viewers_zone_with_utc_on_hover():
    moment = datetime(2026, 7, 1, 12, 30, tzinfo=UTC)
    shown = when(moment, ZoneInfo("Europe/Paris"))
    assert 'title="2026-07-01 12:30 UTC"' in shown and ">2026-07-01 14:30 CEST</time>" in shown
    assert ">2026-07-01 12:30 UTC</time>" in when(moment, ZoneInfo("UTC"))


def test_the_audit_page_shows_the_chain_as_audit_verify_does_and_filters_by_day(bot, tmp_path: Path):
    say(bot, "U0ADMIN01", "schedule prod in 3h 1h \"prod upgrade\"", "/maint")
    browser = signed_in(bot, "U0ADMIN01")
    page = browser.get("/ui/audit").text
    head = bot.store.audit_head()
    assert head is not None and f"up to seq {head.seq}" in page and "Last checkpoint: none" in page
    assert "window.schedule" in page
    today = datetime.now(UTC).date()
    assert "window.schedule" not in browser.get(f"/ui/audit?until={today - timedelta(days=1)}").text
    assert "window.schedule" in browser.get(f"/ui/audit?since={today}&until={today}").text
    assert browser.get("/ui/audit?since=last-week").status_code == 400
    bot.settings.audit_witness = tmp_path / "witness.log"
    bot.services.ops.witnesses = audit_witnesses(bot.settings)
    bot.services.ops.checkpoint()
    assert f"Last checkpoint: seq {head.seq}" in signed_in(bot, "U0ADMIN01").get("/ui/audit").text


def test_a_tampered_audit_log_shows_as_broken(bot):
    say(bot, "U0ADMIN01", "schedule prod in 3h 1h \"prod upgrade\"", "/maint")
    postgres = bot.settings.database_url.startswith("postgres")
    with bot.store._write() as db:  # as an attacker with the database would: the append-only trigger goes first
        db.execute("DROP TRIGGER audit_append_only ON audit" if postgres else "DROP TRIGGER audit_no_update")
        db.execute("UPDATE audit SET record = replace(record, 'window.schedule', 'window.cancel') WHERE seq = 1")
    page = signed_in(bot, "U0ADMIN01").get("/ui/audit").text
    assert "The chain is broken" in page and "The chain verifies" not in page


def test_insights_take_a_range_and_show_charts_with_their_numbers(bot):
    say(bot, "U0RESP01", "open p1 Checkout down --env prod --service api")
    say(bot, "U0RESP01", "ack INC-1")
    browser = signed_in(bot)
    page = browser.get("/ui/insights?months=12").text
    assert '<option value="12" selected>' in page and "<svg" in page and 'role="img"' in page
    assert "Time to acknowledge (MTTA)" in page and "<td>P1</td><td>1</td>" in page
    month = f"{datetime.now(UTC):%Y-%m}"
    assert "Incidents per month by severity" in page and "Incidents per month by service" in page
    assert f"<tr><td>{month}</td><td>1</td><td>1</td></tr>" in page  # P1: 1, total 1 (and api: 1, total 1)
    assert page.count('<rect class="s0"') >= 2  # a column in each chart, its legend swatches too
    now = datetime.now(UTC)
    before = f"{now.year - (now.month == 1):04d}-{(now.month - 2) % 12 + 1:02d}"
    assert f"<tr><td>{before}</td><td>0</td><td>0</td></tr>" in page  # a quiet month is a zero, not left out
    assert page.count("<tr><td>20") == 2 * 12  # twelve months in each chart's table
    from bot.views.web_html import MONTH_NAMES

    assert f">{MONTH_NAMES[now.month - 1]}</text>" in page and f">{now.year}</text>" in page  # columns' labels
    assert browser.get("/ui/insights?months=99").status_code == 400


def test_insights_without_an_incident_to_show_say_so_and_draw_no_chart(bot):
    say(bot, "U0RESP01", "open p1 Payroll leak --private --env prod --service api")
    page = signed_in(bot, "U0OTHER01").get("/ui/insights?months=3").text
    assert "No incidents in this range." in page and "Incidents per month" not in page and "Payroll" not in page


def test_the_chain_is_verified_again_when_a_record_is_appended_or_after_a_while(bot, monkeypatch):
    from bot import webui

    say(bot, "U0ADMIN01", "schedule prod in 3h 1h \"prod upgrade\"", "/maint")
    browser = signed_in(bot, "U0ADMIN01")
    first = bot.store.audit_head()
    assert f"up to seq {first.seq}" in browser.get("/ui/audit").text
    say(bot, "U0ADMIN01", "schedule prod in 5h 1h \"second\"", "/maint")
    second = bot.store.audit_head()
    assert second.seq > first.seq and f"up to seq {second.seq}" in browser.get("/ui/audit").text
    postgres = bot.settings.database_url.startswith("postgres")
    with bot.store._write() as db:
        db.execute("DROP TRIGGER audit_append_only ON audit" if postgres else "DROP TRIGGER audit_no_update")
        db.execute("UPDATE audit SET record = replace(record, 'window.schedule', 'window.cancel') WHERE seq = 1")
    assert "The chain verifies" in browser.get("/ui/audit").text  # kept: no record since, within CHAIN_TTL_S
    monkeypatch.setattr(webui, "CHAIN_TTL_S", 0)
    assert "The chain is broken" in browser.get("/ui/audit").text


def test_an_audit_link_finds_an_old_record_past_the_newest_500(bot):
    import uuid

    from bot.core.audit import AuditRecord

    for n in range(520):
        bot.store.append_audit(AuditRecord(at=datetime.now(UTC), attempt=uuid.uuid4().hex, phase="succeeded",
                                           user="U0RESP01", env="prod", action=f"restart-{n}"))
    browser = signed_in(bot, "U0ADMIN01")
    everything = browser.get("/ui/audit").text
    assert everything.count('<tr id="seq-') == 500 and "restart-519<" in everything and "restart-3<" not in everything
    one = browser.get("/ui/audit?seq=4").text
    assert one.count('<tr id="seq-') == 1 and "restart-3<" in one
    assert browser.get("/ui/audit?seq=abc").status_code == 400
