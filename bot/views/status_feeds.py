"""The status page's history as feeds (Atom and RSS 2.0, by feedgen): one entry per public update — and per public
maintenance, where the page shows them — newest first, with stable ids, so a feed reader shows each once."""
from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime

from feedgen.feed import FeedGenerator

from bot.core.plain_text import printable
from bot.core.status_models import PublicIncident
from bot.core.status_view import PageView, maintenance_updates
from bot.views.status import maintenance_span

ENTRIES = 100  # the newest updates; older ones are on /status/history


@dataclass(frozen=True)
class Entry:
    id: str
    title: str
    body: str
    at: datetime
    link: str


def _base(view: PageView) -> str:
    """Links in the feed are absolute: the page's public address (status_page.url), else a URN of its id."""
    return (view.url or f"urn:opsbot:status:{view.id}").rstrip("/")


def entries(view: PageView) -> Iterator[Entry]:
    base = _base(view)
    for incident in view.incidents:
        yield from _incident_entries(base, incident)
    for m in view.maintenance:
        link = f"{base}/#maintenance-{m.id}"
        for update in maintenance_updates(m, maintenance_span(m, view.time_zone)):
            yield Entry(id=f"{base}/maintenance/{m.id}#update-{update.id}",
                        title=f"{m.name} — {update.status.replace('_', ' ').capitalize()} (maintenance)",
                        body=update.body, at=update.at, link=link)


def _incident_entries(base: str, incident: PublicIncident) -> Iterator[Entry]:
    link = f"{base}/incidents/{incident.id}"
    for update in incident.updates:
        yield Entry(id=f"{link}#update-{update.id}", title=f"{incident.name} — {update.state.value.capitalize()}",
                    body=update.body, at=update.at, link=link)


def _feed(view: PageView, kind: str) -> bytes:
    feed = FeedGenerator()
    base = _base(view)
    feed.id(f"{base}/history.{kind}")
    feed.title(printable(f"{view.title} — history"))
    feed.link(href=base if base.startswith("http") else f"{base}/", rel="alternate")
    feed.description(printable(f"Incidents and maintenance of {view.title}"))
    feed.updated(view.updated_at)
    feed.language("en")
    # Text kept before control characters were dropped at the door (bot/core/plain_text.py) must not stop the page:
    # lxml refuses any string XML cannot hold, and the whole rendering would fail with it.
    newest = sorted(entries(view), key=lambda e: (e.at, e.id), reverse=True)[:ENTRIES]
    for entry in reversed(newest):  # feedgen puts each new entry first: add oldest first, read newest first
        item = feed.add_entry()
        item.id(entry.id)
        item.guid(entry.id, permalink=False)
        item.title(printable(entry.title))
        item.link(href=entry.link)
        item.content(printable(entry.body), type="text")  # plain text: a reader escapes it, no markup is carried
        item.published(entry.at)
        item.updated(entry.at)
    return feed.atom_str(pretty=True) if kind == "atom" else feed.rss_str(pretty=True)


def atom(view: PageView) -> bytes:
    return _feed(view, "atom")


def rss(view: PageView) -> bytes:
    return _feed(view, "rss")
