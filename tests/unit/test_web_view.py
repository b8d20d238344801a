"""The web view (/ui/) of `opsbot serve`, over HTTP (the composition root's own app, Slack off): sign-in by a
one-time link and its refusals, sessions and sign-out, the SSO header from trusted proxies only, privacy (a private
incident is a 404 for a non-participant), the audit log for admins (an environment's admins see only its records),
hostile text shown as text, no secret shown, read-only. Both stores: tests/contract/test_on_postgres_web_view.py."""
from __future__ import annotations

import re
from datetime import timedelta

from bot.core.web_auth import WebAuth
from bot.timeparse import utcnow
from tests.webview import client, say, signed_in, web_view_bot  # noqa: F401  (the fixture `bot`)

SECRET = "ghp_" + "K" * 36


def test_without_a_session_every_page_redirects_to_a_sign_in_page_that_shows_no_data(bot):
    say(bot, "U0RESP01", "open p1 Checkout down --env prod --service api")
    anonymous = client(bot)
    for path in ("/ui/", "/ui/incidents/INC-1", "/ui/audit", "/ui/insights", "/ui/oncall", "/ui/maintenance",
                 "/ui/incidents/INC-1.json"):
        answer = anonymous.get(path)
        assert answer.status_code == 303 and answer.headers["location"] == "/ui/sign-in", path
    page = anonymous.get("/ui/sign-in")
    assert page.status_code == 200 and "/opsbot login" in page.text and "Checkout" not in page.text
    csp = page.headers["content-security-policy"]
    assert "script-src 'self'" in csp and "unsafe-inline" not in csp and "default-src 'none'" in csp


def test_a_link_signs_in_once_and_sets_a_safe_cookie(bot):
    say(bot, "U0RESP01", "open p1 Checkout down --env prod --service api")
    link = bot.services.web.link("U0RESP01")
    assert re.fullmatch(r"http://localhost:3000/ui/login/[A-Za-z0-9_-]{40,}", link)
    browser = client(bot)
    path = link.removeprefix("http://localhost:3000")
    asked = browser.get(path)  # whose link it is, and the button: nothing spent yet
    assert asked.status_code == 200 and "as <strong>U0RESP01</strong>" in asked.text and "set-cookie" not in asked.headers
    assert '<form method="post"><button type="submit">Sign in</button></form>' in asked.text
    answer = browser.post(path)
    assert answer.status_code == 303
    cookie = answer.headers["set-cookie"]
    assert "opsbot_session=U0RESP01." in cookie and "HttpOnly" in cookie and "SameSite=lax" in cookie.replace(
        "samesite", "SameSite") and "Path=/ui" in cookie and "Secure" not in cookie  # plain HTTP here
    listing = browser.get("/ui/")
    assert listing.status_code == 200 and "INC-1" in listing.text and "Checkout down" in listing.text
    for spent in (client(bot).get(path), client(bot).post(path)):
        assert spent.status_code == 403 and "used already, it expired" in spent.text and "Checkout" not in spent.text
    assert client(bot).get("/ui/login/not-a-token").status_code == 403


def test_expired_links_forged_cookies_and_another_users_cookie_are_refused(bot):
    past = utcnow() - timedelta(minutes=11)
    old = WebAuth(bot.store, clock=lambda: past).link_token("U0RESP01")  # made 11 minutes ago: expired
    for expired in (client(bot).get(f"/ui/login/{old}"), client(bot).post(f"/ui/login/{old}")):
        assert expired.status_code == 403 and "expired" in expired.text
    mine = signed_in(bot, "U0RESP01").cookies["opsbot_session"]
    token = mine.split(".", 1)[1]
    for cookie in ("U0RESP01.forged-forged-forged-forged-forged", f"U0ADMIN01.{token}", "garbage", token):
        forged = client(bot)
        forged.cookies.set("opsbot_session", cookie, path="/ui")
        answer = forged.get("/ui/audit")
        assert answer.status_code == 303 and answer.headers["location"] == "/ui/sign-in", cookie


