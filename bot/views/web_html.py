"""The web view's pages (/ui/) as HTML: server-rendered, no JavaScript, nothing from another origin (its stylesheet
is its own file), readable on a phone, dark by `prefers-color-scheme`, AA colour contrast. Every piece of user text
goes through `html.escape`; the post-mortem's Markdown is rendered with raw HTML off and links limited to http(s);
links are built from ids, never from user text. Times show in the viewer's zone, UTC in their title."""
from __future__ import annotations

import re
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from html import escape
from urllib.parse import urlencode
from zoneinfo import ZoneInfo

from markdown_it import MarkdownIt

from bot.core.audit import AuditRecord, Verification
from bot.core.audit_signing import Checkpoint
from bot.core.evidence_bundle import Bundle
from bot.core.insights import Insights, Percentiles
from bot.core.models import Event, Incident
from bot.core.web_read import Listing, Row
from bot.timeparse import format_duration

STYLE = """\
:root{color-scheme:light dark;--bg:#fff;--fg:#1d1f21;--muted:#5f5f5f;--line:#ddd;--ok:#1b5e20;--bad:#b71c1c;
--bar:#0d47a1;--link:#0b57d0}
@media (prefers-color-scheme:dark){:root{--bg:#16181a;--fg:#e8e8e8;--muted:#a8a8a8;--line:#333;--ok:#81c784;
--bad:#ff8a80;--bar:#90caf9;--link:#8ab4f8}}
body{margin:0 auto;max-width:72rem;padding:1rem;font:16px/1.5 system-ui,sans-serif;background:var(--bg);color:var(--fg)}
a{color:var(--link)}nav{display:flex;flex-wrap:wrap;gap:.25rem 1rem}h1{font-size:1.5rem}h2{font-size:1.2rem;margin-top:2rem}
table{border-collapse:collapse;width:100%;display:block;overflow-x:auto}th,td{text-align:left;padding:.35rem .5rem;
border-bottom:1px solid var(--line);vertical-align:top}.muted,time{color:var(--muted)}.ok{color:var(--ok)}
.bad{color:var(--bad)}.text{white-space:pre-wrap;overflow-wrap:anywhere}
form{margin:1rem 0;display:flex;flex-wrap:wrap;gap:.4rem;align-items:center}
input,select{font:inherit;max-width:100%}svg{max-width:100%;height:auto}h1{overflow-wrap:anywhere}
svg rect{fill:var(--bar)}svg text{fill:var(--fg);font-size:12px}.postmortem{overflow-wrap:anywhere}
svg rect.s0{fill:#0d47a1}svg rect.s1{fill:#b71c1c}svg rect.s2{fill:#1b5e20}svg rect.s3{fill:#6a1b9a}
svg rect.s4{fill:#e65100}svg rect.s5{fill:#455a64}.chart{display:flex;flex-wrap:wrap;gap:1rem;align-items:flex-start}
.chart table{width:auto}.calendar{table-layout:fixed;display:table;margin-bottom:2rem}
.calendar td{height:4rem;font-size:.85rem;overflow-wrap:anywhere}.calendar ul{margin:0;padding-left:1rem}
.calendar .day{font-weight:600}.who{display:flex;flex-wrap:wrap;align-items:center;margin:1rem 0}
form.signout{display:inline;margin:0}.signout button{font:inherit;color:var(--link);background:none;border:0;padding:0;
text-decoration:underline;cursor:pointer}
@media (max-width:40rem){.timeline thead{position:absolute;left:-9999px}.timeline tr{display:block;
border-bottom:1px solid var(--line);padding:.35rem 0}.timeline td{display:inline;border:0;padding:0 .5rem 0 0}
.timeline td.text{display:block}}.calendar .today{outline:2px solid var(--link)}code{overflow-wrap:anywhere}
@media (prefers-color-scheme:dark){svg rect.s0{fill:#90caf9}svg rect.s1{fill:#ef9a9a}svg rect.s2{fill:#a5d6a7}
svg rect.s3{fill:#ce93d8}svg rect.s4{fill:#ffcc80}svg rect.s5{fill:#b0bec5}}
"""
# Without a zone from Slack, times are UTC in the page; this script (a file of this origin: the CSP allows no inline
# script) shows them on the browser's clock instead, keeping UTC in the tooltip. Without JavaScript, UTC it is.
LOCAL_TIME_JS = """\
document.querySelectorAll('time[data-local]').forEach(function (t) {
  var d = new Date(t.getAttribute('datetime'));
  if (!isNaN(d)) { t.textContent = d.toLocaleString([], {dateStyle: 'medium', timeStyle: 'short'}); }
});
"""
# Signing out changes something, so it is a POST from this origin's page (bot/http/web.py): a link or an image on
# another site cannot sign anyone out.
SIGN_OUT = '<form class="signout" method="post" action="/ui/logout"><button type="submit">Sign out</button></form>'
PAGES = [("Incidents", "/ui/"), ("Audit", "/ui/audit"), ("Insights", "/ui/insights"),
         ("Maintenance", "/ui/maintenance"), ("On call", "/ui/oncall")]


