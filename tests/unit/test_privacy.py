"""A private incident exists only for its participants and admins, whichever command or surface asks: for anybody
else `show`, `list`, `timeline`, `postmortem`, `evidence` and `/ops … --incident` answer as for an unknown id. Its
post-mortem draft is shared only in its own channel."""
from __future__ import annotations

import sys

import pytest

from bot.app import build_services
from bot.config import Catalog
from bot.views.text import to_text
from commands.base import Context
from commands.router import Router

CATALOG = {"environments": {"dev": {"runbook": {"uptime": {"argv": [sys.executable, "-c", "print(1)"],
                                                           "read_only": True}}}},
           "roles": {"*": {"admin": ["U_ROOT"]}}}


@pytest.fixture
def router(store, clock):
    router = Router(build_services(store, Catalog.model_validate(CATALOG), clock=clock))
    opened = router.handle("/incident", "open p1 Card data exposed --private --impact leaked PANs",
                           Context(user="U_ALICE", channel="C_PRIV", source="console"))
    assert opened.ok, opened.text
    assert router.handle("/incident", "role INC-1 scribe @U_BOB", Context(user="U_ALICE", channel="C_PRIV")).ok
    return router


def said(router: Router, command: str, text: str, user: str, channel: str, source: str = "slack") -> str:
    reply = router.handle(command, text, Context(user=user, channel=channel, source=source))
    return reply.text if not reply.ok else "OK " + to_text(reply)


@pytest.mark.parametrize("command,text", [
    ("/incident", "show INC-1"), ("/incident", "timeline INC-1"), ("/incident", "postmortem INC-1"),
    ("/incident", "evidence list INC-1"), ("/incident", "note INC-1 hello"), ("/incident", "ack INC-1"),
    ("/ops", "run uptime dev --incident INC-1"),
])
@pytest.mark.parametrize("source", ["slack", "console"])
def test_for_anybody_else_it_does_not_exist(router, store, command, text, source):
    hidden = said(router, command, text, "U_EVE", "C_GENERAL", source)
    unknown = said(router, command, text.replace("INC-1", "INC-9"), "U_EVE", "C_GENERAL", source)
    assert hidden == unknown.replace("INC-9", "INC-1") and "There is no incident INC-1" in hidden
    assert not any(e.text == "hello" for e in store.timeline(1))


def test_the_list_leaves_it_out_for_others_and_shows_it_to_participants_and_admins(router):
    assert "Card data exposed" not in said(router, "/incident", "list", "U_EVE", "C_GENERAL")
    assert "No open incidents" in said(router, "/incident", "list", "U_EVE", "C_GENERAL")
    for user in ("U_ALICE", "U_BOB", "U_ROOT"):
        assert "Card data exposed" in said(router, "/incident", "list", user, "C_GENERAL"), user


def test_in_its_own_channel_everybody_there_is_a_participant(router):
    assert said(router, "/incident", "show", "U_CAROL", "C_PRIV").startswith("OK ")
    assert said(router, "/incident", "timeline INC-1", "U_BOB", "C_ELSEWHERE").startswith("OK ")
    assert said(router, "/incident", "show INC-1", "U_ROOT", "C_GENERAL").startswith("OK ")


def test_its_postmortem_draft_is_shared_only_in_its_own_channel(router):
    refused = said(router, "/incident", "postmortem INC-1", "U_ALICE", "C_GENERAL")
    assert "private: its post-mortem draft is shared only in its own channel" in refused
    assert said(router, "/incident", "postmortem INC-1", "U_ALICE", "C_PRIV").startswith("OK ")
    reply = router.handle("/incident", "postmortem INC-1", Context(user="U_ALICE", channel="C_PRIV", source="slack"))
    assert reply.file is not None and "Card data exposed" in reply.file.content


def test_a_public_incident_stays_visible_to_everybody(router):
    assert router.handle("/incident", "open p3 Slow search", Context(user="U_ALICE", channel="C_PUB")).ok
    assert said(router, "/incident", "show INC-2", "U_EVE", "C_GENERAL").startswith("OK ")
    assert "Slow search" in said(router, "/incident", "list", "U_EVE", "C_GENERAL")


def test_a_private_incident_leaves_no_trace_in_the_metrics(store, clock):
    """Prometheus figures can be read by anyone with a dashboard: a private incident is neither counted open nor
    timed (MTTA/MTTR), while a public one is."""
    from typing import cast

    from bot.config import Catalog
    from bot.core.incidents import IncidentService
    from bot.core.ports import Store
    from bot.metrics import MeteredStore, Metrics

    metrics = Metrics()
    service = IncidentService(cast(Store, MeteredStore(store, metrics)), Catalog(), clock=clock)
    for private in (True, False):
        incident = service.open("U_HR", "p1", "Staff matter" if private else "Checkout down", private=private)
        clock.advance(minutes=5)
        service.acknowledge(incident.number, "U_HR")
        service.resolve(incident.number, "U_HR", "done")
    service.open("U_HR", "p2", "Still open, private", private=True)
    exposition = metrics.exposition().decode()
    assert 'opsbot_incident_mtta_seconds_count{severity="P1"} 1.0' in exposition
    assert 'opsbot_incident_mttr_seconds_count{severity="P1"} 1.0' in exposition
    assert store.open_by_severity() == {}
