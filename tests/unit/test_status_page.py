"""The status page through the core, from two surfaces (the console and Slack's router context): publishing, public
updates, components by hand, the public resolution, and every refusal — which changes nothing. Both stores: the
PostgreSQL run is tests/contract/test_on_postgres_status_page.py."""
from __future__ import annotations

import re

import pytest

from bot.app import build_services
from bot.config import Catalog
from bot.core.models import EventKind
from bot.core.status_models import ComponentStatus, Impact, PublicState
from bot.views.text import to_text
from commands.base import Context
from commands.router import Router

CONSOLE = Context(user="U_RESP", source="console")
SLACK = Context(user="U_RESP", channel="C_OPS", source="slack")
VIEWER = Context(user="U_VIEW", source="console")
SECRET = "ghp_" + "Z" * 36


def status_catalog() -> Catalog:
    return Catalog.model_validate({
        "environments": {"prod": {"protected": True, "services": {"api": {}, "web": {}}}, "staging": {}},
        "roles": {"prod": {"responder": ["U_RESP"], "viewer": ["U_VIEW"]}},
        "incident_types": {"security": {"private": True}},
        "status_page": {"title": "Example Status", "url": "https://status.example.com", "components": [
            {"name": "API", "group": "Platform", "services": ["prod/api"]},
            {"name": "Website", "services": ["prod/web"]},
            {"name": "Docs"}]},
    })


@pytest.fixture
def status(store, clock):
    services = build_services(store, status_catalog(), clock=clock)
    return Router(services), services, store


def run(router, text, ctx=CONSOLE, command="/incident"):
    return router.handle(command, text, ctx)


def opened(router, text="p1 Database pool exhausted --env prod --service api"):
    reply = run(router, "open " + text)
    assert reply.ok, reply.text
    return reply


def shown(store) -> dict[str, ComponentStatus]:
    return {name: state.status for name, state in store.status_snapshot().components.items()}


def test_publishing_from_the_console_puts_the_incident_on_the_page_audited_and_on_the_timeline(status):
    router, services, store = status
    opened(router)
    reply = run(router, "publish INC-1 Elevated API errors")
    assert reply.ok, reply.text
    public = store.public_incident_for(1)
    # Impact from the severity (P1: major), components from the incident's service, the catalog's first update.
    assert (public.name, public.impact, public.state) == ("Elevated API errors", Impact.MAJOR, PublicState.INVESTIGATING)
    assert public.components == {"API": ComponentStatus.PARTIAL_OUTAGE}
    assert public.updates[0].body.startswith("We are investigating an issue affecting API.")
    assert re.fullmatch("[a-z0-9]{12}", public.id)  # random: it says nothing of internal numbering
    assert shown(store) == {"API": ComponentStatus.PARTIAL_OUTAGE}
    event = next(e for e in store.timeline(1) if e.kind is EventKind.PUBLIC)
    record = next(r for r in store.audit_records() if r.action == "status.publish")
    assert (record.user, record.target, record.phase, record.incident) == ("U_RESP", "INC-1", "succeeded", 1)
    assert event.data["audit_seq"] == record.seq and event.data["public_id"] == public.id
    history = store.component_history(public.created_at)
    assert [(h.component, h.status, h.cause) for h in history] == [
        ("API", ComponentStatus.PARTIAL_OUTAGE, f"incident {public.id}")]
    view = services.status.view()
    assert (view.indicator, view.description) == ("major", "Partial System Outage")


def test_publishing_from_slack_with_components_impact_and_state(status):
    router, _services, store = status
    opened(router, "p2 Slow pages --env prod")
    reply = run(router, 'publish INC-1 "Slow website" --components website,Docs --impact critical --state identified',
                SLACK)
    assert reply.ok, reply.text
    public = store.public_incident_for(1)
    assert (public.impact, public.state) == (Impact.CRITICAL, PublicState.IDENTIFIED)
    assert public.components == {"Website": ComponentStatus.MAJOR_OUTAGE, "Docs": ComponentStatus.MAJOR_OUTAGE}
    text = to_text(run(router, "", SLACK, "/status"))
    assert "Major Service Outage" in text and "Slow website" in text and "Website: Major Outage" in text
    assert "Slow pages" not in text  # the internal title never reaches the page