def test_signing_out_ends_the_session(bot):
    browser = signed_in(bot, "U0RESP01")
    cookie = browser.cookies["opsbot_session"]
    assert browser.post("/ui/logout").headers["location"] == "/ui/sign-in?signed_out=1"
    again = client(bot)
    again.cookies.set("opsbot_session", cookie, path="/ui")
    assert again.get("/ui/").status_code == 303  # the old cookie no longer works


def test_a_private_incident_is_a_404_for_others_and_shown_to_participants_and_admins(bot):
    say(bot, "U0RESP01", "open p1 Payroll leak --private --env prod --service api")
    say(bot, "U0RESP01", "open p2 Public thing --env prod --service api")
    outsider = signed_in(bot, "U0OTHER01")
    assert outsider.get("/ui/incidents/INC-1").status_code == 404
    assert outsider.get("/ui/incidents/INC-1.json").status_code == 404
    assert outsider.get("/ui/incidents/INC-1.md").status_code == 404
    listing = outsider.get("/ui/").text
    assert "Payroll" not in listing and "Public thing" in listing
    assert outsider.get("/ui/incidents/INC-9").status_code == 404  # the same answer as an unknown id
    assert outsider.get("/ui/incidents/INC-1/postmortem").status_code == 404
    for user in ("U0RESP01", "U0ADMIN01"):
        page = signed_in(bot, user).get("/ui/incidents/INC-1")
        assert page.status_code == 200 and "Payroll leak" in page.text, user


def test_the_audit_log_is_for_admins_and_an_environments_admins_see_only_its_records(bot):
    say(bot, "U0ADMIN01", "schedule prod in 3h 1h \"prod upgrade\"", "/maint")
    say(bot, "U0ADMIN01", "schedule staging in 3h 1h \"staging upgrade\"", "/maint")
    assert signed_in(bot, "U0RESP01").get("/ui/audit").status_code == 403
    everything = signed_in(bot, "U0ADMIN01").get("/ui/audit")
    assert everything.status_code == 200 and "The chain verifies" in everything.text
    assert "staging" in everything.text and "prod" in everything.text
    prod_only = signed_in(bot, "U0PRODADM").get("/ui/audit")
    assert prod_only.status_code == 200 and "window.schedule" in prod_only.text
    assert ">staging<" not in prod_only.text
    filtered = signed_in(bot, "U0ADMIN01").get("/ui/audit?env=staging")
    assert ">prod<" not in filtered.text and ">staging<" in filtered.text


def test_hostile_text_is_shown_as_text_and_no_secret_is_shown(bot):
    say(bot, "U0RESP01", "open p1 <script>alert(1)</script> *bold* <!channel> --env prod --service api")
    say(bot, "U0RESP01", "note INC-1 see [here](javascript:alert(2)) <img src=x onerror=alert(3)> token " + SECRET)
    browser = signed_in(bot, "U0RESP01")
    markdown = browser.get("/ui/incidents/INC-1.md")  # the draft as written: text, never run as a page
    assert markdown.headers["content-type"].startswith("text/markdown") and SECRET not in markdown.text
    assert markdown.headers["x-content-type-options"] == "nosniff"
    for path in ("/ui/", "/ui/incidents/INC-1", "/ui/incidents/INC-1/postmortem", "/ui/insights", "/ui/?q=alert"):
        answer = browser.get(path)
        assert answer.status_code == 200, path
        assert "<script>alert" not in answer.text and "<img src=x" not in answer.text, path
        assert SECRET not in answer.text, path
        assert not re.search(r'href="javascript:', answer.text, re.IGNORECASE), path
    page = browser.get("/ui/incidents/INC-1").text
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page and "&lt;img src=x onerror=alert(3)&gt;" in page
    assert all(not ref.startswith(("http", "//")) for ref in re.findall(r'(?:href|src)="([^"]*)"', page))


