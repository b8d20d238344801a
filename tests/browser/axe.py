"""axe-core (npm) run inside a page: the accessibility violations a person would be blocked by."""

from __future__ import annotations

import os
from functools import cache
from pathlib import Path
from typing import Any

from playwright.sync_api import Page

AXE_JS = Path(os.environ.get("OPSBOT_AXE_JS", Path(__file__).resolve().parents[2] / ".cache/axe/node_modules/axe-core/axe.min.js"))
BLOCKING = frozenset({"serious", "critical"})


@cache
def _axe_source() -> str:
    if not AXE_JS.is_file():
        raise AssertionError(f"{AXE_JS} is missing: npm install --prefix .cache/axe axe-core@4 (scripts/test.sh does it)")
    return AXE_JS.read_text(encoding="utf-8")


def axe_violations(page: Page) -> list[dict[str, Any]]:
    """The serious and critical violations on the page as loaded, each with its rule id and the nodes it found.

    The script is evaluated through the DevTools protocol, not a <script> tag, so the page's Content-Security-Policy
    (no inline scripts) does not stop it.
    """
    if not page.evaluate("() => typeof window.axe === 'object'"):
        page.evaluate(_axe_source())
    result = page.evaluate("async () => await axe.run(document, {resultTypes: ['violations']})")
    return [
        {"id": v["id"], "impact": v["impact"], "help": v["help"], "nodes": [n["target"] for n in v["nodes"]]}
        for v in result["violations"] if v.get("impact") in BLOCKING
    ]
