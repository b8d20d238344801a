"""/oncall: who is on call now in every schedule, or in one at a time (`--at`)."""
from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from bot.config.oncall import Window
from bot.core.oncall import Shift, count_pages, hours_report, next_shift, on_call, shifts
from bot.core.oncall_overrides import Overrides
from bot.errors import NotFound, UsageError
from bot.timeparse import parse_eta, parse_moment
from bot.views import oncall as views
from bot.views.model import Reply
from commands.base import CommandSet, Context, Services, SubCommand
from commands.parsing import split_options


def _schedules(services: Services):
    return services.incidents.catalog.oncall.schedules


def _overrides(services: Services) -> Overrides:
    return Overrides(services.incidents.store, services.incidents.catalog, services.incidents.clock)


def _viewer(ctx: Context) -> ZoneInfo | None:
    """The asker's own zone, when the surface knows it and it is a real one."""
    try:
        return ZoneInfo(ctx.zone) if ctx.zone else None
    except (ValueError, KeyError):  # ZoneInfoNotFoundError is a KeyError
        return None


def _now(services: Services, ctx: Context, text: str) -> Reply:
    if text:
        return _one(services, ctx, text)
    now = services.incidents.clock()
    rows: list[tuple[str, ZoneInfo, Shift, Shift | None]] = []
    overrides = _overrides(services)
    for name, schedule in _schedules(services).items():
        active = overrides.active(name)
        shift = on_call(schedule, now, active)
        rows.append((name, schedule.zone, shift, next_shift(schedule, shift, now, active)))
    return views.on_call_now(rows, _viewer(ctx))


def _one(services: Services, ctx: Context, text: str) -> Reply:
    parsed = split_options(text, {"at": True}, COMMAND.usage("who"))
    name, schedule = _schedule(services, parsed.positional.strip())
    now = services.incidents.clock()
    at = now
    if "at" in parsed.options:
        given = str(parsed.options["at"])
        try:  # a past moment ('-2h', '2026-11-24 09:15') or a coming one ('30m', '14:30', an ISO time)
            at = parse_moment(given, now) if given.startswith("-") or " " in given else parse_eta(given, now)
        except ValueError as exc:
            raise UsageError(f"{exc}.", COMMAND.usage("who")) from exc
    return views.on_call_at(name, schedule.zone, at, on_call(schedule, at, _overrides(services).active(name)),
                            _viewer(ctx))


def _shifts(services: Services, ctx: Context, text: str) -> Reply:
    parsed = split_options(text, {"days": True, "user": True}, COMMAND.usage("shifts"))
    name, schedule = _schedule(services, parsed.positional.strip())
    days = str(parsed.options.get("days", "14"))
    if not days.isdigit() or not 1 <= int(days) <= 90:
        raise UsageError("--days is a number of days from 1 to 90.", COMMAND.usage("shifts"))
    user = str(parsed.options["user"]).lstrip("@").strip("<>").lstrip("@") if "user" in parsed.options else None
    now = services.incidents.clock()
    found = shifts(schedule, now, now + timedelta(days=int(days)), overrides=_overrides(services).active(name))
    return views.shift_list(name, schedule.zone, [s for s in found if user is None or s.user == user], int(days),
                            _viewer(ctx))


def _report(services: Services, ctx: Context, text: str) -> Reply:
    parsed = split_options(text, {"month": True}, COMMAND.usage("report"))
    name, schedule = _schedule(services, parsed.positional.strip())
    now = services.incidents.clock().astimezone(schedule.zone)
    month = str(parsed.options.get("month", f"{now:%Y-%m}"))
    try:
        first = datetime.strptime(month, "%Y-%m").replace(tzinfo=schedule.zone)
    except ValueError as exc:
        raise UsageError(f"'{month[:20]}' is not a month like 2026-11.", COMMAND.usage("report")) from exc
    after = (first + timedelta(days=32)).replace(day=1)
    business = Window(services.incidents.catalog.oncall.business_hours)
    start, end = first.astimezone(UTC), after.astimezone(UTC)
    report = hours_report(schedule, business, start, end, _overrides(services).active(name))
    count_pages(report, services.incidents.store.sent_reminders("inc:", start, end), business, schedule.zone)
    return views.hours(name, month, report)


def _override(services: Services, ctx: Context, text: str) -> Reply:
    """override <schedule> @U <from> <to> [reason] | override cancel OV-n"""
    words = text.split()
    overrides = _overrides(services)
    if words[:1] == ["cancel"] and len(words) == 2:
        return views.override_cancelled(overrides.cancel(ctx.user, words[1]))
    if len(words) < 4:
        raise UsageError("Give the schedule, the person, and from and to.", COMMAND.usage("override"))
    name, who, start_text, end_text = words[:4]
    _schedule(services, name)
    now = services.incidents.clock()
    try:
        start = now if start_text == "now" else parse_eta(start_text, now)
        end = parse_eta(end_text, start)
    except ValueError as exc:
        raise UsageError(f"{exc}.", COMMAND.usage("override")) from exc
    user = who.lstrip("<@").rstrip(">").split("|")[0].lstrip("@")
    schedule = _schedules(services)[name]
    before = on_call(schedule, now, overrides.active(name)).user
    override = overrides.add(ctx.user, name, user, start, end, " ".join(words[4:]))
    after = on_call(schedule, now, overrides.active(name)).user
    return views.override_added(override, schedule.zone, before if before != after else None)


def _list_overrides(services: Services, ctx: Context, text: str) -> Reply:
    name, schedule = _schedule(services, text.strip())
    now = services.incidents.clock()
    return views.override_list(name, schedule.zone, [o for o in _overrides(services).active(name) if o.end > now])


def _schedule(services: Services, name: str):
    schedules = _schedules(services)
    if name not in schedules:
        known = ", ".join(schedules) or "none (add `oncall:` to opsbot.yml)"
        raise NotFound(f"There is no on-call schedule '{name[:60]}'. Schedules: {known}.")
    return name, schedules[name]


COMMAND = CommandSet("/oncall", "Who is on call", "[<schedule> [--at 14:30]] | shifts <schedule> | help",
                     "Times are shown in UTC, in the schedule's own zone and in yours.", [
    SubCommand("shifts", "/oncall shifts <schedule> [--days 14] [--user @U]", "the coming shifts, gaps included",
               _shifts),
    SubCommand("override", "/oncall override <schedule> @U <from> <to> [reason] | /oncall override cancel OV-n",
               "someone takes the schedule for a while (wins over every layer; audited)", _override),
    SubCommand("overrides", "/oncall overrides <schedule>", "the overrides now and to come", _list_overrides),
    SubCommand("report", "/oncall report <schedule> [--month 2026-11]",
               "hours on call per person (business, other waking, night) and pages out of business hours", _report),
], bare=_now)
