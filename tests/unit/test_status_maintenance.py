"""Maintenance on the status page, through the core from the console and Slack's router context: a public window
is `scheduled` at once, `in_progress` at its start (its components under_maintenance, the indicator `maintenance`)
and `completed` at its end, moved by the scheduler without anyone touching it; the Statuspage JSON and the feeds
carry it; refusals change nothing. Both stores: the PostgreSQL run is
tests/contract/test_on_postgres_status_maintenance.py."""
from __future__ import annotations

import json
from pathlib import Path

import feedparser
import jsonschema
import pytest

from bot.app import build_services
from bot.config import Catalog
from bot.core.status_models import ComponentStatus
from bot.nochat import LoggedNotifier
from bot.scheduler.engine import ReminderEngine
from bot.views.status_feeds import atom
from bot.views.status_json import documents
from bot.views.text import to_text
from commands.base import Context
from commands.router import Router

SCHEMA = json.loads((Path(__file__).parents[1] / "statuspage_v2.schema.json").read_text())
OPS = Context(user="U_OPS", source="console")
SLACK_OPS = Context(user="U_OPS", channel="C_OPS", source="slack")
VIEWER = Context(user="U_VIEW", source="console")


def catalog(public_by_default: bool = False) -> Catalog:
    return Catalog.model_validate({
        "environments": {"prod": {"protected": True, "services": {"api": {}, "web": {}}}},
        "roles": {"prod": {"operator": ["U_OPS"], "viewer": ["U_VIEW"]}},
        "status_page": {"title": "Example Status", "url": "https://status.example.com",
                        "maintenance_public": public_by_default, "components": [
                            {"name": "API", "services": ["prod/api"]}, {"name": "Website", "services": ["prod/web"]},
                            {"name": "Docs"}]}})


@pytest.fixture
def page(store, clock):
    def make(public_by_default: bool = False):
        services = build_services(store, catalog(public_by_default), clock=clock)
        engine = ReminderEngine(store, services.incidents.catalog, services.incidents, LoggedNotifier(),
                                settle_status=services.status.settle_maintenance)
        return Router(services), services, engine
    return make


def docs(services) -> dict:
    found = documents(services.status.view())
    for path, doc in found.items():
        if path.startswith("scheduled") or path == "summary.json":
            shape = "summary.json" if path == "summary.json" else "scheduled-maintenances.json"
            jsonschema.validate(doc, {**SCHEMA, "$ref": f"#/$defs/{shape}"})
    return found


def test_a_public_window_is_scheduled_then_in_progress_then_completed_without_anyone_touching_it(page, store, clock):
    router, services, engine = page()
    reply = router.handle("/maint", 'schedule prod in 3h 2h "Database upgrade" --public --components API', SLACK_OPS)
    assert reply.ok, reply.text
    assert "On the status page: scheduled now" in to_text(reply) and "components: API" in to_text(reply)
    found = docs(services)
    (upcoming,) = found["scheduled-maintenances/upcoming.json"]["scheduled_maintenances"]
    assert (upcoming["name"], upcoming["status"], upcoming["impact"]) == ("Database upgrade", "scheduled", "maintenance")
    assert found["scheduled-maintenances/active.json"]["scheduled_maintenances"] == []
    assert found["status.json"]["status"]["indicator"] == "none"
    assert "Scheduled maintenance" in to_text(router.handle("/status", "", OPS))

    clock.advance(hours=3)
    engine.tick(clock())
    found = docs(services)
    (active,) = found["scheduled-maintenances/active.json"]["scheduled_maintenances"]
    assert active["id"] == upcoming["id"] and active["status"] == "in_progress"
    assert [u["status"] for u in active["incident_updates"]] == ["in_progress", "scheduled"]
    assert active["incident_updates"][0]["affected_components"][0]["new_status"] == "under_maintenance"
    assert found["status.json"]["status"] == {"indicator": "maintenance", "description": "Service Under Maintenance"}
    statuses = {c["name"]: c["status"] for c in found["components.json"]["components"]}
    assert statuses == {"API": "under_maintenance", "Website": "operational", "Docs": "operational"}
    assert store.status_snapshot().components["API"].status is ComponentStatus.UNDER_MAINTENANCE
    engine.tick(clock())  # nothing moved: nothing written
    assert [h.cause for h in store.component_history(clock().replace(year=2000))] == ["maintenance"]

    clock.advance(hours=2)
    engine.tick(clock())
    found = docs(services)
    (done,) = found["scheduled-maintenances.json"]["scheduled_maintenances"]
    assert done["status"] == "completed" and done["resolved_at"] is not None
    assert found["scheduled-maintenances/active.json"]["scheduled_maintenances"] == []
    assert found["status.json"]["status"]["indicator"] == "none"
    assert store.status_snapshot().components["API"].status is ComponentStatus.OPERATIONAL
    history = store.component_history(clock().replace(year=2000))
    assert [(h.component, h.status, h.cause) for h in history] == [
        ("API", ComponentStatus.UNDER_MAINTENANCE, "maintenance"), ("API", ComponentStatus.OPERATIONAL, "released")]
    feed = feedparser.parse(atom(services.status.view()))
    assert [e.title for e in feed.entries][:3] == ["Database upgrade — Completed (maintenance)",
                                                   "Database upgrade — In progress (maintenance)",
                                                   "Database upgrade — Scheduled (maintenance)"]


def test_without_components_a_window_takes_its_environments_and_the_catalog_default_decides(page, store, clock):
    router, services, _ = page(public_by_default=True)
    assert router.handle("/maint", 'schedule prod in 3h 1h "Kernel patches"', OPS).ok
    assert router.handle("/maint", 'schedule prod in 6h 1h "Internal only" --private', OPS).ok
    windows = store.list_windows()
    assert [(w.title, w.public, w.components) for w in windows] == [("Kernel patches", True, ["API", "Website"]),
                                                                    ("Internal only", False, [])]
    names = [m["name"] for m in docs(services)["scheduled-maintenances.json"]["scheduled_maintenances"]]
    assert names == ["Kernel patches"]
    assert router.handle("/maint", "cancel MW-1", OPS).ok
    assert docs(services)["scheduled-maintenances.json"]["scheduled_maintenances"] == []


@pytest.mark.parametrize("text,refusal", [
    ('schedule prod in 3h 1h "x" --public --components Nope',
     "Unknown component 'Nope'. Components: API, Website, Docs."),
    ('schedule prod in 3h 1h "x" --components API', "--components names what the status page shows under maintenance"),
    ('schedule prod in 3h 1h "x" --public --private', "Say --public or --private, not both."),
])
def test_bad_requests_are_refused_and_change_nothing(page, store, text, refusal):
    router, _, _ = page()
    refused = router.handle("/maint", text, OPS)
    assert not refused.ok and refusal in refused.text
    assert store.list_windows() == [] and store.status_version() == 0


def test_someone_without_the_publish_role_cannot_put_a_window_on_the_page(page, store):
    router, _, _ = page()
    refused = router.handle("/maint", 'schedule prod in 3h 1h "x" --public', VIEWER)
    assert not refused.ok and store.list_windows() == []


def test_a_secret_in_a_public_window_title_is_redacted_before_it_is_stored(page, store):
    router, services, _ = page()
    token = "ghp_" + "Q" * 36
    assert router.handle("/maint", f'schedule prod in 3h 1h "rotate {token}" --public', OPS).ok
    assert token not in store.list_windows()[0].title
    assert token not in json.dumps(docs(services))