def _markdown() -> MarkdownIt:
    """CommonMark with raw HTML off; a link or image to anything but http(s) (javascript:, data:, file:) stays text."""
    md = MarkdownIt("commonmark", {"html": False, "linkify": False}).enable("table").disable("image")
    md.validateLink = lambda url: url.lower().startswith(("http://", "https://"))  # type: ignore[method-assign]
    return md


MARKDOWN = _markdown()


def when(moment: datetime | None, zone: ZoneInfo | None) -> str:
    """A time in the viewer's zone (None: not known — UTC, which the browser's script puts on its own clock)."""
    if moment is None:
        return '<span class="muted">—</span>'
    utc = moment.astimezone(ZoneInfo("UTC")).strftime("%Y-%m-%d %H:%M UTC")
    local = "" if zone is not None else " data-local"
    return (f'<time datetime="{moment.isoformat()}" title="{utc}"{local}>'
            f'{escape(moment.astimezone(zone or ZoneInfo("UTC")).strftime("%Y-%m-%d %H:%M %Z"))}</time>')


def _span(value: timedelta | None, target: timedelta | None = None) -> str:
    if value is None:
        return '<span class="muted">—</span>'
    shown = escape(format_duration(value))
    if target is None:
        return shown
    met = value <= target
    return (f'<span class="{"ok" if met else "bad"}">{shown} {"✓" if met else "✗"}</span>'
            f'<span class="muted"> / {escape(format_duration(target))}</span>')


def page(title: str, body: str, user: str | None) -> str:
    nav = "".join(f'<a href="{href}">{name}</a>' for name, href in PAGES) if user else ""
    who = f'<span class="muted">{escape(user)} · </span>{SIGN_OUT}' if user else ""
    # A wide table scrolls inside itself on a phone: focusable, so it scrolls from the keyboard too. Every "<table"
    # here is markup of ours or markdown-it's (user text is escaped before it gets here).
    body = body.replace("<table>", '<table tabindex="0">').replace("<table class=", '<table tabindex="0" class=')
    return ('<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
            '<meta name="viewport" content="width=device-width,initial-scale=1">'
            f'<title>{escape(title)} — opsbot</title><link rel="stylesheet" href="/ui/style.css"></head>'
            f'<body><header><nav>{nav}</nav><div class="who">{who}</div></header><main><h1>{escape(title)}</h1>{body}</main>'
            '<script src="/ui/local-time.js"></script></body></html>\n')


def sign_out_page(user: str) -> str:
    return page("Sign out", f"<p>Sign out of opsbot's web view in this browser?</p>{SIGN_OUT}", user)


def confirm_sign_in_page(holder: str) -> str:
    """A sign-in link, opened: nothing is spent until its holder presses the button (a POST to the same address),
    so link previews and scanners leave it alone, and a link someone else sent says whose it is."""
    return page("Sign in", f"<p>This one-time link signs you in to opsbot's web view as <strong>{escape(holder)}"
                "</strong>. If that is not your Slack user ID, close this page: someone else's link shows you only "
                'what they may see.</p><form method="post"><button type="submit">Sign in</button></form>', None)


def sign_in_page(reason: str | None = None) -> str:
    why = f'<p class="bad">{escape(reason)}</p>' if reason else ""
    return page("Sign in", why + "<p>Type <code>/opsbot login</code> in Slack: opsbot answers, only to you, with a "
                "link that signs you in (valid 10 minutes, once). Without Slack: <code>opsbot web-login --user "
                "U…</code> prints one.</p>", None)


