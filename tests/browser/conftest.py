"""Debian's Chromium driven by Playwright's Python package: no browser download, ever.

`scripts/test.sh` installs `chromium` (Debian) and axe-core (npm, into `.cache/axe`); a missing one fails these
tests rather than skipping them.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, sync_playwright

CHROMIUM = os.environ.get("OPSBOT_CHROMIUM", "/usr/bin/chromium")
# The machine's network is closed: without these, Chromium keeps trying Google's hosts at every start.
_QUIET_FLAGS = [
    "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
    "--disable-component-update", "--disable-sync", "--disable-dev-shm-usage",
]


# Per module, not per session: while Playwright's sync API runs, its event loop is the thread's running loop, and
# every later test that calls asyncio.run() (checks, platforms, the served app) would fail.
@pytest.fixture(scope="module")
def chromium() -> Iterator[Browser]:
    if not Path(CHROMIUM).is_file():
        pytest.fail(f"{CHROMIUM} is missing: apt-get install chromium (scripts/test.sh does it)")
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, headless=True, args=_QUIET_FLAGS)
        try:
            yield browser
        finally:
            browser.close()


@pytest.fixture(scope="session")
def artifacts_dir() -> Path:
    """Screenshots are kept here for a person to look at (OPSBOT_ARTIFACTS, else tests/artifacts; not in git)."""
    path = Path(os.environ.get("OPSBOT_ARTIFACTS", Path(__file__).resolve().parents[1] / "artifacts"))
    path.mkdir(parents=True, exist_ok=True)
    return path
