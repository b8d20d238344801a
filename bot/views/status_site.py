"""The whole status page as files — HTML, stylesheet, the Statuspage v2 JSON — rendered once per change of the page
and served as they are (`opsbot serve`, under /status/) or written to a directory (a static copy). One rendering for
both, so what is built is what is served."""
from __future__ import annotations

import json
from dataclasses import dataclass

from bot.core.status_view import PageView
from bot.views.status_feeds import atom, rss
from bot.views.status_html import STYLE, history_html, incident_html, index_html
from bot.views.status_json import documents

HTML = "text/html; charset=utf-8"
JSON = "application/json"
CSS = "text/css; charset=utf-8"
ATOM = "application/atom+xml; charset=utf-8"
RSS = "application/rss+xml; charset=utf-8"


@dataclass(frozen=True)
class File:
    body: bytes
    media_type: str


def render_site(view: PageView) -> dict[str, File]:
    """Files by their path under the page's root: "" (the page), "history/", "incidents/<id>/", "style.css",
    "history.atom", "history.rss", "api/v2/…". A path ending in "/" is a page (index.html in a static copy), so
    the same relative links work served and built."""
    files = {"": File(index_html(view).encode(), HTML), "style.css": File(STYLE.encode(), CSS),
             "history/": File(history_html(view, "../").encode(), HTML)}
    for incident in {i.id: i for i in [*view.open_incidents, *view.incidents, *view.history]}.values():
        files[f"incidents/{incident.id}/"] = File(incident_html(view, incident, "../../").encode(), HTML)
    files["history.atom"] = File(atom(view), ATOM)
    files["history.rss"] = File(rss(view), RSS)
    for path, doc in documents(view).items():
        files[f"api/v2/{path}"] = File(json.dumps(doc, ensure_ascii=False).encode(), JSON)
    return files
