"""Incidents as neutral replies: cards, lists, timelines, the confirmation of each change, post-mortem drafts and
evidence. Stored text is neutral; the renderers escape it for their surface and make people mentions."""
from __future__ import annotations

from datetime import datetime

from bot.config.catalog import Catalog
from bot.core.evidence import Bundle, EvidenceItem
from bot.core.models import ActionItem, Event, Incident, Status
from bot.timeparse import show
from bot.views.dashboards import dashboards
from bot.views.model import (
    Attachment,
    Code,
    Headline,
    Line,
    Mention,
    Reply,
    Strong,
    fields,
    line,
    lines,
    neutral,
    note,
    paragraph,
    reply,
    who,
)

STATUS_EMOJI = {
    Status.DECLARED: "🔴", Status.ACKNOWLEDGED: "🟠", Status.INVESTIGATING: "🟠",
    Status.MITIGATED: "🟡", Status.RESOLVED: "🟢", Status.CLOSED: "⚪",
}
_PEOPLE_FIELDS = ("user", "previous", "owner", "author", "to")


def title_line(incident: Incident) -> str:
    """Plain text (headers, modal titles, notifications)."""
    return f"{incident.id} · {incident.severity} · {incident.title}"


def incident_card(incident: Incident, catalog: Catalog, headline: Line | None = None) -> Reply:
    severity = catalog.severities[incident.severity]
    pairs: list[tuple[str, object]] = [
        ("Status", f"{STATUS_EMOJI[incident.status]} {incident.status.value}"),
        ("Severity", f"{incident.severity} ({severity.name})"),
        ("Commander", who(incident.commander)),
        ("Declared", show(incident.declared_at)),
    ]
    for role in ("scribe", "comms"):
        if role in incident.roles:
            pairs.append((role.capitalize(), Mention(incident.roles[role])))
    if incident.service:
        pairs.append(("Service", neutral(incident.service + (f" ({incident.env})" if incident.env else ""))))
    if incident.resolved_at:
        pairs.append(("Resolved", show(incident.resolved_at)))
    card = reply(headline or f"{title_line(incident)} — {incident.status.value}", Headline(title_line(incident)))
    if headline:
        card.parts.append(paragraph(headline))
    card.parts.append(fields(pairs))  # type: ignore[arg-type]
    if incident.impact:
        card.parts.append(paragraph(Strong("Impact:"), " ", neutral(incident.impact)))
    if incident.resolution:
        card.parts.append(paragraph(Strong("Resolution:"), " ", neutral(incident.resolution)))
    if incident.action_items:
        card.parts.append(lines([line(Strong("Action items")), *(_action_line(item) for item in incident.action_items)]))
    if incident.alert_counts:
        card.parts.append(paragraph(*alert_counts_line(incident)))
    env = catalog.environments.get(incident.env or "")
    links = env.dashboards_for(incident.service) if env is not None else []
    shown = dashboards(links)
    if shown is not None:
        card.parts.append(shown)
    return card


def alert_counts_line(incident: Incident, most: int = 10) -> Line:
    """Alerts: 580 firing in 290 groups — HighCPU 300 · DiskFull 280 (the most frequent names first)."""
    counts = sorted(incident.alert_counts.items(), key=lambda item: (-item[1], item[0]))
    names = " · ".join(f"{name} {count:,}" for name, count in counts[:most])
    more = f" · {len(counts) - most} more names" if len(counts) > most else ""
    groups = f" in {incident.alert_groups:,} groups" if incident.alert_groups > 1 else ""
    storm = "Alert storm — " if incident.storm else ""
    return line(Strong(f"{storm}Alerts:"), f" {sum(incident.alert_counts.values()):,} firing{groups} — {names}{more}")


def opened(incident: Incident, catalog: Catalog, by: str) -> Reply:
    """The reply to a declaration, for the whole channel."""
    card = incident_card(incident, catalog, line("🚨 ", Strong(incident.id), " declared by ", Mention(by),
                                                 "; you are the commander."))
    card.ephemeral = False
    return card


