"""Who may see an incident, and who may steer it.

A private incident (by flag, type or severity) exists only for its participants — who
opened it, who holds one of its roles or owns one of its action items, and anyone writing in its own channel (the
people invited there) — and for admins. For anybody else it does not exist: the same answer as an unknown id."""
from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import datetime

from bot.config.catalog import Catalog
from bot.core.audit import AuditRecord
from bot.core.models import Event, Incident
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


@dataclass(frozen=True)
class Control:
    """A change of an incident's course: who, which action, and the permission that governs it (None: anybody)."""

    actor: str
    action: str  # ack | status | resolve | reopen | close | severity | role
    permission: str | None = None  # a key of incident_permissions
    verb: str = ""

    def record(self, incident: Incident, events: list[Event], at: datetime, phase: str) -> AuditRecord:
        """The audit record of the change (or of its denial): what the incident's events say it became."""
        changed = {key: value for event in events for key, value in event.data.items()
                   if key in ("status", "from", "to", "role", "user", "previous")}
        return AuditRecord(at=at, attempt="inc-" + secrets.token_hex(6), phase=phase,  # type: ignore[arg-type]
                           user=self.actor, command=f"incident {self.action}", action=f"incident.{self.action}",
                           target=incident.id, args=changed)


def refused(catalog: Catalog, incident: Incident, control: Control, admin: bool) -> str | None:
    """Why `incident_permissions` refuses the change, or None: who may resolve, close, reopen, change the severity
    or assign roles (admins always may)."""
    if control.permission is None:
        return None
    who = getattr(catalog.incident_permissions, control.permission)
    # Steering: who opened it and its role holders. Not action-item owners: anybody may name themselves one.
    steering = {incident.opened_by, *incident.roles.values()}
    if who == "anyone" or admin or (who == "participants" and control.actor in steering) \
            or (who == "commander" and control.actor == incident.commander):
        return None
    whom = {"participants": "its participants", "commander": "its commander", "admins": "admins"}[who]
    return f"Only {whom} may {control.verb} {incident.id} (incident_permissions.{control.permission})."
