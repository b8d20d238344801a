"""On-call schedules, held to their exact meaning with property tests across daylight-saving changes: wall-clock
rotations keep their local handoff time (a shift across a change is 23 or 25 hours), durations are elapsed time,
shifts follow each other without gap or overlap in the order of the users, restricted layers have someone only
inside their windows (crossing midnight included), the last layer with someone wins."""
from __future__ import annotations

import itertools
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bot.config import Catalog
from bot.config.oncall import Schedule
from bot.core.oncall import on_call

ZONES = ["Europe/Berlin", "America/New_York", "Australia/Sydney", "Asia/Kolkata", "UTC"]
USERS = ["U01AAAA", "U01BBBB", "U01CCCC"]
START = datetime(2026, 1, 5, 9, 0)  # a Monday, 09:00 local
instants = st.datetimes(min_value=datetime(2026, 1, 6), max_value=datetime(2028, 12, 31), timezones=st.just(UTC))


def schedule(zone: str, *layers: dict) -> Schedule:
    return Schedule.model_validate({"time_zone": zone, "layers": list(layers)})


def layer(rotation: str = "weekly", **more) -> dict:
    return {"name": more.pop("name", rotation), "users": more.pop("users", USERS), "rotation": rotation,
            "start": more.pop("start", START.isoformat()), **more}


@settings(max_examples=300, deadline=None)
@given(zone=st.sampled_from(ZONES), rotation=st.sampled_from(["daily", "weekly"]), at=instants)
def test_wall_clock_shifts_hand_off_at_the_same_local_time_and_last_23_to_25_hours_a_day(zone, rotation, at):
    plan = schedule(zone, layer(rotation))
    shift = on_call(plan, at)
    local = ZoneInfo(zone)
    assert shift.start <= at < shift.end
    assert shift.start.astimezone(local).time() == START.time() == shift.end.astimezone(local).time()
    days = 1 if rotation == "daily" else 7
    hours = (shift.end - shift.start) / timedelta(hours=1)
    assert days * 24 - 1 <= hours <= days * 24 + 1  # one daylight-saving change at most in a shift here
    after = on_call(plan, shift.end)  # the next shift begins as this one ends, with the next user
    assert after.start == shift.end
    assert USERS.index(after.user) == (USERS.index(shift.user) + 1) % len(USERS)


def test_a_daily_shift_across_the_spring_and_autumn_changes_is_23_and_25_hours_long():
    plan = schedule("Europe/Berlin", layer("daily"))
    spring = on_call(plan, datetime(2026, 3, 29, 12, 0, tzinfo=UTC))  # clocks go 02:00 → 03:00 that night
    assert (spring.end - spring.start) == timedelta(hours=24)  # 29th 09:00 → 30th 09:00: after the change
    across_spring = on_call(plan, datetime(2026, 3, 28, 12, 0, tzinfo=UTC))
    assert across_spring.end - across_spring.start == timedelta(hours=23)
    across_autumn = on_call(plan, datetime(2026, 10, 24, 12, 0, tzinfo=UTC))
    assert across_autumn.end - across_autumn.start == timedelta(hours=25)


@settings(max_examples=200, deadline=None)
@given(zone=st.sampled_from(ZONES), minutes=st.integers(min_value=1, max_value=3 * 24 * 60), at=instants)
def test_a_duration_rotation_is_elapsed_time_whatever_the_clocks_do(zone, minutes, at):
    plan = schedule(zone, layer(f"{minutes}m"))
    shift = on_call(plan, at)
    assert shift.end - shift.start == timedelta(minutes=minutes) and shift.start <= at < shift.end


@settings(max_examples=300, deadline=None)
@given(zone=st.sampled_from(ZONES), at=instants)
def test_a_restricted_layer_has_someone_only_inside_its_windows_and_the_last_layer_wins(zone, at):
    plan = schedule(zone, layer("weekly", name="base"),
                    layer("daily", name="nights", users=["U01DDDD"], restrict=["sat-sun 22:00-06:00"]))
    shift = on_call(plan, at)
    local = at.astimezone(ZoneInfo(zone))
    weekend_night = (local.weekday() in (5, 6) and local.hour >= 22) or (local.weekday() in (6, 0) and local.hour < 6)
    assert (shift.layer == "nights") == weekend_night
    if weekend_night:
        assert shift.user == "U01DDDD" and shift.start <= at < shift.end
        assert shift.end - shift.start <= timedelta(hours=9)  # cut to the window (9 h when clocks go back)
    else:
        assert shift.user in USERS


def test_before_the_start_there_is_a_gap_and_the_catalog_refuses_what_it_cannot_mean():
    plan = schedule("Europe/Berlin", layer("weekly"))
    assert on_call(plan, datetime(2025, 12, 1, tzinfo=UTC)).user is None
    with pytest.raises(ValueError) as refused:
        Catalog.model_validate({"oncall": {"schedules": {"primary": {"time_zone": "Mars/Olympus", "layers": [
            {"name": "x", "users": ["alice"], "rotation": "30s", "start": "2026-11-02T09:00+01:00",
             "restrict": ["mon-fry 09:00-17:00"]}]}}}})
    text = str(refused.value)
    for problem in ("'Mars/Olympus' is not a time zone", "'alice' is not a Slack user ID",
                    "a rotation is daily, weekly or a duration of at least 1m", "leave out the offset",
                    "'mon-fry 09:00-17:00' is not a window"):
        assert problem in text, problem