def _action_line(item: ActionItem) -> Line:
    done = "✅" if item.done_at else "☐"
    owner = line(" — ", Mention(item.owner)) if item.owner else " — unassigned"
    due = f", due {item.due}" if item.due else ""
    return line(f"{done} {item.number}. ", neutral(item.text), owner, due)


def incident_list(incidents: list[Incident], include_closed: bool) -> Reply:
    scope = "All incidents" if include_closed else "Open incidents"
    if not incidents:
        message = line("No incidents yet.") if include_closed else \
            line("No open incidents. (", Code("/incident list --all"), " shows every one.)")
        return reply(message, paragraph(message))
    items = [line(f"{STATUS_EMOJI[i.status]} ", Strong(i.id), f" {i.severity} {i.status.value} — ", neutral(i.title),
                  f" (declared {show(i.declared_at)}, commander ", who(i.commander), ")") for i in incidents]
    return reply(f"{scope}: {len(incidents)}", Headline(f"{scope} ({len(incidents)})"), lines(items))


def event_text(event: Event) -> Line:
    """An event's neutral text, with the people it names as mentions."""
    people = [event.actor, *(event.data.get(key) for key in _PEOPLE_FIELDS)]
    return neutral(event.text, [p for p in people if isinstance(p, str)])


def timeline_line(event: Event) -> Line:
    """One timeline entry; an event with an audit record (an ops action, evidence) names its seq, so the
    timeline leads to the audit log."""
    seq = event.data.get("audit_seq")
    audited = f" (audit #{seq})" if isinstance(seq, int) else ""
    return line(Code(show(event.at)), " ", Mention(event.actor), " — ", event_text(event), audited)


def timeline_view(incident: Incident, events: list[Event]) -> Reply:
    return reply(f"Timeline of {incident.id}: {len(events)} events", Headline(f"Timeline · {title_line(incident)}"),
                 lines(timeline_line(e) for e in events))


def done(message: Line, incident: Incident) -> Reply:
    """A short confirmation after a change, visible to the channel."""
    return reply(message, paragraph(message), note(f"{title_line(incident)} · {incident.status.value}"),
                 ephemeral=False)


# --- the confirmation of each change ------------------------------------------------------------------------
def acknowledged(incident: Incident, by: str) -> Reply:
    return done(line(Mention(by), f" acknowledged {incident.id}."), incident)


def status_set(incident: Incident, detail: str | None) -> Reply:
    return done(line(f"{incident.id} is now ", Strong(incident.status.value),
                     line(": ", neutral(detail)) if detail else "."), incident)


def update_posted(incident: Incident, by: str, text: str, eta: datetime | None) -> Reply:
    return done(line("📣 ", Strong(f"Update on {incident.id}"), " from ", Mention(by), ": ", neutral(text),
                     f" (ETA {show(eta)})" if eta else ""), incident)


def severity_set(incident: Incident, private_by_catalog: bool = False) -> Reply:
    answer = done(line(f"{incident.id} is now ", Strong(incident.severity), "."), incident)
    if private_by_catalog and not incident.private:
        # Privacy is decided at declaration (a public channel cannot be made private through Slack's API, and
        # people already read it); say so, rather than let the catalog's word seem to hold.
        answer.parts.append(note(f"{incident.severity} incidents are private by the catalog, but {incident.id} was "
                                 "opened public: its channel and records stay visible as before. If it must be "
                                 "private, open a private incident (`--private`) and continue there."))
    return answer


def role_assigned(incident: Incident, role: str, user: str) -> Reply:
    return done(line(Mention(user), f" is now {role.lower()} of {incident.id}."), incident)


def note_added(incident: Incident) -> Reply:
    return done(line(f"📝 Note added to {incident.id}."), incident)


def impact_set(incident: Incident, text: str) -> Reply:
    return done(line(f"Impact of {incident.id}: ", neutral(text)), incident)


def impact_started(incident: Incident, when: datetime) -> Reply:
    return done(line(f"Impact of {incident.id} started at {show(when)}."), incident)


def detected(incident: Incident, when: datetime) -> Reply:
    return done(line(f"{incident.id} was detected at {show(when)}."), incident)


def action_item_done(incident: Incident, number: int) -> Reply:
    return done(line(f"✅ Action item {number} of {incident.id} is done."), incident)


