"""Communication to the end: announcement templates (checked at load, sandboxed, user text escaped), status
updates with an ETA, private incidents, and their bad input."""
from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from bot.config import Catalog, load_catalog
from bot.core.effects import Announcement
from bot.core.models import Incident
from bot.errors import ConfigError
from bot.timeparse import parse_eta
from bot.views.channel import announcement_text
from bot.views.text import to_text
from tests.unit.test_commands import run, snapshot

NOW = datetime(2026, 11, 20, 9, 0, tzinfo=UTC)


def catalog_from(tmp_path, text: str) -> Catalog:
    path = tmp_path / "opsbot.yml"
    path.write_text(text)
    return load_catalog(path)


@pytest.mark.parametrize("template,message", [
    ("'{{ id '", "templates.update: the template does not render"),
    ("'{{ id }} {{ root_cause }}'", "templates.update: unknown variable(s) root_cause; this message has"),
    ("\"{{ ''.__class__.__mro__ }}\"", "templates.update: the template does not render"),  # the sandbox refuses
])
def test_check_config_rejects_a_template_that_does_not_compile_or_names_unknown_variables(tmp_path, template,
                                                                                          message):
    with pytest.raises(ConfigError) as raised:
        catalog_from(tmp_path, f"templates:\n  update: {template}\n")
    assert message in str(raised.value)


def test_a_custom_template_is_used_and_user_text_cannot_inject_mentions_or_links(tmp_path):
    catalog = catalog_from(tmp_path, "templates:\n  resolved: '*RESOLVED* {{ id }}: {{ title }} — {{ resolution }}'\n")
    incident = Incident(number=4, title="<!channel> db down <https://evil.example|login>", severity="P1",
                        opened_by="U_A", declared_at=NOW, resolved_at=NOW + timedelta(minutes=65),
                        resolution="failover @here")
    text = announcement_text("resolved", incident, catalog, "C1")
    assert text == ("*RESOLVED* INC-4: &lt;!channel&gt; db down &lt;https://evil.example|login&gt; — "
                    "failover @here")


def test_resolved_message_has_duration_and_postmortem_due():
    incident = Incident(number=1, title="Checkout fails", severity="P1", opened_by="U_A", declared_at=NOW,
                        resolved_at=NOW + timedelta(minutes=65), resolution="rolled back", roles={"commander": "U_A"})
    text = announcement_text("resolved", incident, Catalog(), "C1", by="U_A")
    assert "*Duration:* 1h 5m" in text and "post-mortem due 2026-11-21 10:05 UTC" in text  # P1: 24 h


@pytest.mark.parametrize("text,expected", [
    ("30m", NOW + timedelta(minutes=30)),
    ("14:30", datetime(2026, 11, 20, 14, 30, tzinfo=UTC)),
    ("08:15", datetime(2026, 11, 21, 8, 15, tzinfo=UTC)),  # passed today: tomorrow's
    ("2026-11-22T10:00Z", datetime(2026, 11, 22, 10, 0, tzinfo=UTC)),
    ("2026-11-22T10:00", datetime(2026, 11, 22, 10, 0, tzinfo=UTC)),
])
def test_eta_forms(text, expected):
    assert parse_eta(text, NOW) == expected


def test_update_with_eta_is_recorded_and_announced(router, service, alice):
    run(router, "open p1 Outage", alice)
    reply = run(router, "update INC-1 rolled back, watching --eta 45m", alice)
    assert reply.ok and "(ETA 2026-11-20 09:45 UTC)" in to_text(reply)
    assert service.timeline(1)[-1].data == {"eta": "2026-11-20T09:45:00+00:00"}
    (announce,) = [e for e in reply.effects if isinstance(e, Announcement)]
    assert (announce.kind, announce.text, announce.eta) == ("update", "rolled back, watching",
                                                           "2026-11-20T09:45:00+00:00")


def test_resolve_and_reopen_are_announced(router, alice):
    run(router, "open p1 Outage", alice)
    kinds = [[e.kind for e in run(router, text, alice).effects if isinstance(e, Announcement)]
             for text in ("resolve INC-1 rolled back", "reopen INC-1 errors again")]
    assert kinds == [["resolved"], ["reopened"]]


