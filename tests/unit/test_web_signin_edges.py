"""Signing in to the web view where the world gets in the way: a link preview (Slack's unfurler) or a HEAD request
does not spend a one-time link, nor does a HEAD sign out; an SSO proxy on loopback is trusted by the address that
connected, not by the client it forwards (uvicorn's proxy headers rewrite that); https forwarded by a trusted proxy
makes the cookie Secure and by anyone else does not; a proxy header that is no Slack user ID is refused with what it
carried. Over the composition root's app wrapped as `opsbot serve` wraps it (bot/http/server.py); through a real
uvicorn in tests/integration/test_web_proxy_served.py. Both stores: tests/contract/test_on_postgres_web_signin_edges.py.
"""
from __future__ import annotations

from starlette.testclient import TestClient

from bot.app import served
from bot.http.server import behind_proxies
from tests.webview import NO_SLACK, link_path, say, web_view_bot  # noqa: F401  (the fixture `bot`)

SLACKBOT = "Slackbot-LinkExpanding 1.0 (+https://api.slack.com/robots)"
FIREFOX = "Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0"


def as_served(bot, address: str, trusted: list[str] | None = None) -> TestClient:
    """The app as `opsbot serve` runs it (proxy headers applied after keeping the peer), from `address`."""
    app = behind_proxies(served(bot, NO_SLACK, "off").app, trusted or [])
    return TestClient(app, follow_redirects=False, client=(address, 50000))


def test_a_link_preview_a_scanner_or_a_head_request_leaves_the_one_time_link_for_the_person(bot):
    """Opening a link spends nothing, whoever opens it (Slack's unfurler, a mail scanner, a HEAD): only the Sign in
    button's POST does."""
    path = link_path(bot, "U0RESP01")
    web = as_served(bot, "203.0.113.9")
    head = web.head(path)
    assert head.status_code == 200 and "set-cookie" not in head.headers
    for agent in (SLACKBOT, "Microsoft Office Protocol Discovery", FIREFOX):
        seen = web.get(path, headers={"User-Agent": agent})
        assert seen.status_code == 200 and "set-cookie" not in seen.headers and "as <strong>U0RESP01</strong>" in seen.text
    person = web.post(path, headers={"User-Agent": FIREFOX, "Sec-Fetch-Site": "same-origin"})
    assert person.status_code == 303 and "opsbot_session=U0RESP01." in person.headers["set-cookie"]
    assert web.post(path, headers={"User-Agent": FIREFOX}).status_code == 403  # spent by the person, once


def test_another_site_cannot_sign_a_person_in_as_someone_else(bot):
    """A login CSRF: a page elsewhere posts the attacker's own link from the victim's browser. Refused, and the
    link stays the attacker's to use (nothing is spent)."""
    path = link_path(bot, "U0ADMIN01")
    web = as_served(bot, "203.0.113.9")
    for foreign in ({"Sec-Fetch-Site": "cross-site"}, {"Origin": "https://evil.example"}, {"Origin": "null"}):
        refused = web.post(path, headers=foreign)
        assert refused.status_code == 403 and "set-cookie" not in refused.headers, foreign
        assert "Nobody was signed in: open your sign-in link and press Sign in." in refused.text
    assert web.get(path).status_code == 200  # still valid
    # The pages' referrer policy makes a browser's own form POST carry the real Origin (no-referrer sends "null").
    assert web.get(path).headers["referrer-policy"] == "same-origin"
    assert web.post(path, headers={"Origin": "http://testserver"}).status_code == 303


def test_a_sidecar_sso_proxy_on_loopback_is_trusted_by_its_own_address(bot):
    say(bot, "U0RESP01", "open p1 Checkout down --env prod --service api")
    bot.settings.web_user_header, bot.settings.web_trusted_proxies = "X-Slack-User", "127.0.0.1"
    # The proxy connects from 127.0.0.1 and forwards the browser's address: uvicorn puts that in request.client.
    forwarded = {"X-Slack-User": "U0ADMIN01", "X-Forwarded-For": "203.0.113.9", "X-Forwarded-Proto": "https"}
    page = as_served(bot, "127.0.0.1", ["127.0.0.1"]).get("/ui/audit", headers=forwarded)
    assert page.status_code == 200 and "Audit log" in page.text
    # The same headers sent straight from the outside sign nobody in.
    direct = as_served(bot, "203.0.113.9", ["127.0.0.1"]).get("/ui/audit", headers=forwarded)
    assert direct.status_code == 303 and direct.headers["location"] == "/ui/sign-in"
    # A forwarded address claiming to be the proxy does not make an outsider one either.
    claimed = as_served(bot, "203.0.113.9", ["127.0.0.1"]).get(
        "/ui/", headers={**forwarded, "X-Forwarded-For": "127.0.0.1"})
    assert claimed.status_code == 303 and "Checkout" not in claimed.text


