"""The uptime bars' arithmetic: days cut on the page's clock (daylight saving included), each day's worst status,
and Statuspage's weighting of down time (a major outage fully, a partial outage 30%)."""
from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

from hypothesis import given, settings
from hypothesis import strategies as st

from bot.core.status_models import ComponentStatus, HistoryEntry
from bot.core.status_uptime import uptime

NOW = datetime(2026, 11, 20, 12, 0, tzinfo=UTC)
S = ComponentStatus


def entry(status: S, at: datetime, component: str = "API") -> HistoryEntry:
    return HistoryEntry(component=component, status=status, at=at, cause="manual")


def test_a_day_with_an_outage_is_that_outage_and_the_share_weighs_partial_outages_at_30_percent():
    history = [entry(S.MAJOR_OUTAGE, datetime(2026, 11, 18, 10, tzinfo=UTC)),
               entry(S.OPERATIONAL, datetime(2026, 11, 18, 16, tzinfo=UTC)),  # 6 h down
               entry(S.PARTIAL_OUTAGE, datetime(2026, 11, 19, 0, tzinfo=UTC)),
               entry(S.DEGRADED_PERFORMANCE, datetime(2026, 11, 19, 10, tzinfo=UTC)),  # 10 h at 30%
               entry(S.OPERATIONAL, datetime(2026, 11, 19, 12, tzinfo=UTC)),
               entry(S.MAJOR_OUTAGE, NOW, component="Website")]  # another component's: not counted
    found = uptime(history, "API", NOW, "UTC")
    assert len(found.days) == 90 and found.days[-1].day == date(2026, 11, 20)
    by_day = {d.day: d for d in found.days}
    assert by_day[date(2026, 11, 18)].status is S.MAJOR_OUTAGE and by_day[date(2026, 11, 18)].down_s == 6 * 3600
    assert by_day[date(2026, 11, 19)].status is S.PARTIAL_OUTAGE and by_day[date(2026, 11, 19)].down_s == 3 * 3600
    assert by_day[date(2026, 11, 17)].status is S.OPERATIONAL and by_day[date(2026, 11, 20)].status is S.OPERATIONAL
    span = (NOW - datetime(2026, 8, 23, tzinfo=UTC)).total_seconds()  # 89 whole days and 12 hours
    assert abs(found.share - (1 - 9 * 3600 / span)) < 1e-9


def test_the_state_before_the_window_carries_into_it_and_days_follow_the_pages_zone():
    """An outage that began 100 days ago and is still on colours every day; in Berlin the day of the autumn change
    has 25 hours and is still one bar."""
    history = [entry(S.MAJOR_OUTAGE, NOW - timedelta(days=100))]
    found = uptime(history, "API", NOW, "Europe/Berlin")
    assert {d.status for d in found.days} == {S.MAJOR_OUTAGE} and found.share == 0.0
    october_25 = next(d for d in found.days if d.day == date(2026, 10, 25))
    assert october_25.down_s == 25 * 3600


@settings(max_examples=200, deadline=None)
@given(changes=st.lists(st.tuples(st.sampled_from(list(S)), st.integers(min_value=0, max_value=120 * 24 * 60)),
                        max_size=20),
       zone=st.sampled_from(["UTC", "Europe/Berlin", "America/New_York", "Australia/Sydney", "Asia/Kolkata"]))
def test_ninety_bars_and_a_share_between_nothing_and_everything(changes, zone):
    history = [entry(status, NOW - timedelta(minutes=minutes)) for status, minutes in changes]
    found = uptime(history, "API", NOW, zone)
    assert len(found.days) == 90 and 0.0 <= found.share <= 1.0
    assert [d.day for d in found.days] == sorted({d.day for d in found.days})
    if not any(status in (S.MAJOR_OUTAGE, S.PARTIAL_OUTAGE) for status, _ in changes):
        assert found.share == 1.0