def test_oncall_through_the_console_now_and_at_a_time(store, clock):
    from bot.app import build_services
    from bot.views.blocks import to_blocks
    from bot.views.text import to_text
    from commands.base import Context
    from commands.router import Router

    catalog = Catalog.model_validate({"oncall": {"schedules": {"primary": {
        "time_zone": "Europe/Berlin", "layers": [layer("weekly", start="2026-11-16T09:00")]}}}})
    router = Router(build_services(store, catalog, clock=clock))  # clock: 2026-11-20 09:00 UTC, a Friday
    ctx = Context(user="U_OPS", source="console")
    now = router.handle("/oncall", "", ctx)
    assert now.ok and "primary: @U01AAAA (weekly) since 2026-11-16 08:00 UTC (Mon 09:00 Europe/Berlin) until " \
        "2026-11-23 08:00 UTC (Mon 09:00 Europe/Berlin) · next @U01BBBB" in to_text(now)
    assert "<@U01AAAA>" in str(to_blocks(now))  # Slack: a mention
    later = router.handle("/oncall", "primary --at 2026-12-01T12:00Z", ctx)
    assert later.ok and "primary: @U01CCCC" in to_text(later)
    unknown = router.handle("/oncall", "secondary", ctx)
    assert not unknown.ok and "There is no on-call schedule 'secondary'. Schedules: primary." in unknown.text


@settings(max_examples=100, deadline=None)
@given(zone=st.sampled_from(ZONES), at=instants, days=st.integers(min_value=1, max_value=21))
def test_shifts_cover_the_period_without_gap_or_overlap_gaps_named(zone, at, days):
    from bot.core.oncall import shifts

    plan = schedule(zone, layer("daily", name="days", restrict=["mon-fri 09:00-17:00"]))
    found = shifts(plan, at, at + timedelta(days=days))
    assert found[0].start <= at and found[-1].end >= at + timedelta(days=days) or len(found) == 500
    for before, after in itertools.pairwise(found):
        assert before.end == after.start  # contiguous: every instant is someone's or a gap
    assert all(s.user is None or s.user in USERS for s in found)
    assert any(s.user is None for s in found) or days < 3  # nights and weekends are gaps here


def test_shifts_through_the_console_and_a_user_filter(store, clock):
    from bot.app import build_services
    from bot.views.text import to_text
    from commands.base import Context
    from commands.router import Router

    catalog = Catalog.model_validate({"oncall": {"schedules": {"primary": {
        "time_zone": "Europe/Berlin", "layers": [layer("daily", start="2026-11-16T09:00")]}}}})
    router = Router(build_services(store, catalog, clock=clock))
    ctx = Context(user="U_OPS", source="console")
    listed = to_text(router.handle("/oncall", "shifts primary --days 3", ctx))
    assert listed.count("@U01") == 4 and "Shifts · primary · next 3 days" in listed  # today's, then three more
    mine = to_text(router.handle("/oncall", "shifts primary --days 6 --user @U01BBBB", ctx))
    assert mine.count("@U01BBBB") == 3 and "@U01AAAA" not in mine  # Fri 20, Mon 23, Thu 26
    bad = router.handle("/oncall", "shifts primary --days 900", ctx)
    assert not bad.ok and "--days is a number of days from 1 to 90" in bad.text


def test_the_hours_report_splits_each_persons_month_by_the_schedules_wall_clock(store, clock):
    """A weekly rotation of three in November 2026 (720 h in Berlin: no change that month): every hour is someone's,
    and each person's hours split into business (mon-fri 09:00-18:00), night (22-07) and the rest; October, with the
    autumn change, counts its 25-hour day."""
    from datetime import UTC

    from bot.config.oncall import Window
    from bot.core.oncall import hours_report
    from bot.views.text import to_text
    from commands.base import Context
    from commands.router import Router

    plan = schedule("Europe/Berlin", layer("weekly", start="2026-10-05T09:00"))
    business = Window("mon-fri 09:00-18:00")
    berlin = ZoneInfo("Europe/Berlin")
    november = hours_report(plan, business, datetime(2026, 11, 1, tzinfo=berlin).astimezone(UTC),
                            datetime(2026, 12, 1, tzinfo=berlin).astimezone(UTC))
    assert round(sum(h.total for h in november.values()), 2) == 720
    assert round(sum(h.business for h in november.values()), 2) == 21 * 9  # 21 weekdays in November 2026
    assert round(sum(h.night for h in november.values()), 2) == 30 * 9
    october = hours_report(plan, business, datetime(2026, 10, 1, tzinfo=berlin).astimezone(UTC),
                           datetime(2026, 11, 1, tzinfo=berlin).astimezone(UTC))
    # October in Berlin has 745 hours (the 25-hour day of the change); the schedule starts Oct 5 09:00 local
    assert round(sum(h.total for h in october.values()), 2) == 745 - (4 * 24 + 9)
    from bot.app import build_services

    catalog = Catalog.model_validate({"oncall": {"schedules": {"primary": plan.model_dump(mode="json")}}})
    router = Router(build_services(store, catalog, clock=clock))
    shown = to_text(router.handle("/oncall", "report primary --month 2026-11", Context(user="U_OPS", source="console")))
    assert "On-call hours · primary · 2026-11" in shown and shown.count(" h: ") == 3
    bad = router.handle("/oncall", "report primary --month november", Context(user="U_OPS", source="console"))
    assert not bad.ok and "'november' is not a month like 2026-11" in bad.text


