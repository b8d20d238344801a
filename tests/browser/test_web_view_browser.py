"""The web view in Debian's Chromium: sign in by link, the list, an incident page with its post-mortem, audit,
insights and sign-out; nothing from another origin, no script from hostile text (no dialog opens), no serious or
critical accessibility violation (axe-core, light and dark), a screenshot of each page kept as a test artefact."""
from __future__ import annotations

import re
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from playwright.sync_api import Browser

from bot.app import build
from bot.config import Settings
from commands.base import Context
from tests.browser.axe import axe_violations
from tests.browser.served import serving
from tests.webview import PROD_CATALOG

PAGES = ["/ui/", "/ui/?q=checkout", "/ui/incidents/INC-1", "/ui/incidents/INC-1/postmortem", "/ui/audit",
         "/ui/insights", "/ui/maintenance", "/ui/oncall"]


@pytest.fixture(scope="module")
def site(tmp_path_factory):
    folder = tmp_path_factory.mktemp("web")
    (folder / "opsbot.yml").write_text(PROD_CATALOG)
    opsbot = build(settings=Settings(database_url=f"sqlite:///{folder}/opsbot.db", config=folder / "opsbot.yml"))
    admin = Context(user="U0ADMIN01", source="console")
    commands = [
        ("/incident", "open p1 <script>alert(1)</script> Checkout errors --env prod --service api"),
        ("/incident", "note INC-1 see [here](javascript:alert(2)) <img src=x onerror=alert(3)> *mrkdwn* <!here>"),
        ("/incident", "ack INC-1"),
        ("/incident", "role INC-1 scribe <@U0SCRIBE1>"),
        ("/incident", "update INC-1 Pool exhausted; raising it. <script>alert(4)</script>"),
        ("/incident", "evidence add INC-1 pool at 20/20 at 02:10 <b>bold</b>"),
        ("/incident", "resolve INC-1 pool raised from 20 to 50"),
        ("/incident", "open p2 Slow search --env prod --service api"),
        ("/maint", 'schedule prod in 3h 1h "db upgrade"'),
    ]

    def run_all() -> None:
        for command, text in commands:
            reply = opsbot.router.handle(command, text, admin)
            assert reply.ok, reply.text

    # In a thread of its own: Playwright's sync API keeps an event loop running in this one, and evidence is
    # written with asyncio.run.
    with ThreadPoolExecutor(1) as pool:
        pool.submit(run_all).result()
    with serving(opsbot) as base:
        yield base, opsbot
    opsbot.close()


def sign_in(page, opsbot, base: str, user: str = "U0ADMIN01") -> None:
    """Open a new sign-in link and press its Sign in button, as a person does."""
    page.goto(opsbot.services.web.link(user).replace("http://localhost:3000", base))
    page.click("button:has-text('Sign in')")
    assert page.url == f"{base}/ui/"


def signed_in(browser: Browser, site, scheme: str = "light"):
    base, opsbot = site
    context = browser.new_context(color_scheme=scheme)
    page = context.new_page()
    dialogs: list[str] = []
    requested: list[str] = []
    page.on("dialog", lambda dialog: (dialogs.append(dialog.message), dialog.dismiss()))
    page.on("request", lambda request: requested.append(request.url))
    sign_in(page, opsbot, base)
    return context, page, dialogs, requested


def test_sign_in_then_every_page_then_sign_out(chromium: Browser, site, artifacts_dir: Path):
    base, _ = site
    context, page, dialogs, requested = signed_in(chromium, site)
    assert "INC-1" in page.inner_text("main") and "Slow search" in page.inner_text("main")
    for path in PAGES:
        page.goto(base + path)
        assert page.locator("h1").count() == 1, path
        page.screenshot(path=str(artifacts_dir / f"web{re.sub(r'[^A-Za-z0-9-]', '-', path).rstrip('-') or '-list'}.png"),
                        full_page=True)
    page.goto(f"{base}/ui/incidents/INC-1")
    text = page.inner_text("main")
    assert "<script>alert(1)</script> Checkout errors" in text and "<img src=x onerror=alert(3)>" in text
    assert "pool raised from 20 to 50" in text and "Verified now, on the server: 1 item matches" in text
    assert "Role history" in text and "EB-1" in text
    assert page.locator("main script, main img").count() == 0
    page.click("text=Post-mortem draft")
    assert page.url == f"{base}/ui/incidents/INC-1/postmortem"
    draft = page.inner_text("main")
    assert "Post-mortem: INC-1 — <script>alert(1)</script> Checkout errors" in draft
    assert "pool raised from 20 to 50" in draft and page.locator("main table").count() >= 1
    assert page.locator("main script, main img").count() == 0
    assert not [href for href in page.eval_on_selector_all("a[href]", "a => a.map(x => x.getAttribute('href'))")
                if href.lower().startswith("javascript:")]
    page.click("text=Sign out")
    assert page.url.startswith(f"{base}/ui/sign-in") and "/opsbot login" in page.inner_text("main")
    page.goto(f"{base}/ui/")
    assert page.url == f"{base}/ui/sign-in"  # the session is over
    assert dialogs == []
    assert requested and all(url.startswith(base + "/") for url in requested), requested
    context.close()


@pytest.mark.parametrize("scheme", ["light", "dark"])
def test_axe_finds_no_serious_or_critical_violation_on_any_page(chromium: Browser, site, scheme):
    base, _ = site
    context, page, _, _ = signed_in(chromium, site, scheme)
    for path in [*PAGES, "/ui/sign-in"]:
        page.goto(base + path)
        assert axe_violations(page) == [], (path, scheme)
    context.close()


def test_a_spent_link_is_refused_in_the_browser(chromium: Browser, site):
    base, opsbot = site
    link = opsbot.services.web.link("U0RESP01").replace("http://localhost:3000", base)
    context = chromium.new_context()
    page = context.new_page()
    page.goto(link)
    page.click("button:has-text('Sign in')")
    second = context.new_page()
    answer = second.goto(link)
    assert answer is not None and answer.status == 403 and "used already" in second.inner_text("main")
    context.close()


def test_without_a_zone_from_slack_times_show_on_the_browsers_clock_with_utc_in_the_tooltip(chromium: Browser, site):
    base, opsbot = site
    context = chromium.new_context(timezone_id="Asia/Kolkata", locale="en-GB")
    page = context.new_page()
    sign_in(page, opsbot, base)
    first = page.locator("main time").first
    declared = opsbot.store.get_incident(2).declared_at
    assert first.get_attribute("title") == declared.strftime("%Y-%m-%d %H:%M UTC")
    shown = first.inner_text()
    assert "UTC" not in shown and declared.astimezone(ZoneInfo("Asia/Kolkata")).strftime("%H:%M") in shown
    context.close()


def test_every_page_fits_a_phone_without_scrolling_sideways(chromium: Browser, site, artifacts_dir: Path):
    """375 px wide, dark: wide tables scroll inside themselves (and take keyboard focus); the page does not."""
    base, opsbot = site
    context = chromium.new_context(viewport={"width": 375, "height": 740}, is_mobile=True, color_scheme="dark")
    page = context.new_page()
    sign_in(page, opsbot, base)
    for path in PAGES:
        page.goto(base + path)
        assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth + 1"), path
        assert axe_violations(page) == [], path
    page.goto(f"{base}/ui/incidents/INC-1")
    page.screenshot(path=str(artifacts_dir / "web-phone-incident-dark.png"), full_page=True)
    context.close()