BAD_COMMS_INPUT = [
    ("update INC-1 back soon --eta tomorrowish", "'tomorrowish' is not an ETA"),
    ("update INC-1 back soon --eta 25:99", "'25:99' is not an ETA"),
    ("update INC-1 back soon --eta 2020-01-01T00:00Z", "The ETA 2020-01-01 00:00 UTC is not in the future"),
    ("update INC-1 back soon --eta", "--eta needs a value"),
    ("update INC-1 " + "x" * 3001, "the limit is 3000"),
    ("open p1 Outage --private yes", "--private takes no value"),
    ("open p1 Outage --type security", "'security' is not an incident type (none are configured)"),
    ("open p7 Outage --private", "'p7' is not a severity"),
]


@pytest.mark.parametrize("text,message", BAD_COMMS_INPUT)
def test_bad_comms_input_gets_a_clear_message_and_changes_nothing(router, service, alice, text, message):
    run(router, "open p1 Outage", alice)
    before = snapshot(service)
    reply = run(router, text, alice)
    assert not reply.ok and message in to_text(reply) and "Traceback" not in to_text(reply)
    assert not reply.effects and snapshot(service) == before


def test_private_by_flag_by_type_and_by_severity(make_router, alice):
    router = make_router(Catalog.model_validate({
        "incident_types": {"security": {"private": True}},
        "severities": {"P0": {"name": "Critical", "response": "15m", "private": True},
                       "P1": {"name": "High", "response": "1h"}, "P2": {"name": "Medium", "response": "4h"},
                       "P3": {"name": "Low", "response": "next-business-day"}}}))
    for text in ("open p1 Public", "open p1 Flagged --private", "open p1 Breach --type security", "open p0 Severe"):
        assert run(router, text, alice).ok
    incidents = {i.title: i.private for i in router.services.incidents.list_incidents()}
    assert incidents == {"Public": False, "Flagged": True, "Breach": True, "Severe": True}
    assert router.services.incidents.get(3).type == "security"


def test_an_eta_given_at_declaration_is_in_the_incident_alert_and_an_update_moves_it(store, clock):
    """MemoApp's INCIDENT ALERT carries an ETA: `/incident open … --eta 30m` sets it (a time of day or an ISO time
    work too); a later `/incident update --eta` moves it; one in the past is refused and nothing is stored."""
    from datetime import timedelta

    from bot.app import build_services
    from bot.config import Catalog
    from bot.views.channel import alert_text
    from commands.base import Context
    from commands.router import Router

    catalog = Catalog()
    services = build_services(store, catalog, clock=clock)
    router = Router(services)
    ctx = Context(user="U_ALICE", channel="C1", source="console")
    assert router.handle("/incident", "open p1 Checkout down --eta 30m", ctx).ok
    incident = store.get_incident(1)
    assert incident.eta == clock() + timedelta(minutes=30)
    assert "*ETA:* 2026-11-20 09:30 UTC" in alert_text(incident, catalog, "C_INC")
    refused = router.handle("/incident", "open p2 Later --eta 2020-01-01T00:00Z", ctx)
    assert not refused.ok and "is not in the future" in refused.text
    garbled = router.handle("/incident", "open p2 Later --eta soonish", ctx)
    assert not garbled.ok and "'soonish' is not an ETA" in garbled.text
    assert [i.number for i in store.list_incidents()] == [1]
    assert router.handle("/incident", "update INC-1 rolled back --eta 10:15", ctx).ok
    assert store.get_incident(1).eta == clock().replace(hour=10, minute=15)
    assert "ETA" not in alert_text(store.get_incident(1).model_copy(update={"eta": None}), catalog, "C_INC")


def test_an_escalation_level_may_wait_for_the_next_business_day():
    from datetime import UTC, datetime

    from bot.config import Catalog
    from bot.timeparse import next_business_day_end

    catalog = Catalog.model_validate({"severities": {"P3": {"name": "Low", "response": "next-business-day",
        "escalation": [{"who": "U_ONCALL", "after": "immediate"}, {"who": "U_LEAD", "after": "next-business-day"}]}}})
    friday = datetime(2026, 12, 4, 17, 0, tzinfo=UTC)
    levels = catalog.severities["P3"].escalation_levels(friday)
    assert levels == [(["U_ONCALL"], friday), (["U_LEAD"], next_business_day_end(friday))]
    assert levels[1][1].weekday() == 0  # Monday
