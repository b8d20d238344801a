"""The status page in chat: `/status` (the page as the public sees it), and what publishing, public updates and
components set by hand answer. User text is plain spans: each renderer escapes it for its surface."""
from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

from bot.core.effects import StatusPageNotice
from bot.core.models import Incident
from bot.core.status_models import STATUS_TEXT, ComponentState, ComponentStatus, PublicIncident
from bot.core.status_view import MaintenanceView, PageView
from bot.views.model import Headline, Line, Part, Reply, Strong, line, lines, note, paragraph, reply

ICON = {ComponentStatus.OPERATIONAL: "🟢", ComponentStatus.DEGRADED_PERFORMANCE: "🟡",
        ComponentStatus.PARTIAL_OUTAGE: "🟠", ComponentStatus.MAJOR_OUTAGE: "🔴",
        ComponentStatus.UNDER_MAINTENANCE: "🔧"}


def shown_at(moment: datetime, zone: str) -> str:
    """A time in the page's zone, with its date and the zone's abbreviation."""
    return moment.astimezone(ZoneInfo(zone)).strftime("%Y-%m-%d %H:%M %Z")


def maintenance_span(m: MaintenanceView, zone: str) -> str:
    return f"{shown_at(m.scheduled_for, zone)} to {shown_at(m.scheduled_until, zone)}"


def _components(public: PublicIncident) -> str:
    return ", ".join(f"{name} {STATUS_TEXT[status].lower()}" for name, status in public.components.items()) or "none"


def published(incident: Incident, public: PublicIncident) -> Reply:
    first = public.updates[0]
    return reply(f"📣 {incident.id} is on the status page: {public.name}",
                 paragraph("📣 ", Strong(incident.id), " is on the status page as ", Strong(public.name),
                           f" — impact {public.impact.value}, {public.state.value}"),
                 paragraph(first.body), note(f"Components: {_components(public)} · public id {public.id}"),
                 ephemeral=False)


def public_posted(incident: Incident, public: PublicIncident) -> Reply:
    latest = public.updates[-1]
    return reply(f"📣 Public update on {incident.id} ({public.state.value})",
                 paragraph("📣 Public update on ", Strong(incident.id), f" ({public.state.value}): "),
                 paragraph(latest.body), note(f"Components: {_components(public)}"), ephemeral=False)


def component_set(state: ComponentState) -> Reply:
    status = state.status
    why = f" — {state.manual.reason}" if state.manual and state.manual.reason else ""
    held = "" if state.manual or status is ComponentStatus.OPERATIONAL else \
        " (still held by an open public incident or maintenance)"
    return reply(f"{ICON[status]} {state.name}: {STATUS_TEXT[status]}",
                 paragraph(ICON[status], " ", Strong(state.name), f": {STATUS_TEXT[status]}{why}{held}"),
                 ephemeral=False)


def _incident_lines(incidents: list[PublicIncident], zone: str) -> list[Line]:
    found: list[Line] = []
    for public in incidents:
        latest = public.updates[-1]
        found.append(line(Strong(public.name), f" — {public.impact.value}, {public.state.value} "
                          f"({shown_at(latest.at, zone)}): ", latest.body))
    return found


def page(view: PageView) -> Reply:
    """The page as the public sees it: overall state, components by group, open incidents, the last 14 days."""
    parts: list[Part] = [Headline(view.title), paragraph(Strong(view.description))]
    groups: dict[str | None, list[Line]] = {}
    for component in view.components:
        why = f" — {component.reason}" if component.reason else ""
        groups.setdefault(component.group, []).append(
            line(ICON[component.status], " ", component.name, f": {STATUS_TEXT[component.status]}{why}"))
    for group, items in groups.items():
        if group:
            parts.append(paragraph(Strong(group)))
        parts.append(lines(items))
    if not view.components:
        parts.append(note("No components: list them under status_page.components in opsbot.yml."))
    for heading, shown in (("Maintenance in progress", view.maintenance_now),
                           ("Scheduled maintenance", view.maintenance_upcoming)):
        if shown:
            parts += [paragraph(Strong(heading)), lines([line("🔧 ", Strong(m.name), f" — {maintenance_span(m, view.time_zone)}"
                                                              f" ({', '.join(m.components) or 'no components'})")
                                                         for m in shown])]
    if view.open_incidents:
        parts += [paragraph(Strong("Active incidents")), lines(_incident_lines(view.open_incidents, view.time_zone))]
    if view.recent:
        parts += [paragraph(Strong("Past 14 days")), lines(_incident_lines(view.recent, view.time_zone))]
    if view.url:
        parts.append(note(f"Public page: {view.url}"))
    return reply(f"{view.title}: {view.description}", *parts)


def notice_text(notice: StatusPageNotice) -> str:
    """The page and the checks disagree (bot/core/status_watch.py): what the channel is told, with the command that
    would act on it. opsbot never acts on it itself."""
    if notice.kind == "healthy":
        return (f"✅ Every check of INC-{notice.number}'s public components has passed for {notice.minutes} minutes. "
                f"Move the public incident to monitoring? `/incident update INC-{notice.number} WHAT YOU SEE --public "
                "--state monitoring`")
    return (f"⚠️ The status page says {notice.component} is operational, but its checks fail "
            f"({', '.join(notice.failing)}), and no public incident names it. To tell the public: `/incident publish "
            f"INC-n PUBLIC TITLE --components {notice.component}` (after `/incident open` if there is no incident "
            "yet). opsbot never publishes by itself.")
