"""Incidents as Block Kit: cards, lists, timelines, confirmations, the pinned channel summary, the topic and the
alert. Stored text is neutral; everything a user typed is escaped here and people become mentions here."""
from __future__ import annotations

from datetime import datetime

from bot.config.catalog import Catalog
from bot.config.messages import render_message
from bot.core.evidence import Bundle, EvidenceItem
from bot.core.models import ActionItem, Event, Incident, Status
from bot.timeparse import format_duration, show
from bot.views.blocks import (
    MAX_SECTION,
    Attachment,
    Reply,
    button,
    context,
    fields,
    header,
    lines_to_sections,
    section,
)
from bot.views.mrkdwn import clipped, escape, mention, render

STATUS_EMOJI = {
    Status.DECLARED: "🔴", Status.ACKNOWLEDGED: "🟠", Status.INVESTIGATING: "🟠",
    Status.MITIGATED: "🟡", Status.RESOLVED: "🟢", Status.CLOSED: "⚪",
}
_PEOPLE_FIELDS = ("user", "previous", "owner", "author", "to")


def title_line(incident: Incident) -> str:
    """Plain text (headers, modal titles, notifications): not mrkdwn, so not escaped."""
    return f"{incident.id} · {incident.severity} · {incident.title}"


def _who(user: str | None) -> str:
    return mention(user) if user else "—"


def incident_card(incident: Incident, catalog: Catalog, note: str | None = None) -> Reply:
    severity = catalog.severities[incident.severity]
    pairs = [
        ("Status", f"{STATUS_EMOJI[incident.status]} {incident.status.value}"),
        ("Severity", f"{incident.severity} ({escape(severity.name)})"),
        ("Commander", _who(incident.commander)),
        ("Declared", show(incident.declared_at)),
    ]
    for role in ("scribe", "comms"):
        if role in incident.roles:
            pairs.append((role.capitalize(), mention(incident.roles[role])))
    if incident.service:
        pairs.append(("Service", render(incident.service + (f" ({incident.env})" if incident.env else ""))))
    if incident.resolved_at:
        pairs.append(("Resolved", show(incident.resolved_at)))
    blocks = [header(title_line(incident))]
    if note:
        blocks.append(section(note))
    blocks.append(fields(pairs))
    if incident.impact:
        blocks.append(section(f"*Impact:* {render(incident.impact)}"))
    if incident.resolution:
        blocks.append(section(f"*Resolution:* {render(incident.resolution)}"))
    if incident.action_items:
        items = [_action_line(item) for item in incident.action_items]
        blocks += lines_to_sections(["*Action items*", *items])
    return Reply(text=note or f"{escape(title_line(incident))} — {incident.status.value}", blocks=blocks)


def opened(incident: Incident, catalog: Catalog, by: str) -> Reply:
    """The reply to a declaration, for the whole channel."""
    reply = incident_card(incident, catalog, note=f"🚨 *{incident.id}* declared by {mention(by)}; you are the commander.")
    reply.ephemeral = False
    return reply


def _action_line(item: ActionItem) -> str:
    done = "✅" if item.done_at else "☐"
    owner = f" — {mention(item.owner)}" if item.owner else " — unassigned"
    due = f", due {item.due}" if item.due else ""
    return f"{done} {item.number}. {render(item.text)}{owner}{due}"


def incident_list(incidents: list[Incident], include_closed: bool) -> Reply:
    scope = "All incidents" if include_closed else "Open incidents"
    if not incidents:
        message = "No incidents yet." if include_closed else "No open incidents. (`/incident list --all` shows every one.)"
        return Reply(text=message, blocks=[section(message)])
    lines = [
        f"{STATUS_EMOJI[i.status]} *{i.id}* {i.severity} {i.status.value} — {render(i.title)} "
        f"(declared {show(i.declared_at)}, commander {_who(i.commander)})"
        for i in incidents
    ]
    return Reply(text=f"{scope}: {len(incidents)}", blocks=[header(f"{scope} ({len(incidents)})"),
                                                            *lines_to_sections(lines)])


