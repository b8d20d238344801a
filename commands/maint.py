"""`/maint`: planned maintenance windows, recurring reminders and their checklists."""
from __future__ import annotations

import re

from bot.blocks import Reply, button, context, header, lines_to_sections, section
from bot.core.maintenance import parse_start
from bot.core.ops import Actor
from bot.core.reminders import Checklist, Reminder, Window
from bot.errors import UsageError
from bot.timeparse import format_duration, parse_duration, show
from commands.base import Context, Services
from commands.parsing import first_word, split_options, sub_command, unquote, usage_on_error

USAGE = {
    "schedule": '/maint schedule <env> <2026-12-06T02:00Z | sun 02:00 | in 3h> <duration> "<title>"',
    "list": "/maint list [--all]",
    "cancel": "/maint cancel <MW-n>",
    "extend": "/maint extend <MW-n> <duration>",
    "checklist": "/maint checklist <CL-n>",
    "tick": "/maint tick <CL-n> <item> [<item> …]",
    "untick": "/maint untick <CL-n> <item> [<item> …]",
    "help": "/maint help",
}
SUMMARY = {
    "schedule": "plan a maintenance window (notices 48 h and 24 h ahead, at start and end)",
    "list": "upcoming and active windows, and the recurring reminders", "cancel": "cancel a window",
    "extend": "make a window longer", "checklist": "who ticked what on a checklist",
    "tick": "tick checklist items (Slack: the checkboxes)", "untick": "untick checklist items", "help": "this help",
}
CHECK_ACTION = "maint_check"
MODE_ACTION = "maint_mode_on"
_WINDOW_ID = re.compile(r"^mw-?(\d+)$", re.IGNORECASE)
_CHECKLIST_ID = re.compile(r"^cl-?(\d+)$", re.IGNORECASE)


def help_reply() -> Reply:
    lines = [f"`{USAGE[name]}` — {SUMMARY[name]}" for name in USAGE]
    return Reply(text="/maint help", blocks=[header("/maint"), section("\n".join(lines)),
                                             context("Times without a zone are in the scheduler's time zone.")])


def handle(services: Services, ctx: Context, text: str) -> Reply:
    name, rest = sub_command(text, USAGE, "/maint")
    if name in ("", "help"):
        return help_reply()
    with usage_on_error(USAGE[name]):
        return HANDLERS[name](services, ctx, rest.strip())


def _actor(ctx: Context, text: str) -> Actor:
    return Actor(user=ctx.user, channel=ctx.channel, command=f"/maint {text}")


def _id(pattern: re.Pattern, word: str, what: str, example: str, name: str) -> int:
    match = pattern.match(word or "")
    if not match:
        raise UsageError(f"'{word}' is not a {what} id; use one like {example}." if word else f"Give the {what} id.",
                         USAGE[name])
    return int(match.group(1))


def _schedule(services: Services, ctx: Context, text: str) -> Reply:
    maintenance = services.maintenance
    env, rest = first_word(text)
    words = rest.split()
    if not env or len(words) < 3:
        raise UsageError("Give the environment, the start, the duration and a title.", USAGE["schedule"])
    starts_at, used = parse_start(words, maintenance.clock(), maintenance.settings.timezone)
    duration_word, title = first_word(rest.split(None, used)[used] if len(words) > used else "")
    try:
        duration = parse_duration(duration_word)
    except ValueError as exc:
        raise UsageError(f"{exc}.", USAGE["schedule"]) from None
    window = maintenance.schedule(_actor(ctx, f"schedule {text}"), env, starts_at, duration, unquote(title))
    notices = maintenance.notices(window.id)
    when = ", ".join(f"{r.kind.removeprefix('window_')} {show(r.due_at)}" for r in notices)
    reply = Reply(text=f"🗓️ {window.ref} scheduled: {window.env}, {show(window.starts_at)} → {show(window.ends_at)}",
                  blocks=[section(f"🗓️ *{window.ref}* scheduled by <@{ctx.user}> — *{window.env}*: {window.title}\n"
                                  f"{show(window.starts_at)} → {show(window.ends_at)} "
                                  f"({format_duration(window.ends_at - window.starts_at)})"),
                          context(f"Notices: {when}")])
    notice = max(maintenance.settings.lead_times, default=None)
    if notice and window.starts_at - maintenance.clock() < notice:
        reply.blocks.append(context(f"⚠️ Less than {format_duration(notice)} notice: the runbooks ask for "
                                    f"{format_duration(notice)} ahead, so tell stakeholders now."))
    reply.ephemeral = False
    return reply


def _list(services: Services, ctx: Context, text: str) -> Reply:
    parsed = split_options(text, {"all": False}, USAGE["list"])
    if parsed.positional:
        raise UsageError(f"Unexpected '{parsed.positional}'.", USAGE["list"])
    maintenance = services.maintenance
    now = maintenance.clock()
    windows = maintenance.windows(include_finished=bool(parsed.options.get("all")))
    lines = [_window_line(w, now) for w in windows] or ["No maintenance windows planned."]
    recurring = [f"• *{name}* — {title}: next {show(at)}" for name, title, at in maintenance.next_recurring()]
    blocks = [header("Maintenance windows"), *lines_to_sections(lines)]
    if recurring:
        blocks += [header("Recurring reminders"), *lines_to_sections(recurring)]
    return Reply(text="Maintenance windows", blocks=blocks)


