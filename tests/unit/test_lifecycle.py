"""Lifecycle rules of the incident service, with a hand-moved clock."""
from __future__ import annotations

import pytest

from bot.config import Catalog
from bot.core.incidents import IncidentService
from bot.core.models import Status
from bot.errors import ConflictError, NotFound, UsageError


@pytest.fixture
def service(store, clock) -> IncidentService:
    """The incident service over a catalog with the one environment these incidents name."""
    return IncidentService(store, Catalog.model_validate({"environments": {"prod": {}}}), clock=clock)


def open_p1(service, title="Database connection errors"):
    return service.open("U_ALICE", "p1", title, impact="checkout fails", service="api", env="prod")


def test_opener_is_commander_and_declaration_is_on_the_timeline(service):
    incident = open_p1(service)
    assert incident.id == "INC-1" and incident.commander == "U_ALICE"
    kinds = [e.kind.value for e in service.timeline(incident.number)]
    assert kinds == ["declared", "role"]


def test_full_lifecycle_stamps_each_milestone(service, clock):
    incident = open_p1(service)
    clock.advance(minutes=5)
    assert service.acknowledge(1, "U_BOB").acknowledged_at == clock.now
    clock.advance(minutes=5)
    assert service.set_status(1, "U_BOB", "investigating").investigating_at == clock.now
    clock.advance(minutes=10)
    assert service.set_status(1, "U_BOB", "mitigated", "raised pool size").mitigated_at == clock.now
    clock.advance(minutes=10)
    resolved = service.resolve(1, "U_BOB", "leaking worker fixed")
    assert resolved.status is Status.RESOLVED and resolved.resolution == "leaking worker fixed"
    closed = service.close(1, "U_ALICE")
    assert closed.status is Status.CLOSED and closed.closed_at == clock.now
    assert incident.declared_at < closed.closed_at


def test_ack_after_resolve_is_rejected_with_what_is_allowed(service):
    open_p1(service)
    service.resolve(1, "U_ALICE", "fixed")
    with pytest.raises(ConflictError, match="resolved.*Allowed now: close, reopen"):
        service.acknowledge(1, "U_ALICE")


def test_resolve_twice_is_rejected(service):
    open_p1(service)
    service.resolve(1, "U_ALICE", "fixed")
    with pytest.raises(ConflictError, match="already resolved"):
        service.resolve(1, "U_ALICE", "fixed again")


def test_close_before_resolve_is_rejected(service):
    open_p1(service)
    with pytest.raises(ConflictError, match="cannot become closed"):
        service.close(1, "U_ALICE")


def test_resolving_directly_implies_ack_and_mitigation(service, clock):
    open_p1(service)
    clock.advance(minutes=3)
    incident = service.resolve(1, "U_ALICE", "false alarm")
    assert incident.acknowledged_at == incident.mitigated_at == incident.resolved_at == clock.now


def test_reopen_only_from_resolved_and_clears_resolution_time(service):
    open_p1(service)
    with pytest.raises(ConflictError, match="only a resolved incident"):
        service.reopen(1, "U_ALICE")
    service.resolve(1, "U_ALICE", "fixed")
    reopened = service.reopen(1, "U_ALICE", "errors are back")
    assert reopened.status is Status.INVESTIGATING and reopened.resolved_at is None
    assert service.timeline(1)[-1].text == "Reopened: errors are back"


def test_closed_incident_accepts_no_more_notes(service):
    open_p1(service)
    service.resolve(1, "U_ALICE", "fixed")
    service.close(1, "U_ALICE")
    with pytest.raises(ConflictError, match="closed"):
        service.add_note(1, "U_ALICE", "late note")


def test_severity_aliases_and_changes(service):
    incident = service.open("U_ALICE", "sev1", "Outage")
    assert incident.severity == "P0"
    changed = service.set_severity(1, "U_ALICE", "P2")
    assert changed.severity == "P2"
    assert service.timeline(1)[-1].text == "Severity P0 → P2"
    with pytest.raises(ConflictError, match="already P2"):
        service.set_severity(1, "U_ALICE", "p2")


@pytest.mark.parametrize("bad", ["p9", "sev5", "high", ""])
def test_unknown_severity_is_a_usage_error(service, bad):
    with pytest.raises(UsageError, match="not a severity"):
        service.open("U_ALICE", bad, "title")


def test_title_over_150_characters_is_refused(service):
    with pytest.raises(UsageError, match="151 characters long; the limit is 150"):
        service.open("U_ALICE", "p1", "x" * 151)
    assert service.list_incidents(include_closed=True) == []


def test_roles_are_recorded_with_the_previous_holder(service):
    open_p1(service)
    incident = service.assign_role(1, "U_ALICE", "commander", "U_CAROL")
    assert incident.commander == "U_CAROL"
    event = service.timeline(1)[-1]
    assert event.data == {"role": "commander", "user": "U_CAROL", "previous": "U_ALICE", "audit_seq": 1}
    [record] = service.store.audit_records()  # a change of command is audited, in the same transaction
    assert (record.seq, record.action, record.user, record.target) == (1, "incident.role", "U_ALICE", "INC-1")
    with pytest.raises(UsageError, match="not a role"):
        service.assign_role(1, "U_ALICE", "chef", "U_CAROL")


def test_action_items_can_be_added_and_completed_once(service):
    open_p1(service)
    service.add_action_item(1, "U_ALICE", "alert on pool > 80%", owner="U_BOB")
    incident = service.complete_action_item(1, "U_BOB", 1)
    assert incident.action_items[0].done_at is not None
    with pytest.raises(ConflictError, match="already done"):
        service.complete_action_item(1, "U_BOB", 1)
    with pytest.raises(NotFound, match="no action item 2"):
        service.complete_action_item(1, "U_BOB", 2)


def test_target_is_the_channel_incident_else_the_only_open_one(service):
    service.open("U_ALICE", "p2", "first", channel="inc-1-first")
    assert service.resolve_target(None, None).number == 1
    service.open("U_ALICE", "p2", "second")
    assert service.resolve_target(None, "inc-1-first").number == 1
    with pytest.raises(UsageError, match="Several incidents are open"):
        service.resolve_target(None, None)


def test_a_channel_of_no_incident_never_falls_back_to_the_only_open_one(service):
    service.open("U_ALICE", "p2", "first")
    with pytest.raises(UsageError, match="No incident is bound to channel general; say which incident"):
        service.resolve_target(None, "general")