def test_https_forwarded_by_a_trusted_proxy_makes_the_cookie_secure_and_by_others_does_not(bot):
    bot.settings.web_trusted_proxies = "10.0.0.0/8"
    ingress = as_served(bot, "10.1.2.3", ["10.0.0.0/8"]).post(
        link_path(bot, "U0RESP01"), headers={"X-Forwarded-Proto": "https", "X-Forwarded-For": "198.51.100.7"})
    assert ingress.status_code == 303 and "Secure" in ingress.headers["set-cookie"]
    outsider = as_served(bot, "198.51.100.7", ["10.0.0.0/8"]).post(
        link_path(bot, "U0RESP01"), headers={"X-Forwarded-Proto": "https"})
    assert outsider.status_code == 303 and "Secure" not in outsider.headers["set-cookie"]


def test_a_proxy_header_that_is_not_a_slack_user_id_is_refused_with_what_it_carried(bot):
    say(bot, "U0RESP01", "open p1 Checkout down --env prod --service api")
    bot.settings.web_user_header, bot.settings.web_trusted_proxies = "X-Forwarded-User", "10.0.0.0/8"
    web = as_served(bot, "10.1.2.3", ["10.0.0.0/8"])
    for value, shown in (("alice@example.com", "alice@example.com"),
                         ("<script>alert(1)</script>", "&lt;script&gt;alert(1)&lt;/script&gt;")):
        page = web.get("/ui/", headers={"X-Forwarded-User": value})
        assert page.status_code == 403, value
        assert f"X-Forwarded-User carries &#x27;{shown}&#x27;, not a Slack user ID" in page.text
        assert "Checkout" not in page.text and "<script>alert" not in page.text
    assert web.get("/ui/", headers={"X-Forwarded-User": "U0RESP01"}).status_code == 200


def test_only_a_post_from_opsbots_own_page_signs_out(bot):
    """A link, an image or a form on another site must not sign anyone out: GET and HEAD show the button, and a
    POST another site sends (Sec-Fetch-Site, else Origin) is refused, the session intact."""
    web = as_served(bot, "203.0.113.9")
    assert web.post(link_path(bot, "U0RESP01")).status_code == 303
    assert web.head("/ui/logout").status_code == 200
    shown = web.get("/ui/logout")
    assert shown.status_code == 200 and '<form class="signout" method="post" action="/ui/logout">' in shown.text
    for foreign in ({"Sec-Fetch-Site": "cross-site"}, {"Sec-Fetch-Site": "same-site"},
                    {"Origin": "https://evil.example"}, {"Origin": "null"}):
        refused = web.post("/ui/logout", headers=foreign)
        assert refused.status_code == 403 and "Nobody was signed out" in refused.text, foreign
        assert "set-cookie" not in refused.headers
    assert web.get("/ui/").status_code == 200  # still signed in
    own = web.post("/ui/logout", headers={"Origin": "https://testserver"})  # https at a proxy opsbot does not trust
    assert own.status_code == 303 and own.headers["location"] == "/ui/sign-in?signed_out=1"
    assert web.get("/ui/").status_code == 303
    assert web.get("/ui/logout").headers["location"] == "/ui/sign-in"  # signed out: nothing to show


def test_a_post_anywhere_else_is_refused_as_read_only(bot):
    web = as_served(bot, "203.0.113.9")
    assert web.post(link_path(bot, "U0RESP01")).status_code == 303
    for path in ("/ui/", "/ui/incidents/INC-1", "/ui/sign-in", "/ui/style.css"):
        answer = web.post(path, headers={"Sec-Fetch-Site": "same-origin"})
        assert answer.status_code == 405 and answer.headers["allow"] == "GET, HEAD", path
    assert web.get("/ui/").status_code == 200
