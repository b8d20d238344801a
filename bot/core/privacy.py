"""Who may see an incident. A private incident (by flag, type or severity) exists only for its participants — who
opened it, who holds one of its roles or owns one of its action items, and anyone writing in its own channel (the
people invited there) — and for admins. For anybody else it does not exist: the same answer as an unknown id."""
from __future__ import annotations

from dataclasses import dataclass

from bot.config.catalog import Catalog
from bot.core.models import Incident
from bot.errors import NotFound


@dataclass(frozen=True)
class Viewer:
    user: str
    channel: str | None = None  # where they ask from: an incident's own channel makes them a participant
    admin: bool = False


def viewer_for(catalog: Catalog, user: str, channel: str | None, groups: list[str] | None = None) -> Viewer:
    """Admins are the catalog's `roles: {"*": {admin: [...]}}` (users or their Slack user groups)."""
    admins = set(catalog.roles.get("*", {}).get("admin", []))
    return Viewer(user, channel, admin=bool(admins & {user, *(groups or [])}))


def participants(incident: Incident) -> set[str]:
    return {incident.opened_by, *incident.roles.values(),
            *(item.owner for item in incident.action_items if item.owner)}


def may_see(incident: Incident, viewer: Viewer | None) -> bool:
    """None: a caller inside opsbot (the scheduler, an alert, the operator's CLI) sees everything."""
    if viewer is None or not incident.private or viewer.admin:
        return True
    return (viewer.channel is not None and viewer.channel == incident.channel) or viewer.user in participants(incident)


def seen(incident: Incident, viewer: Viewer | None) -> Incident:
    if not may_see(incident, viewer):
        raise NotFound(f"There is no incident {incident.id}.")
    return incident
