"""`/maint`: planned maintenance windows, recurring reminders and their checklists."""
from __future__ import annotations

import re

from bot.core.maintenance import parse_start
from bot.core.ops import Actor
from bot.errors import UsageError
from bot.timeparse import parse_duration
from bot.views import maint as views
from bot.views.model import Reply
from commands.base import CommandSet, Context, Services, SubCommand
from commands.parsing import first_word, split_options, unquote, whole_number

_WINDOW_ID = re.compile(r"^mw-?([0-9]{1,12})$", re.IGNORECASE)
_CHECKLIST_ID = re.compile(r"^cl-?([0-9]{1,12})$", re.IGNORECASE)


def _actor(ctx: Context, text: str) -> Actor:
    return Actor(user=ctx.user, channel=ctx.channel, command=f"/maint {text}")


def _id(pattern: re.Pattern, word: str, what: str, example: str, name: str) -> int:
    match = pattern.match(word or "")
    if not match:
        raise UsageError(f"'{word}' is not a {what} id; use one like {example}." if word else f"Give the {what} id.",
                         COMMAND.usage(name))
    return int(match.group(1))


def _schedule(services: Services, ctx: Context, text: str) -> Reply:
    maintenance = services.maintenance
    parsed = split_options(text, {"public": False, "private": False, "components": True}, COMMAND.usage("schedule"))
    if "public" in parsed.options and "private" in parsed.options:
        raise UsageError("Say --public or --private, not both.", COMMAND.usage("schedule"))
    public = True if "public" in parsed.options else False if "private" in parsed.options else None
    components = [c.strip() for c in str(parsed.options["components"]).split(",") if c.strip()] \
        if "components" in parsed.options else None
    if components is not None and not components:
        raise UsageError("--components names the status page's components, like --components API,Website.",
                         COMMAND.usage("schedule"))
    text = parsed.positional
    env, rest = first_word(text)
    words = rest.split()
    if not env or len(words) < 3:
        raise UsageError("Give the environment, the start, the duration and a title.", COMMAND.usage("schedule"))
    starts_at, used = parse_start(words, maintenance.clock(), maintenance.settings.timezone)
    duration_word, title = first_word(rest.split(None, used)[used] if len(words) > used else "")
    try:
        duration = parse_duration(duration_word)
    except ValueError as exc:
        raise UsageError(f"{exc}.", COMMAND.usage("schedule")) from exc
    window = maintenance.schedule(_actor(ctx, f"schedule {text}"), env, starts_at, duration, unquote(title),
                                  public=public, components=components)
    return views.scheduled(window, ctx.user, maintenance.notices(window.id),
                           max(maintenance.settings.lead_times, default=None), maintenance.clock())


def _list(services: Services, ctx: Context, text: str) -> Reply:
    parsed = split_options(text, {"all": False}, COMMAND.usage("list"))
    if parsed.positional:
        raise UsageError(f"Unexpected '{parsed.positional}'.", COMMAND.usage("list"))
    maintenance = services.maintenance
    return views.windows(maintenance.windows(include_finished=bool(parsed.options.get("all"))),
                         maintenance.next_recurring(), maintenance.clock())


def _cancel(services: Services, ctx: Context, text: str) -> Reply:
    word, rest = first_word(text)
    if rest:
        raise UsageError(f"Unexpected '{rest}'.", COMMAND.usage("cancel"))
    window = services.maintenance.cancel(_actor(ctx, f"cancel {text}"), _id(_WINDOW_ID, word, "window", "MW-1", "cancel"))
    return views.cancelled(window, ctx.user)


def _extend(services: Services, ctx: Context, text: str) -> Reply:
    words = text.split()
    if len(words) != 2:
        raise UsageError("Give the window id and how much longer.", COMMAND.usage("extend"))
    try:
        by = parse_duration(words[1])
    except ValueError as exc:
        raise UsageError(f"{exc}.", COMMAND.usage("extend")) from exc
    window = services.maintenance.extend(_actor(ctx, f"extend {text}"),
                                         _id(_WINDOW_ID, words[0], "window", "MW-1", "extend"), by)
    return views.extended(window, ctx.user, by)


def _checklist(services: Services, ctx: Context, text: str) -> Reply:
    word, rest = first_word(text)
    if rest:
        raise UsageError(f"Unexpected '{rest}'.", COMMAND.usage("checklist"))
    return views.checklist_view(services.maintenance.checklist(_id(_CHECKLIST_ID, word, "checklist", "CL-1", "checklist")))


def _ticker(checked: bool):
    name = "tick" if checked else "untick"

    def run(services: Services, ctx: Context, text: str) -> Reply:
        words = text.split()
        if len(words) < 2:
            raise UsageError("Give the checklist id and the item numbers.", COMMAND.usage(name))
        checklist_id = _id(_CHECKLIST_ID, words[0], "checklist", "CL-1", name)
        if not all(whole_number(word) is not None for word in words[1:]):
            raise UsageError("Items are numbers, like 1 or 2 3.", COMMAND.usage(name))
        items = {int(word) for word in words[1:]}
        return views.checklist_view(services.maintenance.mark(ctx.user, checklist_id, items, checked))

    return run


COMMAND = CommandSet("/maint", "Maintenance reminders and windows",
                     "schedule <env> sun 02:00 2h <title> | list | cancel MW-1 | help",
                     "Times without a zone are in the scheduler's time zone.", [
    SubCommand("schedule", '/maint schedule <env> <2026-12-06T02:00Z | sun 02:00 | in 3h> <duration> "<title>" '
               "[--public|--private] [--components A,B]",
               "plan a maintenance window (notices 48 h and 24 h ahead, at start and end; --public: on the status "
               "page)", _schedule),
    SubCommand("list", "/maint list [--all]", "upcoming and active windows, and the recurring reminders", _list),
    SubCommand("cancel", "/maint cancel <MW-n>", "cancel a window", _cancel),
    SubCommand("extend", "/maint extend <MW-n> <duration>", "make a window longer", _extend),
    SubCommand("checklist", "/maint checklist <CL-n>", "who ticked what on a checklist", _checklist),
    SubCommand("tick", "/maint tick <CL-n> <item> [<item> …]", "tick checklist items (Slack: the checkboxes)",
               _ticker(True)),
    SubCommand("untick", "/maint untick <CL-n> <item> [<item> …]", "untick checklist items", _ticker(False)),
])
