"""Parsing and showing times. Everything is stored as timezone-aware UTC."""
from __future__ import annotations

import re
from datetime import UTC, date, datetime, timedelta

_PART = r"[0-9]{1,12}\s*(?:s|min|m|h|d|w)"
_DURATION = re.compile(rf"^\s*(?:{_PART}\s*)+$", re.IGNORECASE | re.ASCII)  # 15m, 2h30m, 1h 30m
_PARTS = re.compile(r"([0-9]{1,12})\s*(s|min|m|h|d|w)", re.IGNORECASE | re.ASCII)
MAX_DURATION = timedelta(days=3650)
_UNIT_SECONDS = {"s": 1, "m": 60, "min": 60, "h": 3600, "d": 86400, "w": 604800}


def utcnow() -> datetime:
    return datetime.now(UTC)


def parse_duration(text: str) -> timedelta:
    """'15m', '1h', '2d', '2h30m', '1h 30m' -> timedelta. Raises ValueError with a readable message."""
    if not _DURATION.match(str(text)):
        raise ValueError(f"'{text}' is not a duration; use a number and a unit, like 15m, 4h, 2d or 2h30m")
    seconds = sum(int(amount) * _UNIT_SECONDS[unit.lower()] for amount, unit in _PARTS.findall(str(text)))
    if seconds > MAX_DURATION.total_seconds():
        raise ValueError(f"'{text}' is longer than ten years; give a shorter duration")
    return timedelta(seconds=seconds)


def format_duration(delta: timedelta | None) -> str:
    if delta is None:
        return "—"
    seconds = int(delta.total_seconds())
    days, seconds = divmod(seconds, 86400)
    hours, seconds = divmod(seconds, 3600)
    minutes, seconds = divmod(seconds, 60)
    parts = [f"{days}d"] if days else []
    if hours:
        parts.append(f"{hours}h")
    if minutes:
        parts.append(f"{minutes}m")
    if not parts:
        parts.append(f"{seconds}s")
    return " ".join(parts)


def parse_date(text: str) -> date:
    """A due date: ISO 'YYYY-MM-DD'."""
    try:
        return date.fromisoformat(text)
    except ValueError as exc:
        raise ValueError(f"'{text}' is not a date; use YYYY-MM-DD, like 2026-12-01") from exc


_AGO = re.compile(rf"^\s*-\s*((?:{_PART}\s*)+)$", re.IGNORECASE | re.ASCII)


def parse_moment(text: str, now: datetime) -> datetime:
    """A past moment: relative ('-25m', '-2h') or with its date ('2026-11-24 09:15', '2026-11-24T09:15Z',
    with an offset or taken as UTC). Raises ValueError with a readable message."""
    relative = _AGO.match(text)
    if relative:
        return now - parse_duration(relative.group(1))
    try:
        moment = datetime.fromisoformat(text.strip().replace("Z", "+00:00").replace("z", "+00:00"))
    except ValueError as exc:
        raise ValueError(f"'{text}' is not a time; give it with its date, like 2026-11-24 09:15 (UTC), "
                         "or relative, like -25m") from exc
    if len(text.strip()) <= 10:
        raise ValueError(f"'{text}' has no time of day; add one, like {text.strip()} 09:15")
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def show(moment: datetime | None) -> str:
    """Times are always shown with their date and zone."""
    if moment is None:
        return "—"
    return moment.astimezone(UTC).strftime("%Y-%m-%d %H:%M UTC")


def next_business_day_end(moment: datetime) -> datetime:
    """End of the next weekday after `moment` (UTC): the P3 'next business day' target."""
    day = moment.astimezone(UTC).date() + timedelta(days=1)
    while day.weekday() >= 5:
        day += timedelta(days=1)
    return datetime(day.year, day.month, day.day, 23, 59, 59, tzinfo=UTC)


_CLOCK_TIME = re.compile(r"^([01]?[0-9]|2[0-3]):([0-5][0-9])$")


def parse_eta(text: str, now: datetime) -> datetime:
    """An estimated time: a duration from now ('30m'), a UTC time of day ('14:30', the next one) or an ISO
    time ('2026-05-01T14:30Z'; no zone means UTC). Raises ValueError with a readable message."""
    text = text.strip()
    clock = _CLOCK_TIME.match(text)
    if clock:
        moment = now.astimezone(UTC).replace(hour=int(clock.group(1)), minute=int(clock.group(2)), second=0,
                                             microsecond=0)
        return moment if moment > now else moment + timedelta(days=1)
    if _DURATION.match(text):
        return now + parse_duration(text)
    try:
        moment = datetime.fromisoformat(text)
    except ValueError as exc:
        raise ValueError(f"'{text}' is not an ETA; use a duration like 30m, a UTC time like 14:30 or an ISO time "
                         "like 2026-05-01T14:30Z") from exc
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)