def _window_line(window: Window, now) -> str:
    icon = {"upcoming": "🗓️", "active": "🛠️", "finished": "✅", "cancelled": "✖️"}[window.state(now)]
    return (f"{icon} *{window.ref}* {window.state(now)} · *{window.env}* · {window.title} · "
            f"{show(window.starts_at)} → {show(window.ends_at)}")


def _cancel(services: Services, ctx: Context, text: str) -> Reply:
    word, rest = first_word(text)
    if rest:
        raise UsageError(f"Unexpected '{rest}'.", USAGE["cancel"])
    window = services.maintenance.cancel(_actor(ctx, f"cancel {text}"), _id(_WINDOW_ID, word, "window", "MW-1", "cancel"))
    reply = Reply(text=f"{window.ref} cancelled", blocks=[section(
        f"✖️ *{window.ref}* ({window.env}: {window.title}) cancelled by <@{ctx.user}>; its notices are withdrawn.")])
    reply.ephemeral = False
    return reply


def _extend(services: Services, ctx: Context, text: str) -> Reply:
    words = text.split()
    if len(words) != 2:
        raise UsageError("Give the window id and how much longer.", USAGE["extend"])
    try:
        by = parse_duration(words[1])
    except ValueError as exc:
        raise UsageError(f"{exc}.", USAGE["extend"]) from None
    window = services.maintenance.extend(_actor(ctx, f"extend {text}"),
                                         _id(_WINDOW_ID, words[0], "window", "MW-1", "extend"), by)
    reply = Reply(text=f"{window.ref} extended", blocks=[section(
        f"⏩ *{window.ref}* ({window.env}: {window.title}) extended by {format_duration(by)} by <@{ctx.user}>; "
        f"it now ends {show(window.ends_at)}.")])
    reply.ephemeral = False
    return reply


def _checklist(services: Services, ctx: Context, text: str) -> Reply:
    word, rest = first_word(text)
    if rest:
        raise UsageError(f"Unexpected '{rest}'.", USAGE["checklist"])
    return checklist_view(services.maintenance.checklist(_id(_CHECKLIST_ID, word, "checklist", "CL-1", "checklist")))


def _ticker(checked: bool):
    name = "tick" if checked else "untick"

    def run(services: Services, ctx: Context, text: str) -> Reply:
        words = text.split()
        if len(words) < 2:
            raise UsageError("Give the checklist id and the item numbers.", USAGE[name])
        checklist_id = _id(_CHECKLIST_ID, words[0], "checklist", "CL-1", name)
        if not all(word.isdigit() for word in words[1:]):
            raise UsageError("Items are numbers, like 1 or 2 3.", USAGE[name])
        items = {int(word) for word in words[1:]}
        return checklist_view(services.maintenance.mark(ctx.user, checklist_id, items, checked))

    return run


def checklist_view(checklist: Checklist) -> Reply:
    checked = checklist.checked()
    lines = []
    for number, item in enumerate(checklist.items, start=1):
        tick = checked.get(number)
        lines.append(f"☑️ {number}. {item} — <@{tick.actor}>, {show(tick.at)}" if tick
                     else f"⬜ {number}. {item}")
    done = f"{len(checked)}/{len(checklist.items)} done"
    return Reply(text=f"{checklist.ref} {checklist.title}: {done}",
                 blocks=[header(f"{checklist.ref} · {checklist.title}"), *lines_to_sections(lines),
                         context(f"{done} · posted {show(checklist.created_at)}")])


def reminder_blocks(reminder: Reminder, checklist: Checklist | None) -> list[dict]:
    """A reminder as Slack shows it: its text, a checklist as checkboxes, a maintenance-mode button."""
    blocks = [section(reminder.text)]
    if checklist is not None:
        blocks.append({
            "type": "actions", "block_id": f"checklist:{checklist.id}",
            "elements": [{
                "type": "checkboxes", "action_id": CHECK_ACTION,
                "options": [{"text": {"type": "mrkdwn", "text": item[:75]}, "value": str(number)}
                            for number, item in enumerate(checklist.items, start=1)],
            }],
        })
        blocks.append(context(f"{checklist.ref} · {checklist.title} · `/maint checklist {checklist.ref}` shows "
                              "who ticked what"))
    if reminder.env:
        blocks.append({"type": "actions", "block_id": f"maintenance:{reminder.env}",
                       "elements": [button(f"Turn maintenance mode on in {reminder.env}", MODE_ACTION,
                                           reminder.env, style="danger")]})
    return blocks


HANDLERS = {
    "schedule": _schedule, "list": _list, "cancel": _cancel, "extend": _extend, "checklist": _checklist,
    "tick": _ticker(True), "untick": _ticker(False),
}
