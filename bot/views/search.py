"""Search results and similar incidents as neutral replies: each incident on a line that starts with its id."""
from __future__ import annotations

from bot.core.models import Incident
from bot.core.search import Found, Similar
from bot.core.search_text import HIGHLIGHT
from bot.timeparse import show
from bot.views.incidents import STATUS_EMOJI
from bot.views.model import Code, Headline, Line, Reply, Strong, line, lines, note, paragraph, reply

_SNIPPET_MAX = 240


def snippet(text: str) -> Line:
    """The matching passage on one line, its matches in bold."""
    text = " ".join(text.split())
    if len(text) > _SNIPPET_MAX:
        text = text[:_SNIPPET_MAX - 1] + "…"
    spans: list = []  # plain text and Strong matches
    rest = text
    while HIGHLIGHT[0] in rest:
        before, _, after = rest.partition(HIGHLIGHT[0])
        hit, _, rest = after.partition(HIGHLIGHT[1])
        spans += [before, Strong(hit.replace(HIGHLIGHT[1], ""))] if hit else [before]
    spans.append(rest.replace(HIGHLIGHT[1], ""))
    return line(*spans)


def _dates(incident: Incident) -> str:
    end = incident.resolved_at or incident.closed_at
    return f"{show(incident.declared_at)} → {show(end)}" if end else f"declared {show(incident.declared_at)}"


def _postmortem(ref: str | None, incident: Incident) -> Line:
    return line("post-mortem ", Code(ref)) if ref else line("no post-mortem yet (", Code(
        f"/incident postmortem {incident.id}"), ")")


def search_results(found: list[Found], include_open: bool) -> Reply:
    scope = "incidents" if include_open else "resolved or closed incidents"
    if not found:
        message = line(f"No {scope} match.", "" if include_open else " (--all searches open ones too.)")
        return reply(message, paragraph(message))
    items = [line(Strong(f.incident.id), f" {f.incident.severity} {STATUS_EMOJI[f.incident.status]} "
                  f"{f.incident.status.value} · {_dates(f.incident)} — ", f.incident.title, " · “", snippet(f.snippet),
                  "” · resolved: ", f.incident.resolution or "—", " · ", _postmortem(f.postmortem, f.incident))
             for f in found]
    return reply(f"{len(found)} matching {scope}", Headline(f"Search: {len(found)} {scope}, best first"),
                 lines(items))


def similar_line(item: Similar) -> Line:
    incident = item.incident
    ops = [line(o.text, f" (audit #{o.audit_seq})" if isinstance(o.audit_seq, int) else "") for o in item.ops[:5]]
    when = f" · {show(incident.declared_at)}, lasted {item.duration} · resolved: "
    parts: list = [Strong(incident.id), f" {incident.severity} — ", incident.title, when, incident.resolution or "—"]
    if ops:
        parts += [" · ops: ", *[line(", " if i else "", o) for i, o in enumerate(ops)]]
    if item.open_items:
        parts += [" · open action items: ", "; ".join(f"{a.number}. {a.text}" for a in item.open_items[:5])]
    parts += [" · ", _postmortem(item.postmortem, incident)]
    return line(*parts)


def similar_list(incident: Incident, similar: list[Similar]) -> Reply:
    if not similar:
        message = line(f"No past incident is similar enough to {incident.id}.")
        return reply(message, paragraph(message))
    return reply(f"{len(similar)} similar past incidents to {incident.id}",
                 Headline(f"Similar past incidents to {incident.id}"), lines(similar_line(s) for s in similar),
                 note("What fixed them may fix this. ", Code("/incident search <words>"), " finds more."))
