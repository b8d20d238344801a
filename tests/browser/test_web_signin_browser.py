"""Signing in to the web view in Debian's Chromium when something else reaches the link or the page first, served with
`opsbot serve`'s own uvicorn settings (bot/http/server.py): Slack's unfurler and a HEAD request fetch a sign-in link
and the person's browser is still signed in by it; behind an SSO proxy on 127.0.0.1 the person's Slack user ID in
its header opens the pages, and an e-mail there gets a page that says so. axe-core finds nothing serious or critical
on the pages seen; screenshots kept as test artefacts."""
from __future__ import annotations

from pathlib import Path

import httpx
import pytest
from playwright.sync_api import Browser

from bot.app import build
from bot.config import Settings
from commands.base import Context
from tests.browser.axe import axe_violations
from tests.browser.served import serving
from tests.webview import PROD_CATALOG

SLACKBOT = "Slackbot-LinkExpanding 1.0 (+https://api.slack.com/robots)"


@pytest.fixture(scope="module")
def site(tmp_path_factory):
    folder = tmp_path_factory.mktemp("web-signin")
    (folder / "opsbot.yml").write_text(PROD_CATALOG)
    opsbot = build(settings=Settings(database_url=f"sqlite:///{folder}/opsbot.db", config=folder / "opsbot.yml",
                                     web_user_header="X-Forwarded-User", web_trusted_proxies="127.0.0.1"))
    reply = opsbot.router.handle("/incident", "open p1 Checkout errors --env prod --service api",
                                 Context(user="U0RESP01", source="console"))
    assert reply.ok, reply.text
    with serving(opsbot, trusted=["127.0.0.1"]) as base:
        yield base, opsbot
    opsbot.close()


def test_a_link_unfurled_by_slack_and_probed_by_head_still_signs_the_person_in(chromium: Browser, site,
                                                                            artifacts_dir: Path):
    base, opsbot = site
    link = opsbot.services.web.link("U0RESP01").replace("http://localhost:3000", base)
    assert httpx.head(link).status_code == 200
    unfurled = httpx.get(link, headers={"User-Agent": SLACKBOT})
    assert unfurled.status_code == 200 and "set-cookie" not in unfurled.headers
    context = chromium.new_context()
    page = context.new_page()
    page.goto(link)
    assert "signs you in to opsbot's web view as U0RESP01" in page.inner_text("main")
    assert axe_violations(page) == []
    page.screenshot(path=str(artifacts_dir / "web-sign-in-asked.png"), full_page=True)
    page.click("button:has-text('Sign in')")
    assert page.url == f"{base}/ui/" and "Checkout errors" in page.inner_text("main")
    assert axe_violations(page) == []
    page.screenshot(path=str(artifacts_dir / "web-signed-in-after-unfurl.png"), full_page=True)
    context.close()


def test_behind_an_sso_proxy_the_header_opens_the_pages_and_an_email_there_is_explained(chromium: Browser, site,
                                                                                     artifacts_dir: Path):
    base, _ = site
    # The browser's requests reach opsbot from 127.0.0.1, as a sidecar proxy's do; the proxy adds these headers.
    context = chromium.new_context(extra_http_headers={"X-Forwarded-User": "U0ADMIN01",
                                                       "X-Forwarded-For": "203.0.113.9"})
    page = context.new_page()
    page.goto(f"{base}/ui/audit")
    assert page.url == f"{base}/ui/audit" and page.locator("h1").inner_text().startswith("Audit")
    assert axe_violations(page) == []
    context.close()
    context = chromium.new_context(extra_http_headers={"X-Forwarded-User": "alice@example.com",
                                                       "X-Forwarded-For": "203.0.113.9"})
    page = context.new_page()
    answer = page.goto(f"{base}/ui/")
    assert answer is not None and answer.status == 403
    text = page.inner_text("main")
    assert "carries 'alice@example.com', not a Slack user ID" in text and "Checkout" not in text
    assert axe_violations(page) == []
    page.screenshot(path=str(artifacts_dir / "web-proxy-header-refused.png"), full_page=True)
    context.close()


def test_a_page_on_another_site_cannot_sign_the_browser_in_with_someone_elses_link(chromium: Browser, site):
    """A login CSRF, as a browser does it: a page elsewhere auto-submits a form to the attacker's own sign-in
    link. Chromium says where the form came from (Sec-Fetch-Site: cross-site): nobody is signed in, and the link
    is not spent."""
    base, opsbot = site
    link = opsbot.services.web.link("U0ADMIN01").replace("http://localhost:3000", base)
    context = chromium.new_context()
    page = context.new_page()
    # Another origin: the same server under another name (localhost is not 127.0.0.1 to a browser).
    page.route("http://evil.localhost/", lambda route: route.fulfill(
        content_type="text/html", body=f'<form method="post" action="{link}"></form>'
                                      "<script>document.forms[0].submit()</script>"))
    page.goto("http://evil.localhost/")
    page.wait_for_url(link)
    assert "Nobody was signed in" in page.inner_text("main")
    assert not [c for c in context.cookies() if c["name"] == "opsbot_session"]
    assert httpx.get(link).status_code == 200  # the link is still its holder's
    context.close()
