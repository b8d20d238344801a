"""The status page as the public sees it: one read model every surface shows — `/status` in chat, the HTML page,
the Statuspage-compatible JSON, the static copy. It holds nothing the public may not read (no internal title,
number, note, person)."""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

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

    @property
    def recent(self) -> list[PublicIncident]:
        """Resolved incidents of the last 14 days, newest first."""
        return [i for i in self.incidents if not i.is_open and i.updated_at >= self.now - RECENT]

    def component_ids(self) -> dict[str, str]:
        return {c.name: c.id for c in self.components}

    def incident(self, public_id: str) -> PublicIncident | None:
        return next((i for i in self.incidents if i.id == public_id), None)


def page_view(page_settings, snapshot: StatusSnapshot, incidents: list[PublicIncident], now: datetime,
              changes: list[HistoryEntry] | None = None, history: list[PublicIncident] | None = None) -> PageView:
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
    level = indicator([c.status for c in components], snapshot.open_incidents, bool(snapshot.maintenance))
    return PageView(id=stable_id("page", page_settings.title), title=page_settings.title, url=page_settings.url,
                    time_zone=page_settings.time_zone, updated_at=max(times, default=EPOCH), indicator=level,
                    description=INDICATOR_TEXT[level], components=components,
                    open_incidents=snapshot.open_incidents, incidents=incidents, version=snapshot.version, now=now,
                    history=history if history is not None else incidents)
