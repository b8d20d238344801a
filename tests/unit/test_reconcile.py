"""The reconciliation of actions opsbot stopped in the middle of (bot/core/reconcile.py), on the fake platform: an
attempt left `started` is settled once its lease is free, recorded `reconciled` by the scheduler, put on its
incident's timeline and told to the audit and incident channels."""
from __future__ import annotations

from datetime import timedelta

import pytest

from bot.app import build_services
from bot.config import Catalog
from bot.core.audit import AuditRecord, attempts, outcome
from bot.core.models import EventKind
from bot.core.ops import Actor
from bot.scheduler.engine import ReminderEngine
from tests.fakes.platform import FakePlatform
from tests.unit.test_scheduler import RecordingNotifier


class Crash(BaseException):
    """opsbot dying mid-way: nothing of it catches this, so no outcome is written."""


class CrashingPlatform(FakePlatform):
    def rollback(self, service: str) -> str:
        self.leftover[service] = f"restored the old container of {service}"
        raise Crash


class CrashingScripts:
    def run(self, action, params):
        raise Crash


def catalog() -> Catalog:
    return Catalog.model_validate({
        "audit_channel": "C_AUDIT",
        "environments": {"dev": {"platform": {"kind": "kubernetes", "namespace": "shop"},
                                 "services": {"api": {"max_replicas": 3}},
                                 "runbook": {"migrate": {"argv": ["true"]}}}}})


@pytest.fixture
def platform() -> CrashingPlatform:
    return CrashingPlatform("dev")


@pytest.fixture
def services(store, clock, platform):
    services = build_services(store, catalog(), clock=clock, platform_for=lambda name, env: platform)
    services.ops.scripts = CrashingScripts()
    return services


def crash(ops, action: str, target: str, incident: int | None = None) -> None:
    with pytest.raises(Crash):
        ops.request(Actor("U_OPS", "C1", f"/ops {action} {target} dev", incident=incident), "dev", action, target, {})


def steps(store, phase: str) -> list[AuditRecord]:
    return [r for r in store.audit_records() if r.phase == phase]


def test_a_rollback_cut_short_is_settled_by_the_platform_and_recorded_once(services, store, platform):
    crash(services.ops, "rollback", "api")
    [started] = steps(store, "started")
    assert outcome([r for r in store.audit_records() if r.attempt == started.attempt]) == "outcome unknown"
    [done] = services.ops.reconcile()
    record = done.record
    assert (record.attempt, record.phase, record.user, record.target) == (started.attempt, "reconciled", "scheduler",
                                                                         "api")
    assert record.excerpt == "opsbot stopped mid-way; restored the old container of api"
    assert outcome(attempts(store.audit_records())[-1]) == "reconciled"
    assert platform.reconciled == ["api"]
    assert services.ops.reconcile() == [] and platform.reconciled == ["api"]  # settled once


def test_an_attempt_whose_lease_is_held_is_left_alone_until_the_lease_is_free(services, store, clock, platform):
    crash(services.ops, "rollback", "api")
    # the dead process's lease, as a kill leaves it: held until it lapses
    assert store.acquire_lease("dev/api", "@U_OPS (rollback since 09:00 UTC)", "a-dead",
                               clock() + timedelta(minutes=15), clock()) is None
    assert services.ops.reconcile() == [] and platform.reconciled == []
    clock.advance(minutes=16)
    [done] = services.ops.reconcile()
    assert done.record.excerpt == "opsbot stopped mid-way; restored the old container of api"


def test_an_attempt_that_finishes_while_its_lease_is_held_is_not_reconciled(services, store, clock, platform):
    crash(services.ops, "rollback", "api")
    [started] = steps(store, "started")
    store.acquire_lease("dev/api", "@U_OPS (rollback since 09:00 UTC)", started.attempt,
                        clock() + timedelta(minutes=15), clock())
    assert services.ops.reconcile() == []
    store.append_audit(started.model_copy(update={"phase": "succeeded", "seq": 0, "hash": "", "prev_hash": ""}))
    store.release_lease("dev/api", started.attempt)
    assert services.ops.reconcile() == [] and platform.reconciled == [] and steps(store, "reconciled") == []


