"""The post-mortem draft: the runbooks' sections, the timeline and met/missed response metrics."""
from __future__ import annotations

from pathlib import Path

from bot.config import Catalog, Templates
from bot.core.postmortem import postmortem_filename, render_postmortem, response_metrics

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


def test_metrics_compare_each_milestone_with_the_response_target(service, clock):
    service.open("U_ALICE", "p0", "Outage")  # P0: 15 minute response target
    clock.advance(minutes=10)
    service.acknowledge(1, "U_ALICE")
    clock.advance(minutes=10)
    incident = service.resolve(1, "U_ALICE", "fixed")
    metrics = {m.name: (m.value, m.verdict) for m in response_metrics(incident, service.catalog)}
    assert metrics == {"Time to acknowledge": ("10m", "met"), "Time to mitigate": ("20m", "missed"),
                       "Time to resolve": ("20m", "missed")}


def test_open_incident_metrics_say_not_reached(service):
    incident = service.open("U_ALICE", "p3", "Typo on the status page")
    verdicts = [m.verdict for m in response_metrics(incident, service.catalog)]
    assert verdicts == ["not reached"] * 3


def test_template_can_be_overridden(service, tmp_path: Path):
    template = tmp_path / "pm.md.j2"
    template.write_text("PM {{ incident.id }}: {{ events | length }} events\n")
    incident = service.open("U_ALICE", "p2", "Slow search")
    catalog = Catalog(templates=Templates(postmortem=template))
    assert render_postmortem(incident, service.timeline(1), catalog) == "PM INC-1: 2 events\n"


def test_filename_follows_the_runbook_convention(service):
    incident = service.open("U_ALICE", "p2", "Payment API returns 502!")
    assert postmortem_filename(incident) == "2026-11-20-payment-api-returns-502.md"