def problem_page(title: str, message: str, user: str | None) -> str:
    return page(title, f"<p>{escape(message)}</p>", user)


def _select(name: str, label: str, current: str, options: list[str]) -> str:
    choices = "".join(f'<option value="{escape(o)}"{" selected" if o == current else ""}>{escape(o or "any")}'
                      "</option>" for o in ["", *options])
    return f'<label for="f-{name}">{label}</label><select id="f-{name}" name="{name}">{choices}</select>'


def incident_list(listing: Listing, query: dict[str, str], severities: list[str], zone: ZoneInfo | None,
                  user: str) -> str:
    form = ('<form method="get" action="/ui/">'
            + f'<label for="f-q">Text</label><input id="f-q" name="q" type="search" value="{escape(query.get("q", ""))}" '
              'size="16">'
            + _select("state", "State", query.get("state", ""), ["open", "resolved", "closed"])
            + _select("severity", "Severity", query.get("severity", ""), severities)
            + f'<label for="f-service">Service</label><input id="f-service" name="service" '
              f'value="{escape(query.get("service", ""))}" size="10">'
            + f'<label for="f-env">Environment</label><input id="f-env" name="env" value="{escape(query.get("env", ""))}" '
              'size="8">'
            + f'<label for="f-since">From</label><input id="f-since" name="since" type="date" '
              f'value="{escape(query.get("since", ""))}">'
            + f'<label for="f-until">To</label><input id="f-until" name="until" type="date" '
              f'value="{escape(query.get("until", ""))}">'
            + '<button type="submit">Filter</button></form>')
    rows = "".join(_row(r, zone) for r in listing.rows) or '<tr><td colspan="8">No incidents.</td></tr>'
    table = ("<table><thead><tr><th>Incident</th><th>Severity</th><th>State</th><th>Commander</th><th>Declared</th>"
             "<th>Duration</th><th>To acknowledge</th><th>To resolve</th></tr></thead>"
             f"<tbody>{rows}</tbody></table>")
    more = {**query, "page": str(listing.page + 1)}
    pager = f'<p><a href="/ui/?{escape(urlencode(more))}">Next page</a></p>' if listing.more else ""
    return page("Incidents", form + table + pager, user)


def _row(r: Row, zone: ZoneInfo | None) -> str:
    i = r.incident
    return (f'<tr><td><a href="/ui/incidents/{i.id}">{i.id}</a> {escape(i.title)}</td><td>{escape(i.severity)}</td>'
            f"<td>{i.status.value}</td><td>{escape(i.commander or '—')}</td><td>{when(i.declared_at, zone)}</td>"
            f"<td>{_span(r.duration)}</td><td>{_span(r.tta, r.tta_target)}</td><td>{_span(r.ttr, r.ttr_target)}</td></tr>")


@dataclass(frozen=True)
class EventsPage:
    events: list[Event]
    page: int
    total: int
    size: int


def incident_page(incident: Incident, row: Row, shown: EventsPage, roles: list[Event], bundles: list[Bundle],
                  verified: tuple[int, list[str]] | None, zone: ZoneInfo | None, slack_team_url: str | None,
                  user: str) -> str:
    i = incident
    # The workspace's own address when Slack told it (auth.test); else app_redirect, which opens the channel in
    # whichever workspace the viewer is signed in to.
    base = (f"{escape(slack_team_url.rstrip('/'))}/archives/" if slack_team_url
            else "https://slack.com/app_redirect?channel=")
    slack = f' · <a href="{base}{i.channel}">Slack channel</a>' if i.channel and i.channel.isalnum() else ""
    summary = (f"<p>{escape(i.severity)} · {i.status.value} · {escape(i.env or 'no environment')} · "
               f"{escape(i.service or 'no service')} · declared {when(i.declared_at, zone)} · to acknowledge "
               f"{_span(row.tta, row.tta_target)} · to resolve {_span(row.ttr, row.ttr_target)}"
               f"{' · private' if i.private else ''}</p>"
               + (f'<p class="text">{escape(i.impact)}</p>' if i.impact else "")
               + (f'<p>Resolution: <span class="text">{escape(i.resolution)}</span></p>' if i.resolution else "")
               + f'<p><a href="/ui/incidents/{i.id}/postmortem">Post-mortem draft</a> · '
                 f'<a href="/ui/incidents/{i.id}.md">Post-mortem (Markdown)</a> · '
                 f'<a href="/ui/incidents/{i.id}.json">JSON export</a>{slack}</p>')
    current = "".join(f"<li>{escape(role)}: {escape(who)}</li>" for role, who in i.roles.items()) or "<li>none</li>"
    history = "".join(f"<li>{when(e.at, zone)} {escape(e.text)} <span class=\"muted\">by {escape(e.actor)}</span></li>"
                      for e in roles)
    items = "".join(f"<li>#{a.number} {escape(a.text)} — {escape(a.owner or 'no owner')}"
                    f"{' ✓' if a.done_at else ''}</li>" for a in i.action_items) or "<li>none</li>"
    body = (summary + f"<h2>Roles</h2><ul>{current}</ul>"
            + (f"<h3>Role history</h3><ul>{history}</ul>" if history else "")
            + f"<h2>Action items</h2><ul>{items}</ul>"
            + _evidence(bundles, verified, zone) + _timeline(i, shown, zone))
    return page(f"{i.id} {i.title}", body, user)


