"""/maint through the router, on both store backends, with a clock the test moves."""
from __future__ import annotations

from datetime import UTC, datetime

import pytest

from bot.app import build_services
from bot.config import Catalog
from bot.core.audit import verify
from bot.core.maintenance import parse_start
from bot.errors import UsageError
from bot.views.text import to_text
from commands.base import Context
from commands.router import Router

OPERATOR = Context(user="U_OPS", source="console")
VIEWER = Context(user="U_VIEW", source="console")


def maint_catalog() -> Catalog:
    return Catalog.model_validate({
        "environments": {
            "prod": {"protected": True, "maintenance": {"configmap": "app-config", "key": "MAINTENANCE_MODE"},
                     "platform": {"kind": "kubernetes", "namespace": "prod"}},
            "staging": {},
        },
        "roles": {"prod": {"operator": ["U_OPS"], "viewer": ["U_VIEW"]}},
    })


@pytest.fixture
def maint(store, clock):
    catalog = maint_catalog()
    services = build_services(store, catalog, clock=clock)
    return Router(services), services.maintenance, store


def run(router, text, ctx=OPERATOR):
    return router.handle("/maint", text, ctx)


def test_schedule_stores_the_window_and_its_notices(maint, clock):
    router, _, store = maint
    reply = run(router, 'schedule prod 2026-12-06T02:00Z 2h "database upgrade"')
    assert reply.ok, reply.text
    assert "MW-1" in reply.text and "2026-12-06 02:00 UTC → 2026-12-06 04:00 UTC" in reply.text
    window = store.get_window(1)
    assert (window.env, window.title, window.created_by) == ("prod", "database upgrade", "U_OPS")
    notices = store.reminders("window:1:")
    assert [(r.kind, r.due_at) for r in notices] == [
        ("window_lead", datetime(2026, 12, 4, 2, 0, tzinfo=UTC)),
        ("window_lead", datetime(2026, 12, 5, 2, 0, tzinfo=UTC)),
        ("window_start", datetime(2026, 12, 6, 2, 0, tzinfo=UTC)),
        ("window_end", datetime(2026, 12, 6, 4, 0, tzinfo=UTC)),
    ]
    start = notices[2]
    assert "Backups verified and tested" in start.checklist and start.env == "prod"  # prod has maintenance mode
    assert "Verify all services are working" in notices[3].checklist


def test_relative_and_weekday_starts(maint, clock):
    router, _, store = maint
    assert run(router, 'schedule staging in 3h 30m "cache flush"').ok
    assert store.get_window(1).starts_at == datetime(2026, 11, 20, 12, 0, tzinfo=UTC)
    reply = run(router, "schedule staging sun 02:00 2h weekly maintenance")
    assert reply.ok, reply.text
    assert store.get_window(2).starts_at == datetime(2026, 11, 22, 2, 0, tzinfo=UTC)  # 2026-11-20 is a Friday
    # Less than 48 h ahead: said so, with only the notices still ahead.
    assert "Less than 2d notice" in to_text(reply)
    assert [r.kind for r in store.reminders("window:2:")] == ["window_lead", "window_start", "window_end"]


@pytest.mark.parametrize("text, message", [
    ('schedule prod 2026-11-19T02:00Z 1h "past"', "is in the past"),
    ('schedule prod in 1h 0m "zero"', "more than zero"),
    ('schedule prod in 1h -1h "negative"', "is not a duration"),
    ('schedule prod tomorrow 1h "x"', "'tomorrow' is not a time"),
    ('schedule prod 2026-13-01T00:00 1h "x"', "is not a time"),
    ('schedule nowhere in 1h 1h "x"', "Unknown environment 'nowhere'. Environments: prod, staging"),
    ('schedule prod in 1h 1h', "Give the window a title"),
    ('schedule prod 1h', "Give the environment, the start, the duration and a title"),
    ('schedule prod in 1h 9d "long"', "at most 7d"),
    ("schedule prod in 1h 1h " + "x" * 151, "the limit is 150"),
    ("bogus", "Unknown sub-command 'bogus'"),
])
def test_bad_input_is_refused_and_nothing_is_stored(maint, text, message):
    router, _, store = maint
    reply = run(router, text)
    assert not reply.ok
    assert message in reply.text
    assert store.list_windows() == [] and store.reminders() == []


def test_without_the_operator_role_nothing_is_scheduled(maint):
    router, _, store = maint
    reply = run(router, 'schedule prod in 3h 1h "upgrade"', VIEWER)
    assert not reply.ok and "operator role in prod to manage maintenance" in reply.text
    assert store.list_windows() == []


def test_overlapping_windows_in_one_environment_are_refused(maint):
    router, _, store = maint
    assert run(router, 'schedule prod 2026-12-06T02:00Z 2h "first"').ok
    reply = run(router, 'schedule prod 2026-12-06T03:00Z 2h "second"')
    assert not reply.ok and "already has MW-1" in reply.text
    assert run(router, 'schedule staging 2026-12-06T03:00Z 2h "other env"').ok  # another environment is fine
    assert run(router, 'schedule prod 2026-12-06T04:00Z 1h "right after"').ok  # touching is not overlapping
    assert [w.title for w in store.list_windows()] == ["first", "other env", "right after"]


