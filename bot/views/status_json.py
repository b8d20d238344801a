"""The Atlassian Statuspage v2 public API's documents, from the page's read model: the same paths, field names and
values, so aggregators, monitors and widgets that read Statuspage read opsbot unchanged. Times are ISO 8601 with
the page's offset; ids are stable (components' from their names, incidents' random and stored)."""
from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

from bot.core.status_models import ComponentStatus, PublicIncident, stable_id, worst
from bot.core.status_view import EPOCH, ComponentView, MaintenanceView, PageView, maintenance_updates
from bot.views.status import maintenance_span


def _time(moment: datetime | None, zone: str) -> str | None:
    return None if moment is None else moment.astimezone(ZoneInfo(zone)).isoformat(timespec="milliseconds")


def page_doc(view: PageView) -> dict:
    return {"id": view.id, "name": view.title, "url": view.url or "", "time_zone": view.time_zone,
            "updated_at": _time(view.updated_at, view.time_zone)}


def _component(view: PageView, c: ComponentView, group_id: str | None) -> dict:
    return {"id": c.id, "name": c.name, "status": c.status.value, "created_at": _time(EPOCH, view.time_zone),
            "updated_at": _time(c.updated_at, view.time_zone), "position": c.position, "description": c.description,
            "showcase": True, "start_date": None, "group_id": group_id, "page_id": view.id, "group": False,
            "only_show_if_degraded": False}


def components_doc(view: PageView) -> list[dict]:
    """Every component, and one per group (`group: true`, its members' ids), as Statuspage lists them."""
    out: list[dict] = []
    groups: dict[str, list[ComponentView]] = {}
    for c in view.components:
        if c.group:
            groups.setdefault(c.group, []).append(c)
    group_ids = {name: stable_id("group", name) for name in groups}
    for c in view.components:
        out.append(_component(view, c, group_ids.get(c.group) if c.group else None))
    for position, (name, members) in enumerate(groups.items(), start=len(view.components) + 1):
        status: ComponentStatus = worst([m.status for m in members])
        out.append({"id": group_ids[name], "name": name, "status": status.value,
                    "created_at": _time(EPOCH, view.time_zone),
                    "updated_at": _time(max(m.updated_at for m in members), view.time_zone), "position": position,
                    "description": None, "showcase": False, "start_date": None, "group_id": None,
                    "page_id": view.id, "group": True, "only_show_if_degraded": False,
                    "components": [m.id for m in members]})
    return out


def incident_doc(view: PageView, incident: PublicIncident) -> dict:
    zone, ids = view.time_zone, view.component_ids()
    updates, before = [], dict.fromkeys(incident.components, ComponentStatus.OPERATIONAL)
    for update in incident.updates:
        affected = [{"code": ids.get(name, stable_id("component", name)), "name": name,
                     "old_status": before.get(name, ComponentStatus.OPERATIONAL).value, "new_status": status.value}
                    for name, status in update.components.items()]
        before.update(update.components)
        updates.append({"id": update.id, "status": update.state.value, "body": update.body,
                        "incident_id": incident.id, "created_at": _time(update.at, zone),
                        "updated_at": _time(update.at, zone), "display_at": _time(update.at, zone),
                        "affected_components": affected, "deliver_notifications": True, "custom_tweet": None,
                        "tweet_id": None})
    by_name = {c.name: c for c in view.components}
    return {"id": incident.id, "name": incident.name, "status": incident.state.value,
            "created_at": _time(incident.created_at, zone), "updated_at": _time(incident.updated_at, zone),
            "monitoring_at": _time(incident.monitoring_at, zone), "resolved_at": _time(incident.resolved_at, zone),
            "impact": incident.impact.value, "shortlink": _link(view, incident), "started_at": _time(incident.created_at, zone),
            "page_id": view.id, "incident_updates": list(reversed(updates)),  # newest first, as Statuspage
            "components": [_component(view, by_name[name], None) for name in incident.components if name in by_name]}


def maintenance_doc(view: PageView, m: MaintenanceView) -> dict:
    zone, by_name = view.time_zone, {c.name: c for c in view.components}
    updates = [{"id": u.id, "status": u.status, "body": u.body, "incident_id": m.id, "created_at": _time(u.at, zone),
                "updated_at": _time(u.at, zone), "display_at": _time(u.at, zone),
                "affected_components": [{"code": by_name[name].id, "name": name, "old_status": "operational",
                                         "new_status": "under_maintenance"} for name in m.components if name in by_name]
                if u.status == "in_progress" else None,
                "deliver_notifications": True, "custom_tweet": None, "tweet_id": None}
               for u in maintenance_updates(m, maintenance_span(m, zone))]
    return {"id": m.id, "name": m.name, "status": m.status, "created_at": _time(m.created_at, zone),
            "updated_at": _time(m.changed_at, zone), "monitoring_at": None,
            "resolved_at": _time(m.scheduled_until, zone) if m.status == "completed" else None,
            "impact": "maintenance", "shortlink": f"{view.url}/#maintenance-{m.id}" if view.url else f"#maintenance-{m.id}",
            "started_at": _time(m.scheduled_for, zone), "page_id": view.id,
            "incident_updates": list(reversed(updates)),
            "components": [_component(view, by_name[name], None) for name in m.components if name in by_name],
            "scheduled_for": _time(m.scheduled_for, zone), "scheduled_until": _time(m.scheduled_until, zone)}


def _link(view: PageView, incident: PublicIncident) -> str:
    return f"{view.url}/incidents/{incident.id}" if view.url else f"incidents/{incident.id}"


def documents(view: PageView) -> dict[str, dict]:
    """Every JSON document of the API, by its path under api/v2/."""
    page, status = page_doc(view), {"indicator": view.indicator, "description": view.description}
    components = components_doc(view)
    unresolved = [incident_doc(view, i) for i in view.open_incidents]
    incidents = [incident_doc(view, i) for i in view.incidents]
    maintenance = {m.id: maintenance_doc(view, m) for m in view.maintenance}
    active = [maintenance[m.id] for m in view.maintenance_now]
    upcoming = [maintenance[m.id] for m in view.maintenance_upcoming]
    return {
        "summary.json": {"page": page, "components": components, "incidents": unresolved,
                         "scheduled_maintenances": [*active, *upcoming], "status": status},
        "status.json": {"page": page, "status": status},
        "components.json": {"page": page, "components": components},
        "incidents.json": {"page": page, "incidents": incidents},
        "incidents/unresolved.json": {"page": page, "incidents": unresolved},
        # Newest first, as Statuspage lists them.
        "scheduled-maintenances.json": {"page": page, "scheduled_maintenances": list(reversed(maintenance.values()))},
        "scheduled-maintenances/upcoming.json": {"page": page, "scheduled_maintenances": upcoming},
        "scheduled-maintenances/active.json": {"page": page, "scheduled_maintenances": active},
    }
