"""`opsbot console --channel X`: an incident channel given by its name (as Slack shows it, `inc-1-…` or `#inc-1-…`)
is that incident's channel; a name that matches no incident channel is refused before the first prompt; and a
command typed in a channel of no incident is never sent to "the only open incident" instead."""
from __future__ import annotations

import io

import pytest

from bot import console
from bot.errors import NotFound, UsageError
from commands.base import Context


@pytest.fixture
def two_incidents(router):
    """INC-1 resolved, with a Slack channel (ID C_ONE, name inc-1-db-down); INC-2 the only open incident."""
    incidents = router.services.incidents
    incidents.open("U_ALICE", "P1", "DB down")
    incidents.attach_channel(1, "U_ALICE", "C_ONE", "inc-1-db-down", None)
    incidents.resolve(1, "U_ALICE", "failed over")
    incidents.open("U_ALICE", "P2", "Slow search")
    return incidents


def session(router, channel: str, lines: str) -> str:
    out = io.StringIO()
    console.run(router, Context(user="U_ALICE", channel=channel), stdin=io.StringIO(lines), stdout=out)
    return out.getvalue()


def notes(incidents, number: int) -> list[str]:
    return [event.text for event in incidents.store.timeline(number) if event.kind == "note"]


@pytest.mark.parametrize("name", ["inc-1-db-down", "#inc-1-db-down", "C_ONE"])
def test_an_incident_channel_given_by_name_or_id_is_that_incidents(router, two_incidents, name):
    out = session(router, name, "/incident note replica lag was 40 s\n")
    assert "INC-1" in out
    assert notes(two_incidents, 1) == ["replica lag was 40 s"]
    assert notes(two_incidents, 2) == []  # not "the only open incident"


@pytest.mark.parametrize("name,refusal", [
    ("inc-7-nothing", "No incident channel is named #inc-7-nothing: there is no INC-7."),
    ("inc-1-other-name", "#inc-1-other-name is not INC-1's channel: that is #inc-1-db-down."),
    ("#war-room", "No incident channel is named #war-room: give one that `/incident list --all` shows"),
])
def test_a_name_of_no_incident_channel_is_refused_before_the_prompt(router, two_incidents, name, refusal):
    with pytest.raises((NotFound, UsageError)) as refused:
        session(router, name, "/incident note should not land anywhere\n")
    assert str(refused.value).startswith(refusal)
    assert notes(two_incidents, 1) == notes(two_incidents, 2) == []


def test_a_channel_of_no_incident_asks_for_the_id_and_changes_nothing(router, two_incidents):
    before = two_incidents.get(2)
    out = session(router, "war-room", "/incident ack\n/incident note lost?\n")
    assert out.count("No incident is bound to channel war-room; say which incident, e.g. INC-1.") == 2
    after = two_incidents.get(2)
    assert (after.status, after.version) == (before.status, before.version)
    assert notes(two_incidents, 2) == []


def test_an_incident_opened_in_a_plain_channel_is_then_that_channels(router, two_incidents):
    out = session(router, "war-room", "/incident open p3 Cache cold\n/incident note warming it\n")
    assert "INC-3" in out
    assert notes(two_incidents, 3) == ["warming it"]


def test_a_console_incident_without_a_slack_channel_answers_to_its_inc_name(router, two_incidents):
    session(router, "inc-2", "/incident note reindexing\n")
    assert notes(two_incidents, 2) == ["reindexing"]
