"""The public status page in Debian's Chromium: what a visitor reads, nothing fetched from another origin, no script
run from hostile text in a public title or update (the Content-Security-Policy and the escaping both hold), no
serious accessibility violation (axe-core), and a screenshot kept for a person to look at."""
from __future__ import annotations

from pathlib import Path

import pytest
from playwright.sync_api import Browser, Page

from bot.app import build
from bot.config import Settings
from tests.browser.axe import axe_violations
from tests.browser.served import serving
from tests.unit.test_status_http import CATALOG, RESPONDER

# The same page as the HTTP tests': its catalog and its responder.
HOSTILE_TITLE = "<script>alert(1)</script> API down"
HOSTILE_UPDATE = ('<img src=x onerror=alert(1)> *bold* <!channel> see [here](javascript:alert(1)) '
                  '<a href="javascript:alert(2)">x</a> ' + "x" * 2500)  # one unbroken word, near the 3,000 limit


@pytest.fixture(scope="module")
def site(tmp_path_factory):
    """A page with a published incident whose public title and update are hostile, and one resolved incident."""
    folder = tmp_path_factory.mktemp("status")
    (folder / "opsbot.yml").write_text(CATALOG)
    opsbot = build(settings=Settings(database_url=f"sqlite:///{folder}/opsbot.db", config=folder / "opsbot.yml"))
    for command, text in [
        ("/incident", "open p1 internal: pg pool leak in worker --env prod --service api"),
        ("/incident", f"publish INC-1 {HOSTILE_TITLE} --components API --text '{HOSTILE_UPDATE}'"),
        ("/incident", "open p2 Slow pages --env prod --service web"),
        ("/incident", "publish INC-2 Website slow --components Website"),
        ("/incident", "resolve INC-2 cache node replaced --public-text 'Pages load normally again.'"),
    ]:
        reply = opsbot.router.handle(command, text, RESPONDER)
        assert reply.ok, reply.text
    with serving(opsbot) as base:
        yield base, opsbot
    opsbot.close()


def visit(browser: Browser, url: str) -> tuple[Page, list[str], list[str]]:
    """The page loaded, every URL it asked for, and every dialog a script tried to open."""
    page = browser.new_page()
    requested: list[str] = []
    dialogs: list[str] = []
    page.on("request", lambda request: requested.append(request.url))
    page.on("dialog", lambda dialog: (dialogs.append(dialog.message), dialog.dismiss()))
    page.goto(url, wait_until="load")
    return page, requested, dialogs


def test_the_page_reads_as_the_public_should_and_runs_nothing_from_user_text(chromium, site, artifacts_dir: Path):
    base, _ = site
    page, requested, dialogs = visit(chromium, f"{base}/status/")
    text = page.inner_text("body")
    assert "Example Status" in text and "Partial System Outage" in text
    assert "<script>alert(1)</script> API down" in text  # shown as the characters typed
    assert "Website slow" in text  # within the last 14 days, resolved
    assert "pg pool leak" not in text and "INC-1" not in text and "U_RESP" not in text  # nothing internal
    assert page.locator("script").count() == 0 and page.locator("img").count() == 0
    assert all(not href.startswith("javascript:") for href in page.eval_on_selector_all(
        "a[href]", "links => links.map(a => a.getAttribute('href'))"))
    assert dialogs == []
    assert requested and all(url.startswith(base + "/") for url in requested), requested  # no other origin
    page.screenshot(path=str(artifacts_dir / "status-page.png"), full_page=False)
    page.close()


def test_the_incident_page_shows_its_updates_as_text(chromium, site, artifacts_dir: Path):
    base, opsbot = site
    public = opsbot.store.public_incident_for(1)
    page, requested, dialogs = visit(chromium, f"{base}/status/incidents/{public.id}")
    text = page.inner_text("body")
    assert "<img src=x onerror=alert(1)> *bold* @channel see [here](javascript:alert(1))" in text  # a mention made inert
    assert page.locator("img").count() == 0 and dialogs == []
    assert all(url.startswith(base + "/") for url in requested)
    page.screenshot(path=str(artifacts_dir / "status-incident.png"))
    page.close()


@pytest.mark.parametrize("scheme", ["light", "dark"])
@pytest.mark.parametrize("path", ["/status/", "/status/incidents/{id}"])
def test_axe_finds_no_serious_or_critical_violation(chromium, site, path, scheme):
    base, opsbot = site
    context = chromium.new_context(color_scheme=scheme)
    page = context.new_page()
    page.goto(base + path.format(id=opsbot.store.public_incident_for(1).id))
    assert axe_violations(page) == []
    context.close()


def test_a_phone_reads_the_page_without_scrolling_sideways(chromium, site):
    """375 px wide (a small phone): even the 2,500-character unbroken word of the hostile update wraps."""
    base, opsbot = site
    context = chromium.new_context(viewport={"width": 375, "height": 740}, is_mobile=True)
    page = context.new_page()
    for path in ("/status/", f"/status/incidents/{opsbot.store.public_incident_for(1).id}"):
        page.goto(base + path)
        assert page.evaluate("document.documentElement.scrollWidth") <= 375, path
    context.close()


def test_dark_mode_follows_the_visitors_preference(chromium, site):
    base, _ = site
    colours = {}
    for scheme in ("light", "dark"):
        context = chromium.new_context(color_scheme=scheme)
        page = context.new_page()
        page.goto(f"{base}/status/")
        colours[scheme] = page.evaluate("getComputedStyle(document.body).backgroundColor")
        context.close()
    assert colours["light"] != colours["dark"]