def _timeline(i: Incident, shown: EventsPage, zone: ZoneInfo | None) -> str:
    rows = "".join(_event(e, zone) for e in shown.events) or '<tr><td colspan="4">No events here.</td></tr>'
    first = (shown.page - 1) * shown.size
    where = (f'<p class="muted">Events {first + 1}–{first + len(shown.events)} of {shown.total}.</p>'
             if shown.total > shown.size else "")
    links = []
    if shown.page > 1:
        links.append(f'<a href="/ui/incidents/{i.id}?events={shown.page - 1}">Earlier events</a>')
    if first + shown.size < shown.total:
        links.append(f'<a href="/ui/incidents/{i.id}?events={shown.page + 1}">Later events</a>')
    pager = f"<p>{' · '.join(links)}</p>" if links else ""
    return (f'<h2>Timeline</h2>{where}<table class="timeline"><thead><tr><th>When</th><th>What</th><th>Who</th><th>Text</th></tr>'
            f"</thead><tbody>{rows}</tbody></table>{pager}")


def _evidence(bundles: list[Bundle], verified: tuple[int, list[str]] | None, zone: ZoneInfo | None) -> str:
    if not bundles:
        return "<h2>Evidence</h2><p>No evidence bundles.</p>"
    checked, problems = verified or (0, [])
    state = (f'<p class="ok">Verified now, on the server: {checked} item{"s" if checked != 1 else ""} match'
             f'{"" if checked != 1 else "es"} the manifests.</p>' if not problems else
             '<p class="bad">Verification failed:</p><ul>'
             + "".join(f"<li>{escape(p)}</li>" for p in problems) + "</ul>")
    parts = []
    for b in bundles:
        rows = "".join(f"<tr><td>{escape(item.name)}</td><td>{escape(item.collector)}</td><td>{escape(item.source)}</td>"
                       f"<td>{item.size}</td><td><code>{escape(item.sha256[:16])}</code></td>"
                       f"<td>{'ok' if item.ok else escape(item.error or 'failed')}"
                       f"{f' · {item.redacted} redacted' if item.redacted else ''}"
                       f"{' · truncated' if item.truncated else ''}</td></tr>" for item in b.items)
        parts.append(f"<h3>{b.ref} · {escape(b.env)} · {when(b.created_at, zone)} by {escape(b.created_by)}</h3>"
                     f'<p class="muted">Manifest SHA-256 <code>{escape(b.manifest_sha256)}</code></p>'
                     "<table><thead><tr><th>File</th><th>Collector</th><th>Source</th><th>Bytes</th><th>SHA-256</th>"
                     f"<th>State</th></tr></thead><tbody>{rows}</tbody></table>")
    return "<h2>Evidence</h2>" + state + "".join(parts)


def postmortem_page(incident: Incident, postmortem: str, user: str) -> str:
    """The draft rendered from its Markdown (sanitised); a long table (the timeline) is cut to its first rows here:
    the incident page and the Markdown download have every one."""
    back = (f'<p><a href="/ui/incidents/{incident.id}">← {incident.id}</a> · '
            f'<a href="/ui/incidents/{incident.id}.md">Markdown</a></p>')
    body = f'{back}<div class="postmortem">{_demoted(MARKDOWN.render(_short_tables(postmortem)))}</div>'
    return page(f"Post-mortem draft — {incident.id}", body, user)