def event_text(event: Event) -> str:
    """An event's neutral text as mrkdwn: escaped, with the people it names as mentions."""
    people = [event.actor, *(event.data.get(key) for key in _PEOPLE_FIELDS)]
    return render(event.text, [p for p in people if isinstance(p, str)])


def ask_commander_text(incident: Incident) -> str:
    """Every alert of the incident's group has resolved: is the incident over?"""
    who = mention(incident.commander) if incident.commander else "Commander"
    return (f"{who}: every alert of {incident.id} has resolved. If the impact is over, resolve it: "
            f"`/incident resolve {incident.id} <summary>`")


def timeline_line(event: Event) -> str:
    """One timeline entry; an event with an audit record (an ops action, evidence) names its seq, so the
    timeline leads to the audit log."""
    seq = event.data.get("audit_seq")
    audited = f" (audit #{seq})" if isinstance(seq, int) else ""
    return f"`{show(event.at)}` {mention(event.actor)} — {event_text(event)}{audited}"


def timeline_view(incident: Incident, events: list[Event]) -> Reply:
    lines = [timeline_line(e) for e in events]
    return Reply(text=f"Timeline of {incident.id}: {len(events)} events",
                 blocks=[header(f"Timeline · {title_line(incident)}"), *lines_to_sections(lines)])


def done(message: str, incident: Incident) -> Reply:
    """A short confirmation after a change, visible to the channel."""
    return Reply(text=message, blocks=[section(message), context(f"{escape(title_line(incident))} · "
                                                                 f"{incident.status.value}")],
                 ephemeral=False)


def postmortem_draft(incident: Incident, filename: str, draft: str) -> Reply:
    return Reply(
        text=f"Post-mortem draft for {incident.id}",
        blocks=[header(f"Post-mortem draft · {title_line(incident)}"),
                section(f"The draft is attached as `{filename}`: fill in root cause and lessons learned.")],
        ephemeral=False,
        file=Attachment(filename, draft, f"Post-mortem draft: {incident.id}"),
    )


# --- the incident channel ------------------------------------------------------------------------
def summary_blocks(incident: Incident, catalog: Catalog) -> list[dict]:
    """The pinned summary, edited in place after every change."""
    blocks = incident_card(incident, catalog).blocks
    value = str(incident.number)
    buttons = []
    if incident.status is Status.DECLARED:
        buttons.append(button("Acknowledge", "incident_ack", value, "primary"))
    if incident.is_open:
        buttons.append(button("Update status", "incident_update", value))
        buttons.append(button("Resolve", "incident_resolve", value, "danger"))
    if buttons:
        blocks.append({"type": "actions", "block_id": "incident_actions", "elements": buttons})
    blocks.append(context("This summary is kept up to date by opsbot · `/incident help` for commands"))
    return blocks


def topic(incident: Incident) -> str:
    head = f"{incident.severity} · {incident.status.value} · commander {_who(incident.commander)} · "
    return head + clipped(incident.title, 250 - len(head))


def alert_text(incident: Incident, catalog: Catalog, channel_id: str) -> str:
    """The runbooks' INCIDENT ALERT message (the catalog's `templates.alert`)."""
    return announcement_text("alert", incident, catalog, channel_id)


