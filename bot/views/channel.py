"""The incident's channel in Slack: its pinned summary (kept up to date), its topic, the runbooks' announcements
rendered from the catalog's mrkdwn templates, and the question to the commander when the alerts resolve. Everything
a user typed is escaped here and people become mentions here."""
from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from bot.config.catalog import Catalog
from bot.config.messages import render_message
from bot.core.models import Incident, Status
from bot.timeparse import format_duration, show
from bot.views.blocks import MAX_SECTION, button, context
from bot.views.incidents import incident_card
from bot.views.mrkdwn import clipped, escape, mention, render


def _who(user: str | None) -> str:
    return mention(user) if user else "—"


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


def alert_text(incident: Incident, catalog: Catalog, channel_id: str, oncall: Sequence[str] = ()) -> str:
    """The runbooks' INCIDENT ALERT message (the catalog's `templates.alert`), naming who is paged first (`oncall`:
    level 1 as paged now); a storm's, its own (edited as groups join)."""
    if incident.storm:
        return storm_text(incident, catalog, channel_id)
    return announcement_text("alert", incident, catalog, channel_id, oncall=list(oncall))


def storm_text(incident: Incident, catalog: Catalog, channel_id: str | None, most: int = 15) -> str:
    """ALERT STORM: the groups and alerts that joined, counted per alert name (names escaped: they come from the
    alert sources), and where to follow it."""
    severity = catalog.severities[incident.severity]
    counts = sorted(incident.alert_counts.items(), key=lambda item: (-item[1], item[0]))
    rows = [f"• {escape(name)}: {count:,}" for name, count in counts[:most]]
    if len(counts) > most:
        rows.append(f"• … {len(counts) - most} more alert names: {sum(c for _, c in counts[most:]):,}")
    text = "\n".join([
        f"*ALERT STORM - {incident.severity} ({escape(severity.name)})* {incident.id}: {render(incident.title)}",
        (f"*Status:* {incident.status.value} · *Groups:* {incident.alert_groups:,} · "
         f"*Alerts firing:* {sum(incident.alert_counts.values()):,}"),
        *rows,
        f"*Channel:* {f'<#{channel_id}>' if channel_id else '—'} · *Commander:* {_who(incident.commander)}",
    ])
    return clipped_mrkdwn(text, MAX_SECTION)


# --- announcements (the runbooks' templates) ------------------------------------------------------
def announcement_text(kind: str, incident: Incident, catalog: Catalog, channel_id: str | None, by: str | None = None,
                      text: str | None = None, eta: datetime | None = None, oncall: list[str] | None = None) -> str:
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
        "oncall": ", ".join(_who(user) for user in oncall or []),
        "eta": show(eta) if eta else (show(incident.eta) if incident.eta and kind == "alert" else ""),
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


def ask_commander_text(incident: Incident) -> str:
    """Every alert of the incident's group has resolved: is the incident over?"""
    who = mention(incident.commander) if incident.commander else "Commander"
    return (f"{who}: every alert of {incident.id} has resolved. If the impact is over, resolve it: "
            f"`/incident resolve {incident.id} <summary>`")
