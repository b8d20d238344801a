"""`oncall:` in opsbot.yml — schedules of layers, PagerDuty's model: a layer's shifts follow each other from its
`start` in the order of its users, cycling; `daily`/`weekly` are wall-clock lengths in the schedule's zone (a shift
across a daylight-saving change is 23 or 25 hours; handoffs stay at the same local time), a duration is elapsed
time. `restrict` keeps a layer to local windows ("mon-fri 09:00-17:00"; "sat-sun 22:00-06:00" crosses midnight).
At an instant the last layer that has someone wins (bot/core/oncall.py)."""
from __future__ import annotations

import re
from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo

from pydantic import Field, field_validator

from bot.config.fields import Strict
from bot.config.schedule import check_timezone
from bot.timeparse import parse_duration

DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
_WINDOW = re.compile(r"\s*([a-z]{3})(?:-([a-z]{3}))?\s+([0-9]{2}):([0-9]{2})-([0-9]{2}):([0-9]{2})\s*")
_SLACK_USER = re.compile(r"[UW][A-Z0-9]{2,}")


class Window:
    """A weekly local window: the days it starts on, its start, and its length (crossing midnight when the end is
    not after the start)."""

    def __init__(self, text: str):
        found = _WINDOW.fullmatch(text.lower())
        if not found or found.group(1) not in DAYS or (found.group(2) and found.group(2) not in DAYS):
            raise ValueError(f"'{text}' is not a window; write it like \"mon-fri 09:00-17:00\"")
        first, last = DAYS.index(found.group(1)), DAYS.index(found.group(2) or found.group(1))
        self.days = {d % 7 for d in range(first, last + (7 if last < first else 0) + 1)}
        hours = [int(found.group(n)) for n in (3, 4, 5, 6)]
        if hours[0] > 23 or hours[2] > 24 or hours[1] > 59 or hours[3] > 59:
            raise ValueError(f"'{text}': hours run 00:00-24:00")
        self.start = time(hours[0], hours[1])
        end_minutes = hours[2] * 60 + hours[3]
        start_minutes = hours[0] * 60 + hours[1]
        self.length = timedelta(minutes=(end_minutes - start_minutes) % (24 * 60) or 24 * 60)

    def around(self, local: datetime) -> tuple[datetime, datetime] | None:
        """The (naive local) window holding this naive local moment, if any."""
        for back in (0, 1):
            day = (local - timedelta(days=back)).date()
            if day.weekday() in self.days:
                begins = datetime.combine(day, self.start)
                if begins <= local < begins + self.length:
                    return begins, begins + self.length
        return None


class Layer(Strict):
    name: str
    users: list[str] = Field(min_length=1)
    rotation: str = "weekly"  # daily | weekly | a duration (12h, 90m; at least 1m)
    start: datetime  # the first shift begins then, in the schedule's zone (no offset: a wall-clock time)
    restrict: list[str] = Field(default_factory=list)

    @field_validator("users")
    @classmethod
    def _ids(cls, value: list[str]) -> list[str]:
        bad = [user for user in value if not _SLACK_USER.fullmatch(user)]
        if bad:
            raise ValueError(f"'{bad[0]}' is not a Slack user ID (U… or W…)")
        return value

    @field_validator("rotation")
    @classmethod
    def _rotation(cls, value: str) -> str:
        if value not in ("daily", "weekly") and parse_duration(value) < timedelta(minutes=1):
            raise ValueError("a rotation is daily, weekly or a duration of at least 1m")
        return value

    @field_validator("start")
    @classmethod
    def _wall_clock(cls, value: datetime) -> datetime:
        if value.tzinfo is not None:
            raise ValueError("start is a wall-clock time in the schedule's zone: leave out the offset")
        return value

    @field_validator("restrict")
    @classmethod
    def _windows(cls, value: list[str]) -> list[str]:
        for text in value:
            Window(text)
        return value

    @property
    def windows(self) -> list[Window]:
        return [Window(text) for text in self.restrict]


class Schedule(Strict):
    time_zone: str = "UTC"
    channel: str | None = None  # handoff notices
    slack_group: str | None = None  # a user group kept equal to whoever is on call
    layers: list[Layer] = Field(min_length=1)

    @field_validator("time_zone")
    @classmethod
    def _zone(cls, value: str) -> str:
        return check_timezone(value)

    @property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.time_zone)


class OnCall(Strict):
    business_hours: str = "mon-fri 09:00-18:00"  # for the hours report
    schedules: dict[str, Schedule] = Field(default_factory=dict)

    @field_validator("business_hours")
    @classmethod
    def _hours(cls, value: str) -> str:
        Window(value)
        return value
