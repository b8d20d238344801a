"""Who is on call, as every surface shows it: UTC and the schedule's own wall clock side by side, and the viewer's
own clock when it is neither (their Slack profile's zone; the console's machine zone)."""
from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

from bot.core.oncall import Hours, Shift
from bot.core.oncall_overrides import Override
from bot.timeparse import show
from bot.views.model import Em, Headline, Line, Mention, Reply, Strong, line, lines, reply

_UTC = ("UTC", "Etc/UTC", "Etc/GMT", "GMT", "Etc/Universal", "Universal", "Etc/Zulu", "Zulu")  # shown already


def _local(moment: datetime | None, zone: ZoneInfo, viewer: ZoneInfo | None = None) -> str:
    if moment is None:
        return "—"
    yours = f"; {moment.astimezone(viewer):%a %H:%M} yours, {viewer.key}" \
        if viewer is not None and viewer.key not in (zone.key, *_UTC) else ""
    return f"{show(moment)} ({moment.astimezone(zone):%a %H:%M} {zone.key}{yours})"


def shift_line(name: str, zone: ZoneInfo, now: Shift, coming: Shift | None, viewer: ZoneInfo | None = None) -> Line:
    following = line(" · next ", Mention(coming.user), f" from {_local(coming.start, zone, viewer)}") \
        if coming is not None and coming.user else ""
    if now.user is None:
        return line(Strong(name), ": ", Em("nobody is on call (a gap in the schedule)"), following)
    return line(Strong(name), ": ", Mention(now.user), f" ({now.layer}) since {_local(now.start, zone, viewer)} until "
                f"{_local(now.end, zone, viewer)}", following)


def on_call_now(rows: list[tuple[str, ZoneInfo, Shift, Shift | None]], viewer: ZoneInfo | None = None) -> Reply:
    items = [shift_line(name, zone, now, coming, viewer) for name, zone, now, coming in rows]
    return reply("On call", Headline("On call"), lines(items or [line("No schedules: add `oncall:` to opsbot.yml.")]))


def shift_list(name: str, zone: ZoneInfo, found: list[Shift], days: int, viewer: ZoneInfo | None = None) -> Reply:
    title = f"Shifts · {name} · next {days} days"
    items = [line(Mention(s.user) if s.user else Em("nobody (a gap)"),
                  f" — {_local(s.start, zone, viewer)} → {_local(s.end, zone, viewer)}",
                  f" (override {s.layer.removeprefix('override ')})" if s.layer and s.layer.startswith("override") else "")
             for s in found]
    return reply(title, Headline(title), lines(items or [line("No shifts in that time.")]))


def hours(name: str, month: str, report: dict[str, Hours]) -> Reply:
    title = f"On-call hours · {name} · {month}"
    items = [line(Mention(user), f" — {h.total:.1f} h: {h.business:.1f} business, {h.waking:.1f} other waking, "
                                 f"{h.night:.1f} night; {_pages(h.pages_out_of_hours)} out of business hours")
             for user, h in sorted(report.items(), key=lambda i: -i[1].total)]
    return reply(title, Headline(title), lines(items or [line("Nobody was on call that month.")]))


def _pages(count: int) -> str:
    return "1 page" if count == 1 else f"{count} pages"


def override_added(override: Override, zone: ZoneInfo, replaced: str | None) -> Reply:
    now = line(" It changes who is on call now: ", Mention(replaced), " hands over to ", Mention(override.user), ".") \
        if replaced else ""
    message = line("🔁 ", override.ref, ": ", Mention(override.user), f" is on call for {override.schedule} from "
                   f"{_local(override.start, zone)} to {_local(override.end, zone)}", now)
    return reply(message, lines([message]), ephemeral=False)


def override_cancelled(override: Override) -> Reply:
    return reply(line(f"{override.ref} is cancelled: ", Mention(override.user), f" no longer takes {override.schedule}."))


def override_list(name: str, zone: ZoneInfo, overrides: list[Override]) -> Reply:
    title = f"Overrides · {name}"
    items = [line(f"{o.ref} ", Mention(o.user), f" — {_local(o.start, zone)} → {_local(o.end, zone)}",
                  f" ({o.reason})" if o.reason else "", " · by ", Mention(o.by)) for o in overrides]
    return reply(title, Headline(title), lines(items or [line("No overrides now or to come.")]))


def on_call_at(name: str, zone: ZoneInfo, at: datetime, shift: Shift, viewer: ZoneInfo | None = None) -> Reply:
    title = f"On call · {name} at {show(at)}"
    return reply(title, Headline(title), lines([shift_line(name, zone, shift, None, viewer)]))
