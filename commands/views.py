"""Block Kit views of incidents, shared by every command that shows one."""
from __future__ import annotations

from bot.blocks import Reply, context, fields, header, lines_to_sections, section
from bot.config import Catalog
from bot.core.models import Event, Incident, Status
from bot.timeparse import show

STATUS_EMOJI = {
    Status.DECLARED: "🔴", Status.ACKNOWLEDGED: "🟠", Status.INVESTIGATING: "🟠",
    Status.MITIGATED: "🟡", Status.RESOLVED: "🟢", Status.CLOSED: "⚪",
}


def title_line(incident: Incident) -> str:
    return f"{incident.id} · {incident.severity} · {incident.title}"


def incident_card(incident: Incident, catalog: Catalog, note: str | None = None) -> Reply:
    severity = catalog.severities[incident.severity]
    pairs = [
        ("Status", f"{STATUS_EMOJI[incident.status]} {incident.status.value}"),
        ("Severity", f"{incident.severity} ({severity.name})"),
        ("Commander", f"<@{incident.commander}>" if incident.commander else "—"),
        ("Declared", show(incident.declared_at)),
    ]
    for role in ("scribe", "comms"):
        if role in incident.roles:
            pairs.append((role.capitalize(), f"<@{incident.roles[role]}>"))
    if incident.service:
        pairs.append(("Service", incident.service + (f" ({incident.env})" if incident.env else "")))
    if incident.resolved_at:
        pairs.append(("Resolved", show(incident.resolved_at)))
    blocks = [header(title_line(incident))]
    if note:
        blocks.append(section(note))
    blocks.append(fields(pairs))
    if incident.impact:
        blocks.append(section(f"*Impact:* {incident.impact}"))
    if incident.resolution:
        blocks.append(section(f"*Resolution:* {incident.resolution}"))
    if incident.action_items:
        items = [_action_line(item) for item in incident.action_items]
        blocks += lines_to_sections(["*Action items*", *items])
    return Reply(text=note or f"{title_line(incident)} — {incident.status.value}", blocks=blocks)


def _action_line(item) -> str:
    done = "✅" if item.done_at else "☐"
    owner = f" — <@{item.owner}>" if item.owner else " — unassigned"
    due = f", due {item.due}" if item.due else ""
    return f"{done} {item.number}. {item.text}{owner}{due}"


def incident_list(incidents: list[Incident], include_closed: bool) -> Reply:
    scope = "All incidents" if include_closed else "Open incidents"
    if not incidents:
        message = "No incidents yet." if include_closed else "No open incidents. (`/incident list --all` shows every one.)"
        return Reply(text=message, blocks=[section(message)])
    lines = [
        f"{STATUS_EMOJI[i.status]} *{i.id}* {i.severity} {i.status.value} — {i.title} "
        f"(declared {show(i.declared_at)}, commander {'<@' + i.commander + '>' if i.commander else '—'})"
        for i in incidents
    ]
    return Reply(text=f"{scope}: {len(incidents)}", blocks=[header(f"{scope} ({len(incidents)})"),
                                                            *lines_to_sections(lines)])


def timeline_view(incident: Incident, events: list[Event]) -> Reply:
    lines = [f"`{show(e.at)}` <@{e.actor}> — {e.text}" for e in events]
    reply = Reply(text=f"Timeline of {incident.id}: {len(events)} events",
                  blocks=[header(f"Timeline · {title_line(incident)}"), *lines_to_sections(lines)])
    return reply


def done(message: str, incident: Incident) -> Reply:
    """A short confirmation after a change, visible to the channel."""
    return Reply(text=message, blocks=[section(message), context(f"{title_line(incident)} · {incident.status.value}")],
                 ephemeral=False, incident=incident.number)
