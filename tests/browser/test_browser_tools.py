"""The browser tools themselves: Debian's Chromium starts headless and axe-core finds what it should."""

from __future__ import annotations

from pathlib import Path

from playwright.sync_api import Browser

from tests.browser.axe import axe_violations

ACCESSIBLE = """<!doctype html><html lang="en"><head><meta charset="utf-8"><title>ok</title></head>
<body><main><h1>Status</h1><p>All systems operational.</p><img src="data:," alt="green dot"></main></body></html>"""
INACCESSIBLE = """<!doctype html><html lang="en"><head><meta charset="utf-8"><title>bad</title></head>
<body><main><h1>Status</h1><img src="data:,"><button></button></main></body></html>"""


def test_chromium_renders_a_page_and_takes_a_screenshot(chromium: Browser, artifacts_dir: Path) -> None:
    page = chromium.new_page()
    page.set_content(ACCESSIBLE)
    assert page.inner_text("h1") == "Status"
    shot = artifacts_dir / "browser-tools.png"
    page.screenshot(path=str(shot))
    assert shot.read_bytes().startswith(b"\x89PNG")
    assert "HeadlessChrome" in page.evaluate("navigator.userAgent")
    page.close()


def test_axe_finds_no_blocking_violation_on_an_accessible_page(chromium: Browser) -> None:
    page = chromium.new_page()
    page.set_content(ACCESSIBLE)
    assert axe_violations(page) == []
    page.close()


def test_axe_names_the_missing_alt_text_and_the_empty_button(chromium: Browser) -> None:
    page = chromium.new_page()
    page.set_content(INACCESSIBLE)
    found = {v["id"] for v in axe_violations(page)}
    assert {"image-alt", "button-name"} <= found
    page.close()