def test_nothing_left_half_done_reads_outcome_unknown(services, store, platform):
    platform.rollback = lambda service: (_ for _ in ()).throw(Crash())  # dies before changing anything
    crash(services.ops, "rollback", "api")
    [done] = services.ops.reconcile()
    assert done.record.excerpt == "opsbot stopped mid-way; nothing to do: outcome unknown, check api in dev"


def test_a_runbook_run_cut_short_has_an_unknown_outcome_and_no_platform_call(services, store, platform):
    crash(services.ops, "run", "migrate")
    [done] = services.ops.reconcile()
    assert done.record.action == "run" and "outcome unknown" in (done.record.excerpt or "")
    assert "runbook action's process ended with it" in (done.record.excerpt or "")
    assert platform.reconciled == []


def test_the_outcome_goes_on_the_incidents_timeline_and_to_the_audit_and_incident_channels(services, store, clock):
    incident = services.incidents.open("U_OPS", "P2", "Checkout slow", channel="C_INC")
    crash(services.ops, "rollback", "api", incident=incident.number)
    notifier = RecordingNotifier()
    engine = ReminderEngine(store, catalog(), services.incidents, notifier, ops=services.ops)
    engine.reconcile(clock())
    [event] = [e for e in store.timeline(incident.number) if e.kind == EventKind.OPS]
    assert event.text == "rollback api in dev: reconciled" and event.data["outcome"] == "reconciled"
    assert "restored the old container of api" in event.data["excerpt"]
    assert [channel for channel, _ in notifier.said] == ["C_AUDIT", "C_INC"]
    assert "rollback api in dev" in notifier.said[0][1] and "restored the old container" in notifier.said[0][1]
    clock.advance(seconds=30)
    engine.reconcile(clock())  # within the minute: no second pass
    assert len(notifier.said) == 2


def test_the_first_pass_looks_back_a_week_then_reads_only_new_records(services, store, clock, platform):
    old = AuditRecord(at=clock() - timedelta(days=8), attempt="a-old", phase="started", user="U_OPS", env="dev",
                      action="rollback", target="api")
    store.append_audit(old)
    assert services.ops.reconcile() == []  # beyond the week: left as it is
    head = store.audit_head()
    crash(services.ops, "rollback", "api")
    assert [row.record.phase for row in store.iter_audit(after=head.seq)] == ["requested", "started"]
    [done] = services.ops.reconcile()
    assert done.record.attempt != "a-old"


def test_a_running_actions_lease_is_renewed_and_lapses_soon_after_its_holder_dies(store, clock):
    """The heartbeat extends the lease while the action runs; once it stops (the process died), the lease lapses
    within a slice — the leader then reconciles within minutes, not after the action's whole timeout."""
    import time

    from bot.core.lease_keeper import LEASE_SLICE, LeaseKeeper

    assert store.acquire_lease("dev/api", "@U_OPS", "a-1", clock() + LEASE_SLICE, clock()) is None
    with LeaseKeeper(store, ["dev/api"], "a-1", clock, every=0.05):
        clock.advance(seconds=80)
        time.sleep(1.0)  # some twenty beats, even on a busy machine: renewed from the advanced clock
        assert store.acquire_lease("dev/api", "@U_EVE", "a-2", clock() + LEASE_SLICE, clock() + LEASE_SLICE
                                   - timedelta(seconds=1)) == "@U_OPS"  # still held past the first slice
    clock.advance(seconds=200)  # no beat since: lapsed
    assert store.acquire_lease("dev/api", "@U_EVE", "a-2", clock() + LEASE_SLICE, clock()) is None
    assert not store.renew_lease("dev/api", "a-1", clock() + LEASE_SLICE)  # the dead holder cannot take it back