@pytest.mark.parametrize("setup, command, ctx, message", [
    ("p1 Leaked keys --env prod --type security", "publish INC-1 Outage", CONSOLE,
     "INC-1 is private (its type security is private); a private incident is never published"),
    ("p1 Hidden --env prod --private", "publish INC-1 Outage", CONSOLE, "it was opened as private"),
    ("p1 Pool --env prod", "publish INC-1 Outage --components API,Queue", CONSOLE,
     "Unknown component 'Queue'. Components: API, Website, Docs."),
    ("p1 Pool --env prod", "publish INC-1 Outage --impact huge", CONSOLE,
     "'huge' is not an impact; use minor|major|critical."),
    ("p1 Pool --env prod", "publish INC-1 Outage --state resolved", CONSOLE,
     "'resolved' is not a public state; use investigating|identified|monitoring."),
    ("p1 Pool --env prod", "publish INC-1", CONSOLE, "Missing the public title"),
    ("p1 Pool --env prod", "publish INC-1 Outage", VIEWER,
     "You need the responder role in prod to publish INC-1; you have the viewer role."),
    # 10,000 characters of title or text: refused with the reason, never cut or stored
    ("p1 Pool --env prod", "publish INC-1 " + "<b>x</b>" * 1250, CONSOLE, "characters long; the limit is"),
    ("p1 Pool --env prod", "publish INC-1 Outage --text '" + "x" * 10_000 + "'", CONSOLE,
     "10000 characters long; the limit is 3000."),
])
def test_refusals_say_why_and_change_nothing(status, setup, command, ctx, message):
    router, _, store = status
    opened(router, setup)
    version, events = store.status_version(), len(store.timeline(1))
    reply = run(router, command, ctx)
    assert not reply.ok and message in reply.text, reply.text
    assert store.status_version() == version and store.public_incident_for(1) is None
    assert len(store.timeline(1)) == events and shown(store) == {}


def test_a_refused_publication_is_audited_as_denied(status):
    router, _, store = status
    opened(router)
    assert not run(router, "publish INC-1 Outage", VIEWER).ok
    assert [(r.user, r.phase, r.action) for r in store.audit_records() if r.action.startswith("status.")] == [
        ("U_VIEW", "denied", "status.publish")]


def test_a_public_update_moves_state_and_components_and_is_the_internal_update_too(status, clock):
    router, _, store = status
    opened(router)
    assert run(router, "publish INC-1 API errors").ok
    clock.advance(minutes=10)
    reply = run(router, "update INC-1 Fix deployed, watching --public --state monitoring --component API=degraded_performance,"
                        "website=partial_outage", SLACK)
    assert reply.ok, reply.text
    public = store.public_incident_for(1)
    assert public.state is PublicState.MONITORING and public.monitoring_at == clock.now
    assert [u.body for u in public.updates][1] == "Fix deployed, watching"
    assert shown(store) == {"API": ComponentStatus.DEGRADED_PERFORMANCE, "Website": ComponentStatus.PARTIAL_OUTAGE}
    kinds = [e.kind for e in store.timeline(1)]
    assert EventKind.UPDATE in kinds and kinds.count(EventKind.PUBLIC) == 2


@pytest.mark.parametrize("command, message", [
    ("update INC-1 text --public --component Queue=major_outage", "Unknown component 'Queue'"),
    ("update INC-1 text --public --component API", "'API' is not NAME=STATUS"),
    ("update INC-1 text --public --component API=under_maintenance", "'under_maintenance' is not a component status"),
    ("update INC-1 text --public --state resolved", "'resolved' is not a public state"),
    ("update INC-1 text --state monitoring", "--state change the status page: add --public."),
    ("update INC-1 " + "<script>alert(1)</script>" * 400 + " --public", "characters long; the limit is"),
])
def test_a_bad_public_update_changes_neither_the_page_nor_the_timeline(status, command, message):
    router, _, store = status
    opened(router)
    assert run(router, "publish INC-1 API errors").ok
    version, events = store.status_version(), len(store.timeline(1))
    reply = run(router, command)
    assert not reply.ok and message in reply.text, reply.text
    assert store.status_version() == version and len(store.timeline(1)) == events


def test_a_public_update_of_an_unpublished_incident_is_refused(status):
    router, _, store = status
    opened(router)
    reply = run(router, "update INC-1 all good --public")
    assert not reply.ok and "INC-1 is not on the status page; publish it first" in reply.text
    assert not [e for e in store.timeline(1) if e.kind is EventKind.UPDATE]


def test_resolving_posts_the_public_resolution_and_releases_components_held_by_nobody_else(status, clock):
    router, services, store = status
    opened(router)
    opened(router, "p2 Website slow --env prod --service web")
    assert run(router, "publish INC-1 API errors --components API,Website").ok
    assert run(router, "publish INC-2 Website slow").ok
    clock.advance(minutes=30)
    reply = run(router, 'resolve INC-1 pool raised to 50 --public-text "Fixed: error rates are back to normal."')
    assert reply.ok, reply.text
    public = store.public_incident_for(1)
    assert public.state is PublicState.RESOLVED and public.resolved_at == clock.now
    assert public.updates[-1].body == "Fixed: error rates are back to normal."
    assert store.get_incident(1).resolution == "pool raised to 50"
    # Website stays degraded: INC-2 (minor) still holds it.
    assert shown(store) == {"API": ComponentStatus.OPERATIONAL, "Website": ComponentStatus.DEGRADED_PERFORMANCE}
    assert run(router, "resolve INC-2 cache warmed").ok
    assert store.public_incident_for(2).updates[-1].body == "This incident has been resolved."
    assert shown(store)["Website"] is ComponentStatus.OPERATIONAL
    assert services.status.view().indicator == "none"
    released = [h for h in store.component_history(public.created_at) if h.cause == "released"]
    assert {h.component for h in released} == {"API", "Website"}


