"""The status page as the public sees it: one read model every surface shows — `/status` in chat, the HTML page,
the Statuspage-compatible JSON, the static copy. It holds nothing the public may not read (no internal title,
number, note, person)."""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from bot.core.reminders import Window
from bot.core.status_models import (
    INDICATOR_TEXT,
    ComponentStatus,
    HistoryEntry,
    PublicIncident,
    StatusSnapshot,
    indicator,
    stable_id,
)
from bot.core.status_uptime import Uptime, uptime

EPOCH = datetime(2000, 1, 1, tzinfo=UTC)  # a component that never changed: its created_at / updated_at
RECENT = timedelta(days=14)  # the page lists the incidents of the last 14 days
LISTED = 50  # incidents.json lists the 50 most recent, as Statuspage does


@dataclass(frozen=True)
class ComponentView:
    id: str
    name: str
    group: str | None
    description: str | None
    status: ComponentStatus
    position: int
    updated_at: datetime
    reason: str | None = None  # why a person set it (public text)
    uptime: Uptime | None = None  # the last 90 days, for the page's bars


@dataclass(frozen=True)
class MaintenanceView:
    """A public maintenance window as the page shows it: Statuspage's scheduled maintenance."""

    id: str
    name: str
    status: str  # scheduled | in_progress | completed (by the clock: nobody has to move it)
    scheduled_for: datetime
    scheduled_until: datetime
    created_at: datetime
    components: list[str]

    @property
    def changed_at(self) -> datetime:
        """When it last moved: created, started, or ended."""
        return {"scheduled": self.created_at, "in_progress": self.scheduled_for}.get(self.status, self.scheduled_until)


@dataclass(frozen=True)
class MaintenanceUpdate:
    id: str
    status: str
    body: str
    at: datetime


# Statuspage's own wording for a scheduled maintenance's automatic updates.
_MAINTENANCE_TEXT = {"in_progress": "Scheduled maintenance is currently in progress. We will provide updates as "
                                    "necessary.",
                     "completed": "The scheduled maintenance has been completed."}


def maintenance_updates(m: MaintenanceView, shown: str) -> list[MaintenanceUpdate]:
    """Its updates so far, oldest first: scheduled, then in progress at its start, completed at its end (`shown`:
    the window's times as the page prints them)."""
    steps = ["scheduled"] + {"scheduled": [], "in_progress": ["in_progress"]}.get(m.status, ["in_progress", "completed"])
    at = {"scheduled": m.created_at, "in_progress": m.scheduled_for, "completed": m.scheduled_until}
    return [MaintenanceUpdate(id=stable_id("maintenance-update", f"{m.id}:{step}"), status=step,
                              body=_MAINTENANCE_TEXT.get(step, f"{m.name} is scheduled for {shown}."), at=at[step])
            for step in steps]


def maintenance_view(window: Window, now: datetime) -> MaintenanceView:
    status = {"upcoming": "scheduled", "active": "in_progress"}.get(window.state(now), "completed")
    return MaintenanceView(id=stable_id("maintenance", str(window.id)), name=window.title, status=status,
                           scheduled_for=window.starts_at, scheduled_until=window.ends_at,
                           created_at=window.created_at, components=list(window.components))


@dataclass(frozen=True)
class PageView:
    id: str
    title: str
    url: str | None
    time_zone: str
    updated_at: datetime
    indicator: str  # none | minor | major | critical | maintenance
    description: str
    components: list[ComponentView]
    open_incidents: list[PublicIncident]  # newest first
    incidents: list[PublicIncident]  # the most recent (open and resolved), newest first
    version: int
    now: datetime
    history: list[PublicIncident] = field(default_factory=list)  # every public incident kept, newest first
    maintenance: list[MaintenanceView] = field(default_factory=list)  # public windows, soonest first

    @property
    def maintenance_now(self) -> list[MaintenanceView]:
        return [m for m in self.maintenance if m.status == "in_progress"]

    @property
    def maintenance_upcoming(self) -> list[MaintenanceView]:
        return [m for m in self.maintenance if m.status == "scheduled"]

    @property
    def recent(self) -> list[PublicIncident]:
        """Resolved incidents of the last 14 days, newest first."""
        return [i for i in self.incidents if not i.is_open and i.updated_at >= self.now - RECENT]

    def component_ids(self) -> dict[str, str]:
        return {c.name: c.id for c in self.components}

    def incident(self, public_id: str) -> PublicIncident | None:
        return next((i for i in self.incidents if i.id == public_id), None)


def page_view(page_settings, snapshot: StatusSnapshot, incidents: list[PublicIncident], now: datetime,
              changes: list[HistoryEntry] | None = None, history: list[PublicIncident] | None = None,
              windows: list[Window] | None = None) -> PageView:
    """`page_settings`: the catalog's status_page; `incidents`: the most recent public incidents; `changes`: the
    components' history of the last 90 days (uptime bars); `history`: the public incidents for /history."""
    components = []
    for position, component in enumerate(page_settings.components, start=1):
        state = snapshot.components.get(component.name)
        status = state.status if state else ComponentStatus.OPERATIONAL
        if component.name in snapshot.maintenance and status is ComponentStatus.OPERATIONAL:
            status = ComponentStatus.UNDER_MAINTENANCE
        components.append(ComponentView(
            id=stable_id("component", component.name), name=component.name, group=component.group,
            description=component.description, status=status, position=position,
            updated_at=(state.since if state and state.since else EPOCH),
            reason=state.manual.reason if state and state.manual else None,
            uptime=uptime(changes, component.name, now, page_settings.time_zone) if changes is not None else None))
    times = [c.updated_at for c in components] + [i.updated_at for i in incidents]
    shown = [maintenance_view(w, now) for w in sorted(windows or [], key=lambda w: w.starts_at)]
    under_way = bool(snapshot.maintenance) or any(m.status == "in_progress" for m in shown)
    level = indicator([c.status for c in components], snapshot.open_incidents, under_way)
    return PageView(id=stable_id("page", page_settings.title), title=page_settings.title, url=page_settings.url,
                    time_zone=page_settings.time_zone, updated_at=max(times, default=EPOCH), indicator=level,
                    description=INDICATOR_TEXT[level], components=components,
                    open_incidents=snapshot.open_incidents, incidents=incidents, version=snapshot.version, now=now,
                    history=history if history is not None else incidents,
                    maintenance=shown)
