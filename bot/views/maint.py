"""Maintenance as neutral replies (windows, recurring reminders, checklists), and reminders as Slack posts them."""
from __future__ import annotations

from datetime import datetime, timedelta

from bot.core.reminders import Checklist, Reminder, Window
from bot.timeparse import format_duration, show
from bot.views.blocks import button, context, section
from bot.views.model import (
    Headline,
    Line,
    Mention,
    Reply,
    Strong,
    line,
    lines,
    neutral,
    note,
    paragraph,
    reply,
)
from bot.views.mrkdwn import bold_incident_ids, clipped, render

CHECK_ACTION = "maint_check"
MODE_ACTION = "maint_mode_on"
_ICON = {"upcoming": "🗓️", "active": "🛠️", "finished": "✅", "cancelled": "✖️"}


def _window(window: Window) -> Line:
    return line(Strong(window.env), ": ", neutral(window.title))


def scheduled(window: Window, by: str, notices: list[Reminder], lead: timedelta | None, now: datetime) -> Reply:
    when = ", ".join(f"{r.kind.removeprefix('window_')} {show(r.due_at)}" for r in notices)
    answer = reply(f"🗓️ {window.ref} scheduled: {window.env}, {show(window.starts_at)} → {show(window.ends_at)}",
                   paragraph("🗓️ ", Strong(window.ref), " scheduled by ", Mention(by), " — ", _window(window),
                             f"\n{show(window.starts_at)} → {show(window.ends_at)} "
                             f"({format_duration(window.ends_at - window.starts_at)})"),
                   note(f"Notices: {when}"), ephemeral=False)
    if window.public:
        answer.parts.append(note("📣 On the status page: scheduled now, in progress at its start, completed at its end"
                                 f" — components: {', '.join(window.components) or 'none'}"))
    if lead and window.starts_at - now < lead:
        answer.parts.append(note(f"⚠️ Less than {format_duration(lead)} notice: the runbooks ask for "
                                 f"{format_duration(lead)} ahead, so tell stakeholders now."))
    return answer


def cancelled(window: Window, by: str) -> Reply:
    return reply(f"{window.ref} cancelled", paragraph(
        "✖️ ", Strong(window.ref), f" ({window.env}: ", neutral(window.title), ") cancelled by ", Mention(by),
        "; its notices are withdrawn."), ephemeral=False)


def extended(window: Window, by: str, extra: timedelta) -> Reply:
    return reply(f"{window.ref} extended", paragraph(
        "⏩ ", Strong(window.ref), f" ({window.env}: ", neutral(window.title), f") extended by {format_duration(extra)} by ",
        Mention(by), f"; it now ends {show(window.ends_at)}."), ephemeral=False)


def windows(windows: list[Window], recurring: list[tuple[str, str, datetime | None]], now: datetime) -> Reply:
    items = [line(f"{_ICON[w.state(now)]} ", Strong(w.ref), f" {w.state(now)} · ", Strong(w.env), f" · {w.title} · "
                  f"{show(w.starts_at)} → {show(w.ends_at)}") for w in windows] or [line("No maintenance windows planned.")]
    answer = reply("Maintenance windows", Headline("Maintenance windows"), lines(items))
    if recurring:
        answer.parts += [Headline("Recurring reminders"),
                         lines(line("• ", Strong(name), f" — {title}: next {show(at)}") for name, title, at in recurring)]
    return answer


def checklist_view(checklist: Checklist) -> Reply:
    checked = checklist.checked()
    items = []
    for number, item in enumerate(checklist.items, start=1):
        tick = checked.get(number)
        items.append(line(f"☑️ {number}. ", neutral(item), " — ", Mention(tick.actor), f", {show(tick.at)}") if tick
                     else line(f"⬜ {number}. ", neutral(item)))
    done = f"{len(checked)}/{len(checklist.items)} done"
    return reply(f"{checklist.ref} {checklist.title}: {done}", Headline(f"{checklist.ref} · {checklist.title}"),
                 lines(items), note(f"{done} · posted {show(checklist.created_at)}"))


# --- reminders as the Slack notifier posts them --------------------------------------------------------------
NEXT_STEPS = {
    "ack": "Acknowledge with `/incident ack {id}`.",
    "resolve": "Resolve with `/incident resolve {id} <what fixed it>`.",
    "update": "Post one with `/incident update {id} <text>`.",
    "postmortem": "Draft it with `/incident postmortem {id}`; mark it written with `/incident postmortem {id} done`.",
    "action_done": "Mark it done with `/incident action {id} done {item}`.",
}


def reminder_text(reminder: Reminder) -> str:
    """A reminder's neutral text as mrkdwn: the people, groups and channels it names as mentions, incident ids
    in bold so they stand out in a busy channel, and the command that does what it asks for."""
    text = render(reminder.text, reminder.mentions)
    if reminder.next_step in NEXT_STEPS and reminder.incident is not None:
        text += " " + NEXT_STEPS[reminder.next_step].format(id=f"INC-{reminder.incident}", item=reminder.item)
    return bold_incident_ids(text)


def reminder_blocks(reminder: Reminder, checklist: Checklist | None) -> list[dict]:
    """A reminder as Slack shows it: its text, a checklist as checkboxes, a maintenance-mode button."""
    blocks = [section(reminder_text(reminder))]
    if checklist is not None:
        blocks.append({
            "type": "actions", "block_id": f"checklist:{checklist.id}",
            "elements": [{
                "type": "checkboxes", "action_id": CHECK_ACTION,
                "options": [{"text": {"type": "mrkdwn", "text": clipped(item, 75)}, "value": str(number)}
                            for number, item in enumerate(checklist.items, start=1)],
            }],
        })
        blocks.append(context(f"{checklist.ref} · {render(checklist.title)} · `/maint checklist {checklist.ref}` "
                              "shows who ticked what"))
    if reminder.env:
        blocks.append({"type": "actions", "block_id": f"maintenance:{reminder.env}",
                       "elements": [button(f"Turn maintenance mode on in {reminder.env}", MODE_ACTION,
                                           reminder.env, style="danger")]})
    return blocks
