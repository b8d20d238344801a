"""Who is on call at an instant, from a schedule of layers (bot/config/oncall.py): the last layer that has someone
wins; a layer's shift is found by counting whole rotations from its start — wall-clock days for daily and weekly
(so handoffs keep their local time across daylight saving), elapsed time for a duration — and cut to the layer's
restricted windows. Times in and out are UTC; the arithmetic is done on the schedule's wall clock."""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from bot.config.oncall import Layer, Schedule, Window
from bot.core.oncall_overrides import Override
from bot.core.reminders import Reminder
from bot.timeparse import parse_duration

_WALL = {"daily": 1, "weekly": 7}
GAP_STEP = timedelta(minutes=15)
REPORT_STEP = timedelta(minutes=15)  # how finely a gap's end is found (windows start on the quarter hour or coarser)


@dataclass(frozen=True)
class Shift:
    user: str | None  # None: a gap, nobody on call
    layer: str | None
    start: datetime | None  # UTC; None for a gap
    end: datetime | None


def on_call(schedule: Schedule, at: datetime, overrides: Sequence[Override] = ()) -> Shift:
    """The final shift holding `at` (UTC): an override holding it (the newest wins), else the last layer that has
    someone — from where its own shift begins or an override or later layer hands back, to where its shift ends or
    an override or later layer takes over."""
    covering = [o for o in overrides if not o.cancelled and o.start <= at < o.end]
    if covering:
        override = max(covering, key=lambda o: o.id)
        later = [o for o in overrides if not o.cancelled and o.id > override.id and at < o.start < override.end]
        return Shift(override.user, f"override {override.ref}", override.start,
                     min([override.end, *(o.start for o in later)]))
    shift = _layered(schedule, at)
    if shift.user is None or shift.start is None or shift.end is None:
        return shift
    live = [o for o in overrides if not o.cancelled]
    starts = [o.start for o in live if at < o.start < shift.end]
    ends = [o.end for o in live if shift.start < o.end <= at]
    return Shift(shift.user, shift.layer, max([shift.start, *ends]), min([shift.end, *starts]))


def _layered(schedule: Schedule, at: datetime) -> Shift:
    layers = schedule.layers
    for index in range(len(layers) - 1, -1, -1):
        found = layer_shift(schedule.zone, layers[index], at)
        if found is not None and found.start is not None and found.end is not None:
            later = layers[index + 1:]
            takeovers = [when for layer in later if (when := next_start(schedule.zone, layer, at, found.end)) is not None]
            handbacks = [when for layer in later if (when := last_end(schedule.zone, layer, found.start, at)) is not None]
            return Shift(found.user, found.layer, max([found.start, *handbacks]), min([found.end, *takeovers]))
    return Shift(None, None, None, None)


def last_end(zone: ZoneInfo, layer: Layer, after: datetime, until: datetime) -> datetime | None:
    """The last instant in (after, until] at which a restricted layer stopped having someone, or None."""
    local = until.astimezone(zone).replace(tzinfo=None)
    ends = []
    for days in range(-8, 1):
        day = (local + timedelta(days=days)).date()
        for window in layer.windows:
            if day.weekday() in window.days:
                stops = _utc(datetime.combine(day, window.start) + window.length, zone)
                if after < stops <= until and stops > _utc(layer.start, zone):
                    ends.append(stops)
    return max(ends, default=None)


def next_start(zone: ZoneInfo, layer: Layer, after: datetime, before: datetime) -> datetime | None:
    """The first instant after `after` (and before `before`) at which this layer has someone, or None."""
    first = _utc(layer.start, zone)
    windows = layer.windows
    if not windows:
        return first if after < first < before else None
    local = after.astimezone(zone).replace(tzinfo=None)
    candidates = []
    for days in range(9):
        day = (local + timedelta(days=days)).date()
        for window in windows:
            if day.weekday() in window.days:
                begins = _utc(datetime.combine(day, window.start), zone)
                if after < begins < before and begins >= first:
                    candidates.append(begins)
    return min(candidates, default=None)


def next_shift(schedule: Schedule, after: Shift, at: datetime, overrides: Sequence[Override] = ()) -> Shift:
    """Whoever takes over when this shift ends (a gap's successor is not searched for)."""
    if after.end is None:
        return Shift(None, None, None, None)
    return on_call(schedule, after.end, overrides)


