"""Cron expressions as APScheduler triggers: the one place opsbot interprets a cron line."""
from __future__ import annotations

import re
from datetime import datetime
from zoneinfo import ZoneInfo

from apscheduler.triggers.cron import CronTrigger

# APScheduler numbers weekdays from Monday=0 while crontab uses Sunday=0; names are unambiguous.
_WEEKDAY_NUMBER = re.compile(r"\d")


def cron_trigger(expression: str, timezone: str) -> CronTrigger:
    """A crontab line (minute hour day month weekday) as an APScheduler trigger in `timezone`."""
    fields = expression.split()
    if len(fields) != 5:
        raise ValueError(f"'{expression}' is not a cron expression: give 5 fields (minute hour day month weekday)")
    if _WEEKDAY_NUMBER.search(fields[4]):
        raise ValueError(f"'{fields[4]}': use weekday names (mon-fri, sun), not numbers")
    return CronTrigger.from_crontab(expression, timezone=ZoneInfo(timezone))


def next_fire(expression: str, timezone: str, after: datetime) -> datetime | None:
    """When a cron line next fires after `after` (the core's view of the scheduler: plain datetimes)."""
    return cron_trigger(expression, timezone).get_next_fire_time(None, after)
