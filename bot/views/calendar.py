"""An on-call schedule as iCalendar (RFC 5545): one event per final shift, its SUMMARY naming the user ID, times
with their zone, and a UID that stays the same for the same shift (schedule, user, start), so calendar apps
update rather than duplicate."""
from __future__ import annotations

import hashlib
from zoneinfo import ZoneInfo

from icalendar import Calendar, Event

from bot.core.oncall import Shift


def schedule_calendar(name: str, zone: ZoneInfo, found: list[Shift]) -> bytes:
    calendar = Calendar()
    calendar.add("prodid", "-//opsbot//on-call//EN")
    calendar.add("version", "2.0")
    calendar.add("x-wr-calname", f"On call: {name}")
    for shift in found:
        if shift.user is None or shift.start is None or shift.end is None:
            continue
        event = Event()
        uid = hashlib.sha256(f"{name}|{shift.user}|{shift.start.isoformat()}".encode()).hexdigest()[:32]
        event.add("uid", f"{uid}@opsbot")
        event.add("summary", f"On call ({name}): {shift.user}")
        event.add("dtstart", shift.start.astimezone(zone))
        event.add("dtend", shift.end.astimezone(zone))
        event.add("dtstamp", shift.start)
        calendar.add_component(event)
    return calendar.to_ical()
