"""The post-mortem draft: the runbooks' sections, the timeline and met/missed response metrics."""
from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest

from bot.config import Catalog, Templates
from bot.core.postmortem import postmortem_filename, render_postmortem, response_metrics
from bot.errors import UsageError

SECTIONS = ["## 1. Incident Summary", "## 2. Timeline", "## 3. Root Cause", "## 4. Resolution",
            "## 5. Action Items", "## 6. Lessons Learned"]


def test_draft_has_every_runbook_section_and_every_event(service, clock):
    service.open("U_ALICE", "p1", "Database connection errors", impact="checkout fails")
    clock.advance(minutes=20)
    service.acknowledge(1, "U_BOB")
    service.add_note(1, "U_BOB", "pool | exhausted")
    service.add_action_item(1, "U_BOB", "alert on pool", owner="U_BOB")
    clock.advance(minutes=40)
    incident = service.resolve(1, "U_BOB", "leaking worker fixed")
    draft = render_postmortem(incident, service.timeline(1), service.catalog, now=clock.now)
    positions = [draft.index(title) for title in SECTIONS]
    assert positions == sorted(positions)
    assert "**Duration:** 1h" in draft
    assert "| 2026-11-20 09:20 UTC | @U_BOB | pool \\| exhausted |" in draft
    assert "| 1 | alert on pool | @U_BOB | — | no |" in draft
    assert "**Date and time:** 2026-11-20 09:00 UTC" in draft


def metrics_of(service, incident) -> dict[str, tuple[str, str, str]]:
    return {m.name: (m.value, m.target, m.verdict)
            for m in response_metrics(incident, service.catalog, service.timeline(incident.number))}


def test_each_milestone_has_its_own_target(service, clock):
    service.open("U_ALICE", "p0", "Outage")  # P0: acknowledge 15m, mitigate 30m, resolve 4h (the runbooks)
    clock.advance(minutes=10)
    service.acknowledge(1, "U_ALICE")
    clock.advance(minutes=15)
    service.set_status(1, "U_ALICE", "mitigated")
    clock.advance(hours=5)
    incident = service.resolve(1, "U_ALICE", "fixed")
    assert metrics_of(service, incident) == {
        "Time to acknowledge": ("10m", "15m (P0)", "met"), "Time to mitigate": ("25m", "30m (P0)", "met"),
        "Time to resolve": ("5h 25m", "4h (P0)", "missed")}


def test_a_downgraded_incident_is_judged_by_the_highest_severity_it_held(service, clock):
    service.open("U_ALICE", "p0", "Outage")
    service.set_severity(1, "U_ALICE", "p1")  # P1 would allow an hour to acknowledge
    clock.advance(minutes=40)
    service.acknowledge(1, "U_ALICE")
    incident = service.get(1)
    assert metrics_of(service, incident)["Time to acknowledge"] == ("40m", "15m (P0)", "missed")
    draft = render_postmortem(incident, service.timeline(1), service.catalog, now=clock.now)
    assert "judged as P0, the highest severity held" in draft and "Severity P0 → P1" in draft


def test_a_milestone_stamped_by_a_later_step_is_never_met(service, clock):
    service.open("U_ALICE", "p2", "Slow search")
    clock.advance(minutes=5)
    incident = service.resolve(1, "U_ALICE", "cache warmed")  # no ack, no mitigation
    metrics = metrics_of(service, incident)
    assert metrics["Time to acknowledge"][2] == "not acknowledged explicitly"
    assert metrics["Time to mitigate"][2] == "not mitigated explicitly"
    draft = render_postmortem(incident, service.timeline(1), service.catalog, now=clock.now)
    assert "(not acknowledged explicitly)" in draft and "| met |" not in draft


def test_impact_start_and_detection_give_time_to_detect_and_resolve_from_impact(service, clock):
    service.open("U_ALICE", "p1", "Checkout errors")
    service.set_impact_start(1, "U_ALICE", clock.now - timedelta(minutes=40))
    service.set_detected(1, "U_ALICE", clock.now - timedelta(minutes=25))
    clock.advance(minutes=20)
    incident = service.resolve(1, "U_ALICE", "rolled back")
    metrics = metrics_of(service, incident)
    assert metrics["Time to detect (from impact start)"][0] == "15m"
    assert metrics["Time to resolve (from impact start)"][0] == "1h"
    draft = render_postmortem(incident, service.timeline(1), service.catalog, now=clock.now)
    assert "**Impact started:** 2026-11-20 08:20 UTC" in draft and "**Detection:** 2026-11-20 08:35 UTC" in draft


def test_impact_start_and_detection_refuse_impossible_times(service, clock):
    service.open("U_ALICE", "p1", "Checkout errors")
    for call, when, message in (
            (service.set_impact_start, clock.now + timedelta(minutes=5), "in the future"),
            (service.set_detected, clock.now - timedelta(days=400), "more than a year ago")):
        with pytest.raises(UsageError, match=message):
            call(1, "U_ALICE", when)
    service.set_detected(1, "U_ALICE", clock.now - timedelta(minutes=10))
    with pytest.raises(UsageError, match="cannot start after the incident was detected"):
        service.set_impact_start(1, "U_ALICE", clock.now - timedelta(minutes=5))
    assert service.get(1).impact_started_at is None


def test_the_draft_lists_missed_update_cadence_escalations_and_is_redacted(service, clock):
    service.open("U_ALICE", "p1", "Checkout errors")  # P1: an update every 30 minutes
    clock.advance(minutes=20)
    service.post_update(1, "U_ALICE", "rolling back")
    clock.advance(minutes=50)
    service.add_note(1, "U_ALICE", "tried DB_PASSWORD=hunter2secret on the replica")
    incident = service.resolve(1, "U_ALICE", "rolled back")
    draft = render_postmortem(incident, service.timeline(1), service.catalog, now=clock.now)
    assert "No update from 2026-11-20 09:20 UTC to 2026-11-20 10:10 UTC (50m)" in draft
    assert "hunter2secret" not in draft and "_what happened, in order" in draft


def test_open_incident_metrics_say_not_reached(service):
    incident = service.open("U_ALICE", "p3", "Typo on the status page")
    verdicts = [m.verdict for m in response_metrics(incident, service.catalog, service.timeline(1))]
    assert verdicts == ["not reached"] * 3


def test_template_can_be_overridden(service, tmp_path: Path):
    template = tmp_path / "pm.md.j2"
    template.write_text("PM {{ incident.id }}: {{ events | length }} events\n")
    incident = service.open("U_ALICE", "p2", "Slow search")
    catalog = Catalog(templates=Templates(postmortem=template))
    assert render_postmortem(incident, service.timeline(1), catalog) == "PM INC-1: 2 events\n"


def test_filename_follows_the_runbook_convention_with_the_id(service):
    incident = service.open("U_ALICE", "p2", "Payment API returns 502!")
    assert postmortem_filename(incident) == "2026-11-20-inc-1-payment-api-returns-502.md"
    first, second = service.open("U_ALICE", "p2", "支付失败"), service.open("U_ALICE", "p2", "決済エラー")
    assert postmortem_filename(first) != postmortem_filename(second)  # no ASCII letters: the id tells them apart
