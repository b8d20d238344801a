"""The status page as HTML: server-rendered, no JavaScript, nothing from another origin (the stylesheet is the
page's own file), readable on a phone, dark by `prefers-color-scheme`. Every piece of user text goes through
`html.escape`; no user text ever becomes a URL (links are built from ids, which are letters and digits)."""
from __future__ import annotations

from html import escape

from bot.core.status_models import STATUS_TEXT, PublicIncident
from bot.core.status_view import ComponentView, PageView
from bot.views.status import shown_at

STYLE = """\
:root{color-scheme:light dark;--bg:#fff;--fg:#1d1f21;--muted:#5f5f5f;--line:#ddd;--ok:#1b5e20;--minor:#7a5300;
--major:#a63c00;--critical:#b71c1c;--maintenance:#0d47a1;--ok-fg:var(--ok);--minor-fg:var(--minor);
--major-fg:var(--major);--critical-fg:var(--critical);--maintenance-fg:var(--maintenance)}
@media (prefers-color-scheme:dark){:root{--bg:#16181a;--fg:#e8e8e8;--muted:#a8a8a8;--line:#333;--ok-fg:#81c784;
--minor-fg:#ffd54f;--major-fg:#ffab70;--critical-fg:#ff8a80;--maintenance-fg:#90caf9}}
body{margin:0 auto;max-width:46rem;padding:1rem;font:16px/1.5 system-ui,sans-serif;background:var(--bg);color:var(--fg)}
h1{font-size:1.6rem}h2{font-size:1.2rem;margin-top:2rem}a{color:inherit}
.banner{padding:1rem;border-radius:.4rem;color:#fff;font-weight:600}
.none{background:var(--ok)}.minor{background:var(--minor)}.major{background:var(--major)}
.critical{background:var(--critical)}.maintenance{background:var(--maintenance)}
ul{list-style:none;padding:0}li{border-bottom:1px solid var(--line);padding:.5rem 0;overflow-wrap:anywhere}
.status{float:right;color:var(--muted)}.muted,time{color:var(--muted);font-size:.9rem}
.operational{color:var(--ok-fg)}.degraded_performance{color:var(--minor-fg)}.partial_outage{color:var(--major-fg)}
.major_outage{color:var(--critical-fg)}.under_maintenance{color:var(--maintenance-fg)}
.update{margin:.5rem 0 1rem;white-space:pre-wrap;overflow-wrap:anywhere}
"""


def _doc(title: str, body: str, root: str) -> str:
    return ('<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
            '<meta name="viewport" content="width=device-width,initial-scale=1">'
            f'<title>{escape(title)}</title><link rel="stylesheet" href="{root}style.css"></head>'
            f"<body>{body}</body></html>\n")


def _component(c: ComponentView) -> str:
    why = f' <span class="muted">— {escape(c.reason)}</span>' if c.reason else ""
    about = f'<div class="muted">{escape(c.description)}</div>' if c.description else ""
    return (f'<li>{escape(c.name)}<span class="status {c.status.value}">{STATUS_TEXT[c.status]}</span>'
            f"{why}{about}</li>")


def _updates(view: PageView, incident: PublicIncident) -> str:
    out = []
    for update in reversed(incident.updates):
        out.append(f"<div><strong>{update.state.value.capitalize()}</strong> — "
                   f'<time datetime="{update.at.isoformat()}">{escape(shown_at(update.at, view.time_zone))}</time>'
                   f'<div class="update">{escape(update.body)}</div></div>')
    return "".join(out)


def _incident_item(view: PageView, incident: PublicIncident, root: str, full: bool) -> str:
    title = f'<a href="{root}incidents/{incident.id}">{escape(incident.name)}</a>'
    impact = f'<span class="muted">{incident.impact.value} impact · {incident.state.value}</span>'
    body = _updates(view, incident) if full else (
        f'<div class="update">{escape(incident.updates[-1].body)}</div>' if incident.updates else "")
    return f"<li><h3>{title}</h3>{impact}{body}</li>"


def index_html(view: PageView, root: str = "") -> str:
    parts = [f"<h1>{escape(view.title)}</h1>", f'<p class="banner {view.indicator}">{escape(view.description)}</p>']
    if view.open_incidents:
        parts.append("<h2>Active incidents</h2><ul>"
                     + "".join(_incident_item(view, i, root, True) for i in view.open_incidents) + "</ul>")
    groups: dict[str | None, list[ComponentView]] = {}
    for component in view.components:
        groups.setdefault(component.group, []).append(component)
    if view.components:
        parts.append("<h2>Components</h2>")
    for group, members in groups.items():
        if group:
            parts.append(f"<h3>{escape(group)}</h3>")
        parts.append("<ul>" + "".join(_component(c) for c in members) + "</ul>")
    parts.append("<h2>Past incidents (14 days)</h2>")
    parts.append("<ul>" + "".join(_incident_item(view, i, root, False) for i in view.recent) + "</ul>"
                 if view.recent else '<p class="muted">No incidents reported.</p>')
    parts.append(f'<p class="muted">Updated <time datetime="{view.updated_at.isoformat()}">'
                 f"{escape(shown_at(view.updated_at, view.time_zone))}</time></p>")
    return _doc(view.title, "".join(parts), root)


def incident_html(view: PageView, incident: PublicIncident, root: str) -> str:
    affected = ", ".join(escape(name) for name in incident.components) or "none"
    body = (f'<p><a href="{root}">← {escape(view.title)}</a></p><h1>{escape(incident.name)}</h1>'
            f'<p class="muted">{incident.impact.value} impact · {incident.state.value} · components: {affected}</p>'
            + _updates(view, incident))
    return _doc(f"{incident.name} — {view.title}", body, root)