def test_public_text_on_an_unpublished_incident_is_refused_before_resolving(status):
    router, _, store = status
    opened(router)
    reply = run(router, 'resolve INC-1 fixed --public-text "All good"')
    assert not reply.ok and "not on the status page" in reply.text
    assert store.get_incident(1).status.value == "declared"


def test_a_component_set_by_hand_counts_with_incidents_and_operational_hands_it_back(status):
    router, services, store = status
    reply = run(router, 'component Docs under_maintenance "search index rebuild"', SLACK, "/status")
    assert reply.ok, reply.text
    assert shown(store) == {"Docs": ComponentStatus.UNDER_MAINTENANCE}
    assert services.status.view().indicator == "maintenance"
    assert "Docs: Under Maintenance — search index rebuild" in to_text(run(router, "", CONSOLE, "/status"))
    opened(router)
    assert run(router, "publish INC-1 Docs down --components Docs --impact minor").ok
    assert shown(store)["Docs"] is ComponentStatus.DEGRADED_PERFORMANCE  # worse than maintenance
    assert run(router, "component docs operational", CONSOLE, "/status").ok
    assert shown(store)["Docs"] is ComponentStatus.DEGRADED_PERFORMANCE  # the incident still holds it
    assert run(router, "resolve INC-1 rebuilt").ok
    assert shown(store)["Docs"] is ComponentStatus.OPERATIONAL
    records = [(r.action, r.target, r.args.get("status")) for r in store.audit_records() if r.action == "status.component"]
    assert records == [("status.component", "Docs", "under_maintenance"), ("status.component", "Docs", "operational")]


@pytest.mark.parametrize("text, ctx, message", [
    ("component Queue major_outage", CONSOLE, "Unknown component 'Queue'"),
    ("component API broken", CONSOLE, "'broken' is not a component status"),
    ("component API", CONSOLE, "Give the component and its status."),
    ("component API major_outage", VIEWER, "You need the responder role in prod to set the status of API"),
])
def test_bad_component_changes_are_refused(status, text, ctx, message):
    router, _, store = status
    reply = run(router, text, ctx, "/status")
    assert not reply.ok and message in reply.text, reply.text
    assert store.status_version() == 0 and shown(store) == {}


def test_secrets_are_redacted_before_they_are_stored_or_shown(status):
    router, _, store = status
    opened(router)
    assert run(router, f"publish INC-1 API down token {SECRET} --text 'rotating {SECRET} now'").ok
    assert run(router, f"update INC-1 still {SECRET} --public").ok
    public = store.public_incident_for(1)
    stored = public.model_dump_json() + "".join(e.model_dump_json() for e in store.timeline(1))
    assert SECRET not in stored and public.name == "API down token ***"  # masked where it stood
    assert SECRET not in to_text(run(router, "", CONSOLE, "/status"))


def test_publishing_twice_is_refused(status):
    router, _, store = status
    opened(router)
    assert run(router, "publish INC-1 API errors").ok
    reply = run(router, "publish INC-1 Again")
    assert not reply.ok and "INC-1 is already published" in reply.text
    assert store.public_incident_for(1).name == "API errors"


def test_a_reopened_incident_goes_back_on_the_page_only_when_a_person_says_so(status):
    router, _, store = status
    opened(router)
    assert run(router, "publish INC-1 Elevated API errors --impact major").ok
    assert run(router, "resolve INC-1 pool raised --public-text 'Fixed.'").ok
    assert shown(store)["API"] is ComponentStatus.OPERATIONAL
    quiet = run(router, "reopen INC-1 errors are back")
    assert quiet.ok and "The status page still says it is resolved" in to_text(quiet)
    assert store.public_incident_for(1).state is PublicState.RESOLVED  # nothing said to the public by itself
    back = run(router, "update INC-1 Errors have returned; we are investigating --public", SLACK)
    assert back.ok, back.text
    public = store.public_incident_for(1)
    assert public.state is PublicState.INVESTIGATING and public.resolved_at is None
    assert shown(store)["API"] is ComponentStatus.PARTIAL_OUTAGE
    assert run(router, "resolve INC-1 really fixed").ok
    again = run(router, "reopen INC-1 still failing --public-text 'We are investigating a recurrence.'")
    assert again.ok, again.text
    public = store.public_incident_for(1)
    assert public.state is PublicState.INVESTIGATING and public.updates[-1].body == "We are investigating a recurrence."
    refused = run(router, "reopen INC-1 --public-text 'x'")
    assert not refused.ok  # it is open: nothing to reopen


def test_reopening_on_the_page_needs_the_publish_role_and_changes_nothing_without_it(status):
    router, _, store = status
    opened(router)
    assert run(router, "publish INC-1 Elevated API errors").ok
    assert run(router, "resolve INC-1 fixed").ok
    refused = run(router, "reopen INC-1 back --public-text 'Recurrence.'", VIEWER)
    assert not refused.ok and "role" in refused.text
    assert store.get_incident(1).status.value == "resolved"  # the internal incident was not reopened either
    assert store.public_incident_for(1).state is PublicState.RESOLVED