def _short_tables(markdown: str, keep: int = 40) -> str:
    out: list[str] = []
    run = 0
    for text in markdown.splitlines():
        run = run + 1 if text.startswith("|") else 0
        if run <= keep + 2:  # the header, its rule and `keep` rows
            out.append(text)
        elif run == keep + 3:
            out.append("")
            out.append("_… more rows: the incident page and the Markdown have them all._")
    return "\n".join(out)


def _demoted(rendered: str) -> str:
    """The draft's headings under the page's own (its # becomes h2): one h1 a page. Every tag here is markdown-it's
    own (raw HTML is off), so the substitution touches no user text."""
    return re.sub(r"<(/?)h([1-5])>", lambda m: f"<{m.group(1)}h{int(m.group(2)) + 1}>", rendered)


def _event(e: Event, zone: ZoneInfo | None) -> str:
    seq = e.data.get("audit_seq") if isinstance(e.data, dict) else None
    audit = f' <a href="/ui/audit?seq={int(seq)}">audit #{int(seq)}</a>' if isinstance(seq, int) else ""
    link = e.data.get("permalink") if isinstance(e.data, dict) else None
    if isinstance(link, str) and link.startswith("https://") and '"' not in link:  # a message kept from Slack
        audit += f' <a href="{escape(link)}">in Slack</a>'
    return (f"<tr><td>{when(e.at, zone)}</td><td>{escape(e.kind.value)}{audit}</td><td>{escape(e.actor or '')}</td>"
            f'<td class="text">{escape(e.text)}</td></tr>')


def chain_state(result: Verification, checkpoint: Checkpoint | None, zone: ZoneInfo | None) -> str:
    """What `opsbot audit verify` would say, as HTML: verified up to which seq, the last checkpoint, the rest."""
    if not result.ok:
        return f'<p class="bad">The chain is broken: {escape(result.problem or "")}</p>'
    head = f"seq {result.head.seq} (hash <code>{escape(result.head.hash[:16])}…</code>)" if result.head else "none"
    parts = [f'<p class="ok">The chain verifies: {result.records} records, up to {head}.</p>']
    if result.key_missing:
        parts.append('<p class="bad">Records are HMAC-keyed and OPSBOT_AUDIT_KEY is not set here: their links and '
                     "columns were checked, not their HMACs.</p>")
    parts.append(f"<p>Last checkpoint: seq {checkpoint.head.seq}, {when(checkpoint.at, zone)}"
                 f"{', signed' if checkpoint.signature else ''}.</p>" if checkpoint else
                 "<p>Last checkpoint: none (no witness is configured).</p>")
    parts += [f'<p class="muted">Not checked: {escape(note)}</p>' for note in result.unchecked]
    return "".join(parts)


def audit_page(records: list[AuditRecord], chain: str, query: dict[str, str], zone: ZoneInfo | None, user: str) -> str:
    form = ('<form method="get" action="/ui/audit">'
            + "".join(f'<label for="a-{n}">{label}</label><input id="a-{n}" name="{n}" value="{escape(query.get(n, ""))}" '
                      'size="10">' for n, label in (("user", "User"), ("env", "Environment"), ("action", "Action"),
                                                    ("outcome", "Outcome")))
            + "".join(f'<label for="a-{n}">{label}</label><input id="a-{n}" name="{n}" type="date" '
                      f'value="{escape(query.get(n, ""))}">' for n, label in (("since", "From"), ("until", "To")))
            + '<button type="submit">Filter</button></form>')
    rows = "".join(f'<tr id="seq-{r.seq}"><td>{r.seq}</td><td>{when(r.at, zone)}</td><td>{escape(r.user)}</td>'
                   f"<td>{escape(r.env or '')}</td><td>{escape(r.action)}</td><td>{escape(r.target or '')}</td>"
                   f"<td>{escape(r.phase)}</td></tr>" for r in records) or '<tr><td colspan="7">No records.</td></tr>'
    return page("Audit log", chain + form
                + "<table><thead><tr><th>Seq</th><th>When</th><th>User</th><th>Environment</th><th>Action</th>"
                  f"<th>Target</th><th>Outcome</th></tr></thead><tbody>{rows}</tbody></table>", user)