def action_item_added(incident: Incident) -> Reply:
    item = incident.action_items[-1]
    return done(line(f"Action item {item.number} added to {incident.id}: ", neutral(item.text)), incident)


def resolved(incident: Incident, by: str, text: str) -> Reply:
    return done(line(f"🟢 {incident.id} resolved by ", Mention(by), ": ", neutral(text)), incident)


def reopened(incident: Incident, by: str, reason: str | None, public_resolved: bool = False) -> Reply:
    answer = done(line(f"🔴 {incident.id} reopened by ", Mention(by), line(": ", neutral(reason)) if reason else "."),
                  incident)
    if public_resolved:  # a person decides what the public reads
        answer.parts.append(note(f"The status page still says it is resolved. To tell the public it is back: "
                                 f"`/incident update {incident.id} WHAT YOU SEE --public`"))
    return answer


def closed(incident: Incident) -> Reply:
    return done(line(f"{incident.id} closed."), incident)


def postmortem_marked_done(incident: Incident, by: str) -> Reply:
    return done(line(f"📘 Post-mortem of {incident.id} marked done by ", Mention(by), "; its reminders stop."),
                incident)


def postmortem_draft(incident: Incident, filename: str, draft: str) -> Reply:
    return reply(f"Post-mortem draft for {incident.id}", Headline(f"Post-mortem draft · {title_line(incident)}"),
                 paragraph("The draft is attached as ", Code(filename), ": fill in root cause and lessons learned."),
                 ephemeral=False, file=Attachment(filename, draft, f"Post-mortem draft: {incident.id}"))


# --- evidence ----------------------------------------------------------------------------------------------
def _size(size: int) -> str:
    return f"{size / 1_000_000:.1f} MB" if size >= 1_000_000 else f"{size / 1000:.1f} KB" if size >= 1000 else f"{size} B"


def _evidence_line(item: EvidenceItem) -> Line:
    if not item.ok:
        return line("❌ ", Code(item.name), f" ({item.collector}, ", neutral(item.source), ") — ",
                    neutral(item.error or "failed"))
    masked = f" · {item.redacted} masked" if item.redacted else ""
    cut = " · cut at the size cap" if item.truncated else ""
    return line("✅ ", Code(item.name), f" ({item.collector}, ", neutral(item.source), f") {_size(item.size)} · sha256 ",
                Code(f"{item.sha256[:12]}…"), masked, cut)


def evidence_collected(incident: Incident, bundle: Bundle) -> Reply:
    ok = sum(item.ok for item in bundle.items)
    return reply(f"{bundle.ref} of {incident.id}: {ok} of {len(bundle.items)} items",
                 paragraph("🧾 ", Strong(bundle.ref), f" of {incident.id} collected from ", Strong(bundle.env),
                           " by ", Mention(bundle.created_by), f": {ok} of {len(bundle.items)} items"),
                 lines(_evidence_line(i) for i in bundle.items),
                 note("MANIFEST.json sha256 ", Code(bundle.manifest_sha256), " · verify with ",
                      Code(f"opsbot evidence verify {incident.id}")),
                 ephemeral=False,
                 file=Attachment(f"{incident.id}-{bundle.ref}.tar.gz", "", f"Evidence {bundle.ref} of {incident.id}",
                                 path=bundle.archive))


def evidence_list(incident: Incident, bundles: list[Bundle]) -> Reply:
    if not bundles:
        message = line(f"{incident.id} has no evidence yet; collect it with ",
                       Code(f"/incident evidence collect {incident.id}"), ".")
        return reply(message, paragraph(message))
    items: list[Line] = []
    for bundle in bundles:
        items.append(line(Strong(bundle.ref), f" · {bundle.env} · {show(bundle.created_at)} · ",
                          Mention(bundle.created_by), " · manifest ", Code(f"{bundle.manifest_sha256[:12]}…")))
        items += [line("    ", _evidence_line(item)) for item in bundle.items]
    return reply(f"Evidence of {incident.id}: {len(bundles)} bundles", Headline(f"Evidence · {title_line(incident)}"),
                 lines(items))