def shifts(schedule: Schedule, start: datetime, end: datetime, limit: int = 500,
           overrides: Sequence[Override] = ()) -> list[Shift]:
    """The final shifts from `start` to `end`, in order: each one, and each gap (user None) with its bounds."""
    found: list[Shift] = []
    at = start
    while at < end and len(found) < limit:
        shift = on_call(schedule, at, overrides)
        if shift.user is None:  # a gap: it lasts until the next shift begins
            probe = at + GAP_STEP
            while probe < end and (taken := on_call(schedule, probe, overrides)).user is None:
                probe += GAP_STEP
            resumes = taken.start if probe < end and taken.start is not None else end
            shift = Shift(None, None, at, max(resumes, at + timedelta(microseconds=1)))
        assert shift.end is not None
        found.append(shift)
        at = shift.end
    return found


@dataclass
class Hours:
    business: float = 0.0
    waking: float = 0.0  # other waking hours
    night: float = 0.0  # 22:00-07:00 local
    pages_out_of_hours: int = 0  # pages this person received outside business hours (escalation DMs)

    @property
    def total(self) -> float:
        return self.business + self.waking + self.night


def hours_report(schedule: Schedule, business: Window, start: datetime, end: datetime,
                 overrides: Sequence[Override] = ()) -> dict[str, Hours]:
    """Hours on call per person between two instants, each quarter hour counted where it falls on the schedule's
    wall clock: business hours, other waking hours, or night (22:00-07:00)."""
    report: dict[str, Hours] = {}
    for shift in shifts(schedule, start, end, limit=10_000, overrides=overrides):
        if shift.user is None or shift.start is None or shift.end is None:
            continue
        hours = report.setdefault(shift.user, Hours())
        at = max(shift.start, start)
        stop = min(shift.end, end)
        while at < stop:
            step = min(REPORT_STEP, stop - at)
            local = at.astimezone(schedule.zone).replace(tzinfo=None)
            share = step / timedelta(hours=1)
            if business.around(local) is not None:
                hours.business += share
            elif local.hour >= 22 or local.hour < 7:
                hours.night += share
            else:
                hours.waking += share
            at += step
    return report


def count_pages(report: dict[str, Hours], pages: Sequence[Reminder], business: Window, zone: ZoneInfo) -> None:
    """Add to each person of the report the pages they received outside business hours, on the schedule's wall
    clock (a page is an escalation sent to them directly: an `escalation_dm`)."""
    for page in pages:
        if page.kind != "escalation_dm" or page.channel not in report:
            continue
        local = (page.sent_at or page.due_at).astimezone(zone).replace(tzinfo=None)
        if business.around(local) is None:
            report[page.channel].pages_out_of_hours += 1


def layer_shift(zone: ZoneInfo, layer: Layer, at: datetime) -> Shift | None:
    local = at.astimezone(zone).replace(tzinfo=None)  # the wall clock at that instant
    if layer.rotation in _WALL:
        if local < layer.start:
            return None
        length = timedelta(days=_WALL[layer.rotation])
        index = (local - layer.start) // length  # whole wall-clock rotations: 23- and 25-hour days count as days
        begins_local = layer.start + index * length
        begins, ends = _utc(begins_local, zone), _utc(begins_local + length, zone)
    else:
        first = _utc(layer.start, zone)
        if at < first:
            return None
        length = parse_duration(layer.rotation)
        index = (at - first) // length
        begins, ends = first + index * length, first + (index + 1) * length
    user = layer.users[index % len(layer.users)]
    windows = layer.windows
    if windows:
        held = next((found for window in windows if (found := window.around(local)) is not None), None)
        if held is None:
            return None
        begins, ends = max(begins, _utc(held[0], zone)), min(ends, _utc(held[1], zone))
    return Shift(user, layer.name, begins, ends)


def _utc(wall: datetime, zone: ZoneInfo) -> datetime:
    """A wall-clock time in the zone as UTC (a time skipped by daylight saving counts as the hour before it)."""
    return wall.replace(tzinfo=zone).astimezone(UTC)