def _bars(title: str, counts: dict[str, int]) -> str:
    """A horizontal bar chart as SVG, its numbers in a table beside it (the chart is decoration for the table)."""
    top = max(counts.values(), default=0) or 1
    bars = "".join(f'<text x="0" y="{n * 22 + 15}">{escape(name)}</text><rect x="120" y="{n * 22 + 3}" '
                   f'width="{int(300 * value / top)}" height="16"></rect><text x="{125 + int(300 * value / top)}" '
                   f'y="{n * 22 + 15}">{value}</text>' for n, (name, value) in enumerate(counts.items()))
    svg = (f'<svg role="img" aria-label="{escape(title)}" width="460" height="{max(len(counts), 1) * 22 + 4}" '
           f'viewBox="0 0 460 {max(len(counts), 1) * 22 + 4}">{bars}</svg>')
    table = "".join(f"<tr><td>{escape(k)}</td><td>{v}</td></tr>" for k, v in counts.items())
    if not counts:
        return f"<h2>{escape(title)}</h2><p>None in this range.</p>"
    return f'<h2>{escape(title)}</h2><div class="chart">{svg}<table><tbody>{table}</tbody></table></div>'


def _times(title: str, found: dict[str, Percentiles]) -> str:
    rows = "".join(f"<tr><td>{escape(name)}</td><td>{p.count}</td><td>{_span(p.p50)}</td><td>{_span(p.p90)}</td>"
                   f"<td>{escape(p.target_label) or _span(p.target)}</td><td>{'—' if p.within is None else f'{p.within:.0%}'}</td></tr>"
                   for name, p in found.items())
    return (f"<h3>{escape(title)}</h3><table><thead><tr><th>Severity</th><th>Incidents</th><th>p50</th><th>p90</th>"
            f"<th>Target</th><th>Within target</th></tr></thead><tbody>{rows}</tbody></table>")


MONTH_NAMES = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")
SERIES = 6  # colours of a stacked chart (.s0-.s5): the most frequent services, then "other"


def _stacked(title: str, months: list[str], counts: dict[str, Counter], keys: list[str]) -> str:
    """Months as stacked columns, one colour per key; the same numbers in the table beside it (the table is the
    record, the chart the glance), the table's header doubling as the legend."""
    top = max((sum(counts.get(m, Counter()).values()) for m in months), default=0) or 1
    step, height = 36, 150
    columns = []
    for n, month in enumerate(months):
        y = height + 4
        for k, key in enumerate(keys):
            value = counts.get(month, Counter()).get(key, 0)
            if value:
                h = max(1, round(height * value / top))
                y -= h
                columns.append(f'<rect class="s{k % SERIES}" x="{n * step + 4}" y="{y}" width="{step - 10}" '
                               f'height="{h}"></rect>')
        # The month's short name under its column (a "07/26" label overruns its neighbours), and the year under the
        # first month and each January. Both from the YYYY-MM key: no locale.
        middle = n * step + 4 + (step - 10) // 2
        columns.append(f'<text x="{middle}" y="{height + 20}" text-anchor="middle">'
                       f'{MONTH_NAMES[int(month[5:]) - 1]}</text>')
        if n == 0 or month.endswith("-01"):
            columns.append(f'<text x="{middle}" y="{height + 34}" text-anchor="middle">{escape(month[:4])}</text>')
    width = max(len(months) * step + 8, 120)
    svg = (f'<svg role="img" aria-label="{escape(title)}" width="{width}" height="{height + 40}" '
           f'viewBox="0 0 {width} {height + 40}">{"".join(columns)}</svg>')
    head = "".join(f'<th><svg aria-hidden="true" width="10" height="10"><rect class="s{k % SERIES}" width="10" '
                   f'height="10"></rect></svg> {escape(key)}</th>' for k, key in enumerate(keys))
    rows = "".join(f"<tr><td>{escape(m)}</td>" + "".join(f"<td>{counts.get(m, Counter()).get(k, 0)}</td>" for k in keys)
                   + f"<td>{sum(counts.get(m, Counter()).values())}</td></tr>" for m in months)
    return (f'<h3>{escape(title)}</h3><div class="chart">{svg}<table><thead><tr><th>Month</th>{head}<th>Total</th>'
            f"</tr></thead><tbody>{rows}</tbody></table></div>")