def test_cancel_withdraws_pending_notices_and_refuses_unknown_or_finished(maint, clock):
    router, _, store = maint
    assert run(router, 'schedule prod 2026-12-06T02:00Z 2h "upgrade"').ok
    assert run(router, "cancel MW-1").ok
    assert {r.status for r in store.reminders("window:1:")} == {"cancelled"}
    assert "already cancelled" in run(router, "cancel mw-1").text
    assert "There is no maintenance window MW-9" in run(router, "cancel MW-9").text
    assert "is not a window id" in run(router, "cancel INC-1").text
    assert run(router, 'schedule staging in 1h 1h "short"').ok
    clock.advance(hours=3)
    assert "already finished" in run(router, "cancel MW-2").text


def test_extend_moves_the_end_notice(maint, clock):
    router, _, store = maint
    assert run(router, 'schedule prod 2026-12-06T02:00Z 2h "upgrade"').ok
    reply = run(router, "extend MW-1 30m")
    assert reply.ok and "now ends 2026-12-06 04:30 UTC" in to_text(reply)
    ends = [(r.due_at, r.status) for r in store.reminders("window:1:end:")]
    assert ends == [(datetime(2026, 12, 6, 4, 0, tzinfo=UTC), "cancelled"),
                    (datetime(2026, 12, 6, 4, 30, tzinfo=UTC), "pending")]
    assert run(router, 'schedule prod 2026-12-06T05:00Z 1h "next"').ok
    assert "overlap MW-2" in run(router, "extend MW-1 1h").text
    assert "is not a duration" in run(router, "extend MW-1 soon").text


def test_window_changes_and_refusals_are_in_the_audit_log_with_the_change_itself(maint):
    router, _, store = maint
    assert not run(router, 'schedule prod in 3h 1h "upgrade"', VIEWER).ok
    assert run(router, 'schedule prod 2026-12-06T02:00Z 2h "upgrade"').ok
    assert run(router, "extend MW-1 30m").ok
    assert run(router, 'schedule prod 2026-12-06T05:00Z 1h "next"').ok
    assert not run(router, "extend MW-1 1h").ok  # would overlap MW-2: nothing changes, nothing is recorded
    assert not run(router, "cancel MW-1", VIEWER).ok
    assert run(router, "cancel MW-1").ok

    records = store.audit_records()
    assert verify(records) is None
    assert [(r.phase, r.user, r.action, r.target, r.args.get("window"), r.args.get("by")) for r in records] == [
        ("denied", "U_VIEW", "maintenance", None, "schedule", None),
        ("succeeded", "U_OPS", "window.schedule", "MW-1", None, None),
        ("succeeded", "U_OPS", "window.extend", "MW-1", None, "30m"),
        ("succeeded", "U_OPS", "window.schedule", "MW-2", None, None),
        ("denied", "U_VIEW", "maintenance", "MW-1", "cancel", None),
        ("succeeded", "U_OPS", "window.cancel", "MW-1", None, None),
    ]
    extended = records[2]
    assert (extended.env, extended.args["title"], extended.args["ends_at"]) == (
        "prod", "upgrade", "2026-12-06T04:30:00+00:00")
    assert extended.command == "/maint extend MW-1 30m"
    assert store.get_window(1).ends_at == datetime(2026, 12, 6, 4, 30, tzinfo=UTC)


def test_list_shows_windows_and_recurring_reminders(maint, clock):
    router, _, _ = maint
    run(router, 'schedule prod 2026-12-06T02:00Z 2h "upgrade"')
    text = to_text(run(router, "list"))
    assert "MW-1 upcoming · prod · upgrade" in text
    assert "weekly — Weekly maintenance (Sunday 02:00 UTC): next 2026-11-22 02:00 UTC" in text


def test_health_marks_an_environment_in_maintenance(maint, clock):
    router, _, _ = maint
    run(router, 'schedule staging in 1h 2h "db upgrade"')
    assert "in maintenance" not in router.handle("/ops", "health staging", OPERATOR).text
    clock.advance(hours=1, minutes=5)
    reply = router.handle("/ops", "health staging", OPERATOR)
    assert "(in maintenance: MW-1)" in reply.text
    assert "staging is in maintenance" in to_text(reply)


def test_parse_start_reads_local_times_in_the_configured_zone():
    now = datetime(2026, 3, 27, 12, 0, tzinfo=UTC)  # a Friday; Berlin moves to summer time on Sunday the 29th
    start, used = parse_start(["sun", "03:00"], now, "Europe/Berlin")
    assert (start, used) == (datetime(2026, 3, 29, 1, 0, tzinfo=UTC), 2)  # CEST, UTC+2
    start, _ = parse_start(["sat", "03:00"], now, "Europe/Berlin")
    assert start == datetime(2026, 3, 28, 2, 0, tzinfo=UTC)  # still CET, UTC+1
    assert parse_start(["2026-12-06T02:00+01:00"], now, "UTC")[0] == datetime(2026, 12, 6, 1, 0, tzinfo=UTC)
    with pytest.raises(UsageError):
        parse_start(["sun", "25:00"], now, "UTC")
