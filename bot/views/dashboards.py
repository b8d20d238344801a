"""The runbooks' dashboard links (catalog `dashboards:` per environment and service), one line on every surface
that shows an environment: health and status replies, the incident summary."""
from __future__ import annotations

from collections.abc import Sequence

from bot.views.model import Link, Paragraph, joined, paragraph


def dashboards(links: Sequence[tuple[str, str]]) -> Paragraph | None:
    if not links:
        return None
    return paragraph("📈 Dashboards: ", joined((Link(url, name) for name, url in links), " · "))