def insights_page(found: Insights, pages_out_of_hours: dict[str, int], months: int, user: str) -> str:
    choices = "".join(f'<option value="{n}"{" selected" if n == months else ""}>the last {n} months</option>'
                      for n in sorted({1, 3, 6, 12, 24, months}))
    parts = [('<form method="get" action="/ui/insights"><label for="i-months">Range</label>'
             f'<select id="i-months" name="months">{choices}</select><button type="submit">Show</button></form>'
             f'<p class="muted">Incidents declared since {found.since:%Y-%m-%d} (UTC).</p>')]
    if found.by_severity:  # months with incidents (found.months has every month of the range)
        severities = sorted({s for counts in found.by_severity.values() for s in counts})
        services: Counter[str] = Counter()
        for counts in found.by_service.values():
            services.update(counts)
        top = [name for name, _ in services.most_common(SERIES - 1)]
        by_service = {month: Counter({(k if k in top else "other"): v for k, v in counts.items()})
                      for month, counts in found.by_service.items()}
        for month, counts in found.by_service.items():  # "other" sums the rest, not only the last one seen
            by_service[month]["other"] = sum(v for k, v in counts.items() if k not in top)
        keys = top + (["other"] if any(c["other"] for c in by_service.values()) else [])
        parts.append("<h2>Incidents per month</h2>"
                     + _stacked("Incidents per month by severity", found.months, found.by_severity, severities)
                     + _stacked("Incidents per month by service", found.months, by_service, keys))
    parts.append("<h2>Response times</h2>" + _times("Time to acknowledge (MTTA)", found.mtta)
                 + _times("Time to mitigate (MTTM)", found.mttm) + _times("Time to resolve (MTTR)", found.mttr))
    kept = "—" if found.updates_kept is None else f"{found.updates_kept:.0%}"
    parts.append(f"<h2>Status updates</h2><p>Cadence kept: {kept} of the time incidents were open.</p>")
    parts.append(_bars("Ops actions by outcome", dict(found.actions.most_common())))
    parts.append(_bars("Pages out of business hours, per person", pages_out_of_hours))
    if not found.by_severity:
        parts.insert(1, "<p>No incidents in this range.</p>")
    return page("Insights", "".join(parts), user)


def calendar(first: date, last: date, today: date, days: dict[date, list[str]]) -> str:
    """Weeks from Monday, one cell a day from `first` to `last`, each with its (already escaped) entries."""
    start = first - timedelta(days=first.weekday())
    weeks, day = [], start
    while day <= last:
        cells = []
        for _ in range(7):
            if first <= day <= last:
                entries = days.get(day, [])
                shown = "".join(f"<li>{entry}</li>" for entry in entries[:4]) + (
                    f"<li>+{len(entries) - 4} more</li>" if len(entries) > 4 else "")
                label = day.strftime("%b %-d") if day.day == 1 or day == first else str(day.day)
                current = ' class="today" aria-current="date"' if day == today else ""
                cells.append(f'<td{current}><span class="day">{label}</span>'
                             + (f"<ul>{shown}</ul>" if shown else "") + "</td>")
            else:
                cells.append("<td></td>")
            day += timedelta(days=1)
        weeks.append("<tr>" + "".join(cells) + "</tr>")
    head = "".join(f'<th scope="col">{name}</th>' for name in ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"))
    return (f'<table class="calendar"><caption>{first:%Y-%m-%d} to {last:%Y-%m-%d}</caption><thead><tr>{head}</tr>'
            f"</thead><tbody>{''.join(weeks)}</tbody></table>")


def simple_page(title: str, rows: Sequence[tuple[str, ...]], headers: tuple[str, ...], user: str, note: str = "",
                before: str = "") -> str:
    """A table of already-escaped cells (maintenance, on call)."""
    head = "".join(f"<th>{h}</th>" for h in headers)
    body = "".join("<tr>" + "".join(f"<td>{cell}</td>" for cell in row) + "</tr>" for row in rows) or \
        f'<tr><td colspan="{len(headers)}">Nothing here.</td></tr>'
    return page(title, (f"<p>{escape(note)}</p>" if note else "") + before
                + f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>", user)