def test_the_view_is_read_only_and_bad_filters_are_clear(bot):
    browser = signed_in(bot, "U0RESP01")
    assert browser.post("/ui/").status_code == 405
    bad = browser.get("/ui/?severity=P9")
    assert bad.status_code == 400 and "&#x27;P9&#x27; is not a severity; use P0, P1, P2, P3." in bad.text
    assert browser.get("/ui/?since=yesterday").status_code == 400
    assert browser.get("/ui/?page=0").status_code == 400
    assert browser.get("/ui/nothing-here").status_code == 404


def test_an_sso_proxys_header_is_trusted_only_from_the_trusted_addresses(bot, monkeypatch):
    bot.settings.web_user_header = "X-Slack-User"
    bot.settings.web_trusted_proxies = "10.0.0.0/8"
    proxied = client(bot, "10.1.2.3").get("/ui/audit", headers={"X-Slack-User": "U0ADMIN01"})
    assert proxied.status_code == 200 and "Audit log" in proxied.text
    spoofed = client(bot, "192.168.1.9").get("/ui/audit", headers={"X-Slack-User": "U0ADMIN01"})
    assert spoofed.status_code == 303


def test_the_incident_page_shows_evidence_verified_now_and_a_changed_file_is_named(bot, tmp_path):
    say(bot, "U0RESP01", "open p1 Checkout down --env prod --service api")
    say(bot, "U0RESP01", "evidence add INC-1 the pool graph shows 100/100")
    say(bot, "U0RESP01", "role INC-1 scribe @U0RESP01")
    browser = signed_in(bot, "U0RESP01")
    page = browser.get("/ui/incidents/INC-1").text
    assert "EB-1" in page and "Verified now, on the server: 1 item matches the manifests." in page
    assert "Role history" in page and "scribe" in page
    stored = sorted(p for p in (tmp_path / "evidence").rglob("*") if p.is_file() and p.name != "manifest.json"
                    and not p.name.endswith(".tar.gz"))
    stored[0].write_text("tampered")
    page = browser.get("/ui/incidents/INC-1").text
    assert "Verification failed" in page and "was changed" in page


def test_the_list_finds_incidents_by_their_words_and_keeps_the_other_filters(bot):
    say(bot, "U0RESP01", "open p1 Connection pool exhausted on checkout --env prod --service api")
    say(bot, "U0RESP01", "open p2 Certificate expired on the api gateway --env staging --service api")
    browser = signed_in(bot, "U0RESP01")
    found = browser.get("/ui/?q=pool").text
    assert "Connection pool exhausted" in found and "Certificate expired" not in found
    narrowed = browser.get("/ui/?q=expired&env=prod").text
    assert "Certificate expired" not in narrowed and "No incidents." in narrowed


def test_the_list_pages_by_fifty_newest_first_and_skips_what_the_viewer_may_not_see(bot):
    for n in range(52):
        say(bot, "U0RESP01", f"open p3 Thing {n}" + (" --private" if n == 51 else ""))
    outsider = signed_in(bot, "U0OTHER01")
    first = outsider.get("/ui/").text
    assert first.count('href="/ui/incidents/INC-') == 50 and "Thing 50" in first and "Thing 51" not in first
    assert 'href="/ui/?page=2">Next page' in first
    second = outsider.get("/ui/?page=2").text
    assert second.count('href="/ui/incidents/INC-') == 1 and "Thing 0" in second and "Next page" not in second


def test_a_message_kept_from_slack_links_back_to_it(bot):
    from datetime import UTC, datetime

    from bot.core.models import Event, EventKind

    say(bot, "U0RESP01", "open p2 Slow --env prod --service api")
    link = "https://ops.slack.com/archives/C0INC1/p1700000000000100"
    bot.store.append_events(1, [Event(at=datetime.now(UTC), actor="U0RESP01", kind=EventKind.NOTE,
                                      text="db-2 is at 100/100", data={"permalink": link, "author": "U0RESP01"}),
                                Event(at=datetime.now(UTC), actor="U0RESP01", kind=EventKind.NOTE, text="x",
                                      data={"permalink": "javascript:alert(1)"})])
    page = signed_in(bot, "U0RESP01").get("/ui/incidents/INC-1").text
    assert f'<a href="{link}">in Slack</a>' in page and "javascript:" not in page