@settings(max_examples=40, deadline=None)
@given(zone=st.sampled_from(ZONES), offset_hours=st.integers(min_value=0, max_value=24 * 60))
def test_the_calendar_export_holds_exactly_who_is_on_call_at_any_instant(zone, offset_hours):
    """The iCalendar document (parsed with the icalendar package) has, at any instant, one event naming whoever
    `/oncall --at` names then; UIDs are stable between two exports."""
    from icalendar import Calendar

    from bot.core.oncall import shifts
    from bot.views.calendar import schedule_calendar

    plan = schedule(zone, layer("daily", name="days"), layer("12h", name="follow", users=["U01DDDD", "U01EEEE"],
                                                            restrict=["sat-sun 08:00-20:00"]))
    start = datetime(2026, 3, 1, tzinfo=UTC)
    found = shifts(plan, start, start + timedelta(days=62))
    document = schedule_calendar("primary", ZoneInfo(zone), found)
    events = Calendar.from_ical(document).walk("VEVENT")
    assert document == schedule_calendar("primary", ZoneInfo(zone), found)
    at = start + timedelta(hours=offset_hours, minutes=7)
    holding = [e for e in events if e.decoded("dtstart") <= at < e.decoded("dtend")]
    expected = on_call(plan, at).user
    assert [str(e["summary"]).rsplit(": ", 1)[1] for e in holding] == ([expected] if expected else [])
    assert len({str(e["uid"]) for e in events}) == len(events)


def test_the_cli_export_and_its_refusals(tmp_path):
    import subprocess
    import sys as system

    from icalendar import Calendar

    config = tmp_path / "opsbot.yml"
    config.write_text("oncall:\n  schedules:\n    primary:\n      time_zone: Europe/Berlin\n      layers:\n"
                      "        - {name: weekly, users: [U01AAAA, U01BBBB], rotation: weekly, start: 2026-11-02T09:00}\n")

    def cli(*args: str) -> subprocess.CompletedProcess:
        return subprocess.run([system.executable, "-m", "bot.cli", "oncall", "export", *args, "--config", str(config)],
                              capture_output=True, text=True, timeout=60, check=False)

    done = cli("primary", "--from", "2026-11-02", "--to", "2026-11-29", "--user", "U01BBBB")
    events = Calendar.from_ical(done.stdout).walk("VEVENT")
    assert done.returncode == 0 and [str(e["summary"]) for e in events] == ["On call (primary): U01BBBB"] * 2
    assert str(events[0].decoded("dtstart")) == "2026-11-09 09:00:00+01:00"
    unknown = cli("secondary")
    assert unknown.returncode == 2 and "no on-call schedule 'secondary'; schedules: primary" in unknown.stderr
    backwards = cli("primary", "--from", "2026-12-01", "--to", "2026-11-01")
    assert backwards.returncode == 2 and "--to must come after --from" in backwards.stderr


def test_the_calendar_feed_serves_with_the_token_and_is_a_404_without(tmp_path):
    from icalendar import Calendar
    from starlette.testclient import TestClient

    from bot.app import build, served
    from bot.config import Settings, SlackSettings

    config = tmp_path / "opsbot.yml"
    config.write_text("oncall:\n  schedules:\n    primary:\n      layers:\n"
                      "        - {name: daily, users: [U01AAAA, U01BBBB], rotation: daily, start: 2026-01-01T09:00}\n")
    settings = Settings(database_url=f"sqlite:///{tmp_path}/opsbot.db", config=config,
                        calendar_token="calendar-token-0123456789")
    opsbot = build(settings=settings)
    try:
        with TestClient(served(opsbot, SlackSettings(), "off", alert_tokens={}).app) as client:
            good = client.get("/oncall/primary.ics", params={"token": "calendar-token-0123456789"})
            assert good.status_code == 200 and good.headers["content-type"].startswith("text/calendar")
            events = Calendar.from_ical(good.content).walk("VEVENT")
            assert len(events) >= 90 and {str(e["summary"]) for e in events} == {
                "On call (primary): U01AAAA", "On call (primary): U01BBBB"}
            assert client.get("/oncall/primary.ics", params={"token": "wrong"}).status_code == 404
            assert client.get("/oncall/primary.ics").status_code == 404
            assert client.get("/oncall/nope.ics", params={"token": "calendar-token-0123456789"}).status_code == 404
    finally:
        opsbot.close()
