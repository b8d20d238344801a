"""The status page as HTML: server-rendered, no JavaScript, nothing from another origin (the stylesheet is the
page's own file), readable on a phone, dark by `prefers-color-scheme`. Every piece of user text goes through
`html.escape`; no user text ever becomes a URL (links are built from ids, which are letters and digits)."""
from __future__ import annotations

from html import escape

from bot.core.status_models import STATUS_TEXT, PublicIncident
from bot.core.status_view import ComponentView, MaintenanceView, PageView, maintenance_updates
from bot.views.status import maintenance_span, shown_at

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
.bars{display:flex;gap:1px;height:1.6rem;margin:.3rem 0 0}.bars span{flex:1;border-radius:1px}
.bars .operational{background:var(--ok-fg)}.bars .degraded_performance{background:var(--minor-fg)}
.bars .partial_outage{background:var(--major-fg)}.bars .major_outage{background:var(--critical-fg)}
.bars .under_maintenance{background:var(--maintenance-fg)}
nav a{margin-right:1rem}
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
            f"{why}{about}{_bars(c)}</li>")


def _bars(c: ComponentView) -> str:
    """One bar a day for 90 days, coloured by the day's worst status; a screen reader hears the summary."""
    if c.uptime is None:
        return ""
    share = f"{c.uptime.share * 100:.2f}% uptime"
    days = "".join(f'<span class="{d.status.value}" title="{d.day.isoformat()}: {STATUS_TEXT[d.status]}"></span>'
                   for d in c.uptime.days)
    return (f'<div class="bars" role="img" aria-label="{escape(c.name)}: {share} over {len(c.uptime.days)} days">'
            f'{days}</div><div class="muted">{len(c.uptime.days)} days ago · {share} · today</div>')


def _updates(view: PageView, incident: PublicIncident) -> str:
    out = []
    for update in reversed(incident.updates):
        out.append(f"<div><strong>{update.state.value.capitalize()}</strong> — "
                   f'<time datetime="{update.at.isoformat()}">{escape(shown_at(update.at, view.time_zone))}</time>'
                   f'<div class="update">{escape(update.body)}</div></div>')
    return "".join(out)


def _maintenance(view: PageView, m: MaintenanceView) -> str:
    affected = ", ".join(escape(name) for name in m.components) or "none"
    span = maintenance_span(m, view.time_zone)
    latest = maintenance_updates(m, span)[-1]
    return (f'<li id="maintenance-{m.id}"><h3>{escape(m.name)}</h3><span class="muted">{escape(span)} · '
            f'components: {affected}</span><div class="update">{escape(latest.body)}</div></li>')


def _incident_item(view: PageView, incident: PublicIncident, root: str, full: bool) -> str:
    title = f'<a href="{root}incidents/{incident.id}/">{escape(incident.name)}</a>'
    impact = f'<span class="muted">{incident.impact.value} impact · {incident.state.value}</span>'
    body = _updates(view, incident) if full else (
        f'<div class="update">{escape(incident.updates[-1].body)}</div>' if incident.updates else "")
    return f"<li><h3>{title}</h3>{impact}{body}</li>"


def _nav(view: PageView, root: str) -> str:
    return (f'<nav><a href="{root}">{escape(view.title)}</a><a href="{root}history/">History</a>'
            f'<a href="{root}history.atom">Atom</a><a href="{root}history.rss">RSS</a></nav>')


def index_html(view: PageView, root: str = "") -> str:
    parts = [_nav(view, root), f"<h1>{escape(view.title)}</h1>",
             f'<p class="banner {view.indicator}">{escape(view.description)}</p>']
    if view.maintenance_now:
        parts.append("<h2>Maintenance in progress</h2><ul>" + "".join(_maintenance(view, m) for m in view.maintenance_now)
                     + "</ul>")
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
    if view.maintenance_upcoming:
        parts.append("<h2>Scheduled maintenance</h2><ul>"
                     + "".join(_maintenance(view, m) for m in view.maintenance_upcoming) + "</ul>")
    parts.append("<h2>Past incidents (14 days)</h2>")
    parts.append("<ul>" + "".join(_incident_item(view, i, root, False) for i in view.recent) + "</ul>"
                 if view.recent else '<p class="muted">No incidents reported.</p>')
    parts.append(f'<p class="muted">Updated <time datetime="{view.updated_at.isoformat()}">'
                 f"{escape(shown_at(view.updated_at, view.time_zone))}</time></p>")
    return _doc(view.title, "".join(parts), root)


def incident_html(view: PageView, incident: PublicIncident, root: str) -> str:
    affected = ", ".join(escape(name) for name in incident.components) or "none"
    body = (f'{_nav(view, root)}<h1>{escape(incident.name)}</h1>'
            f'<p class="muted">{incident.impact.value} impact · {incident.state.value} · components: {affected}</p>'
            + _updates(view, incident))
    return _doc(f"{incident.name} — {view.title}", body, root)


def history_html(view: PageView, root: str) -> str:
    """Every public incident kept, by month (in the page's zone), newest first."""
    months: dict[str, list[PublicIncident]] = {}
    for incident in view.history:
        months.setdefault(shown_at(incident.created_at, view.time_zone)[:7], []).append(incident)
    parts = [_nav(view, root), f"<h1>History — {escape(view.title)}</h1>"]
    for month, incidents in months.items():
        parts.append(f"<h2>{month}</h2><ul>" + "".join(_incident_item(view, i, root, False) for i in incidents)
                     + "</ul>")
    if not months:
        parts.append('<p class="muted">No incidents reported.</p>')
    return _doc(f"History — {view.title}", "".join(parts), root)