# --- announcements (the runbooks' templates) ------------------------------------------------------
def announcement_text(kind: str, incident: Incident, catalog: Catalog, channel_id: str | None, by: str | None = None,
                      text: str | None = None, eta: datetime | None = None) -> str:
    """An announcement rendered from the catalog's template. Every value is mrkdwn with user text escaped, so a
    title or update cannot ping `@channel` or inject a link; a private incident's title and impact are left out
    unless the catalog says otherwise."""
    severity = catalog.severities[incident.severity]
    shown = not incident.private or catalog.announce_private_titles
    values = {
        "id": incident.id, "severity": incident.severity, "severity_name": escape(severity.name),
        "service": render(incident.service or catalog.service_name),
        "title": render(incident.title) if shown else "",
        "impact": render(incident.impact or "being assessed") if shown else "",
        "status": incident.status.value, "commander": _who(incident.commander),
        "channel": f"<#{channel_id}>" if channel_id else "—", "private": "yes" if incident.private else "",
        "update_every": format_duration(severity.update_every), "by": _who(by),
        "update": render(text or ""), "reason": render(text or ""), "resolution": render(incident.resolution or ""),
        "eta": show(eta) if eta else "",
        "next_update": show((incident.last_update_at or incident.declared_at) + severity.update_every),
        "duration": format_duration((incident.resolved_at or incident.declared_at) - incident.declared_at),
        "postmortem_due": show((incident.resolved_at or incident.declared_at) + severity.postmortem_due),
        "open_actions": str(sum(item.done_at is None for item in incident.action_items) or ""),
    }
    source = getattr(catalog.templates, kind)
    return clipped_mrkdwn(render_message(kind, source, values), MAX_SECTION)


def clipped_mrkdwn(text: str, limit: int) -> str:
    """Already-rendered mrkdwn within a section's limit, cut at a line so no mention or entity is split."""
    if len(text) <= limit:
        return text
    kept = text[: limit - 1].rsplit("\n", 1)[0]
    return kept + "…"


# --- evidence ----------------------------------------------------------------------------------------------
def _size(size: int) -> str:
    return f"{size / 1_000_000:.1f} MB" if size >= 1_000_000 else f"{size / 1000:.1f} KB" if size >= 1000 else f"{size} B"


def _evidence_line(item: EvidenceItem) -> str:
    if not item.ok:
        return f"❌ `{item.name}` ({item.collector}, {render(item.source)}) — {render(item.error or 'failed')}"
    masked = f" · {item.redacted} masked" if item.redacted else ""
    cut = " · cut at the size cap" if item.truncated else ""
    return (f"✅ `{item.name}` ({item.collector}, {render(item.source)}) {_size(item.size)} · "
            f"sha256 `{item.sha256[:12]}…`{masked}{cut}")


def evidence_collected(incident: Incident, bundle: Bundle) -> Reply:
    ok = sum(item.ok for item in bundle.items)
    message = (f"🧾 *{bundle.ref}* of {incident.id} collected from *{bundle.env}* by {mention(bundle.created_by)}: "
               f"{ok} of {len(bundle.items)} items")
    return Reply(text=f"{bundle.ref} of {incident.id}: {ok} of {len(bundle.items)} items", ephemeral=False,
                 blocks=[section(message), *lines_to_sections([_evidence_line(i) for i in bundle.items]),
                         context(f"MANIFEST.json sha256 `{bundle.manifest_sha256}` · verify with "
                                 f"`opsbot evidence verify {incident.id}`")],
                 file=Attachment(f"{incident.id}-{bundle.ref}.tar.gz", "", f"Evidence {bundle.ref} of {incident.id}",
                                 path=bundle.archive))


def evidence_list(incident: Incident, bundles: list[Bundle]) -> Reply:
    if not bundles:
        message = f"{incident.id} has no evidence yet; collect it with `/incident evidence collect {incident.id}`."
        return Reply(text=message, blocks=[section(message)])
    lines = []
    for bundle in bundles:
        lines.append(f"*{bundle.ref}* · {bundle.env} · {show(bundle.created_at)} · {mention(bundle.created_by)} · "
                     f"manifest `{bundle.manifest_sha256[:12]}…`")
        lines += [f"    {_evidence_line(item)}" for item in bundle.items]
    return Reply(text=f"Evidence of {incident.id}: {len(bundles)} bundles",
                 blocks=[header(f"Evidence · {title_line(incident)}"), *lines_to_sections(lines)])
