"""`/incident …`: parse the text, call the incident service, return a reply."""
from __future__ import annotations

import re
from collections.abc import Callable

from bot.blocks import Attachment, Reply, context, header, section
from bot.core.postmortem import postmortem_filename, render_postmortem
from bot.errors import UsageError
from bot.timeparse import parse_date
from commands.base import Context, Services
from commands.parsing import (
    first_word,
    is_user,
    parse_user,
    split_options,
    sub_command,
    take_incident_id,
    unquote,
    usage_on_error,
)
from commands.views import done, incident_card, incident_list, timeline_view, title_line

ID = "[INC-n]"
USAGE: dict[str, str] = {
    "open": "/incident open <p0|p1|p2|p3> <title> [--impact TEXT] [--service NAME] [--env NAME]",
    "ack": f"/incident ack {ID}",
    "status": f"/incident status {ID} <investigating|mitigated> [what changed]",
    "update": f"/incident update {ID} <status update for stakeholders>",
    "sev": f"/incident sev {ID} <p0|p1|p2|p3>",
    "role": f"/incident role {ID} <commander|scribe|comms> <@user>",
    "note": f"/incident note {ID} <text>",
    "impact": f"/incident impact {ID} <text>",
    "action": f'/incident action {ID} add "<text>" [@owner] [due YYYY-MM-DD] | done <n>',
    "resolve": f"/incident resolve {ID} <what fixed it>",
    "reopen": f"/incident reopen {ID} [reason]",
    "close": f"/incident close {ID}",
    "list": "/incident list [--all]",
    "show": f"/incident show {ID}",
    "timeline": f"/incident timeline {ID}",
    "postmortem": f"/incident postmortem {ID} [done]",
    "help": "/incident help",
}
SUMMARY = {
    "open": "declare an incident (you become commander)", "ack": "acknowledge it",
    "status": "investigating / mitigated", "update": "post a status update",
    "sev": "change severity", "role": "assign commander, scribe or comms", "note": "add to the timeline",
    "impact": "set the user impact", "action": "add or complete an action item",
    "resolve": "mark resolved with a summary", "reopen": "reopen a resolved incident",
    "close": "close a resolved incident", "list": "open incidents (--all for every one)",
    "show": "details", "timeline": "every event", "postmortem": "draft the post-mortem", "help": "this help",
}
_DUE = re.compile(r"^(?:due\s+|--due\s+)(\S+)$", re.IGNORECASE)

Handler = Callable[[Services, Context, int | None, str], Reply]


def help_reply() -> Reply:
    lines = [f"`{USAGE[name]}` — {SUMMARY[name]}" for name in USAGE]
    return Reply(
        text="/incident help",
        blocks=[header("/incident"), section("\n".join(lines)),
                context("Inside an incident channel the id is optional. Severities: P0-P3 (or sev1-sev4).")],
    )


def handle(services: Services, ctx: Context, text: str) -> Reply:
    name, rest = sub_command(text, USAGE, "/incident")
    if name in ("", "help"):
        return help_reply()
    number, rest = take_incident_id(rest) if name not in ("open", "list") else (None, rest)
    with usage_on_error(USAGE[name]):
        return HANDLERS[name](services, ctx, number, rest.strip())


def _target(services: Services, ctx: Context, number: int | None):
    # In Slack a command typed outside an incident channel names its incident; no guessing.
    return services.incidents.resolve_target(number, ctx.channel, guess=ctx.source != "slack")


def _require(text: str, what: str, name: str) -> str:
    if not text:
        raise UsageError(f"Missing {what}.", USAGE[name])
    return text


def _open(services: Services, ctx: Context, _: int | None, text: str) -> Reply:
    parsed = split_options(text, {"impact": True, "service": True, "env": True}, USAGE["open"])
    severity, title = first_word(parsed.positional)
    _require(severity, "severity (p0-p3)", "open")
    title = unquote(title)
    _require(title, "title", "open")
    incident = services.incidents.open(
        ctx.user, severity, title, impact=parsed.options.get("impact"), service=parsed.options.get("service"),
        env=parsed.options.get("env"), channel=ctx.channel if ctx.source == "console" else None,
    )
    reply = incident_card(incident, services.incidents.catalog,
                          note=f"🚨 *{incident.id}* declared by <@{ctx.user}>; you are the commander.")
    reply.ephemeral, reply.incident, reply.opened = False, incident.number, True
    return reply


def _ack(services: Services, ctx: Context, number: int | None, text: str) -> Reply:
    incident = services.incidents.acknowledge(_target(services, ctx, number).number, ctx.user)
    return done(f"<@{ctx.user}> acknowledged {incident.id}.", incident)


def _status(services: Services, ctx: Context, number: int | None, text: str) -> Reply:
    status, detail = first_word(_require(text, "status (investigating or mitigated)", "status"))
    incident = services.incidents.set_status(_target(services, ctx, number).number, ctx.user, status, detail or None)
    return done(f"{incident.id} is now *{incident.status.value}*" + (f": {detail}" if detail else "."), incident)


def _update(services: Services, ctx: Context, number: int | None, text: str) -> Reply:
    _require(text, "update text", "update")
    incident = services.incidents.post_update(_target(services, ctx, number).number, ctx.user, text)
    return done(f"📣 *Update on {incident.id}* from <@{ctx.user}>: {text}", incident)


def _sev(services: Services, ctx: Context, number: int | None, text: str) -> Reply:
    _require(text, "severity (p0-p3)", "sev")
    incident = services.incidents.set_severity(_target(services, ctx, number).number, ctx.user, text.split()[0])
    return done(f"{incident.id} is now *{incident.severity}*.", incident)


def _role(services: Services, ctx: Context, number: int | None, text: str) -> Reply:
    words = text.split()
    if len(words) != 2:
        raise UsageError("Give a role and a user.", USAGE["role"])
    user = parse_user(words[1], USAGE["role"])
    incident = services.incidents.assign_role(_target(services, ctx, number).number, ctx.user, words[0], user)
    return done(f"<@{user}> is now {words[0].lower()} of {incident.id}.", incident)


def _note(services: Services, ctx: Context, number: int | None, text: str) -> Reply:
    _require(text, "note text (the note is empty)", "note")
    incident = services.incidents.add_note(_target(services, ctx, number).number, ctx.user, text)
    return done(f"📝 Note added to {incident.id}.", incident)


def _impact(services: Services, ctx: Context, number: int | None, text: str) -> Reply:
    text = unquote(_require(text, "impact text", "impact"))
    incident = services.incidents.set_impact(_target(services, ctx, number).number, ctx.user, text)
    return done(f"Impact of {incident.id}: {text}", incident)


def _action(services: Services, ctx: Context, number: int | None, text: str) -> Reply:
    verb, rest = first_word(_require(text, "'add' or 'done'", "action"))
    target = _target(services, ctx, number)
    if verb.lower() == "done":
        if not rest.strip().isdigit():
            raise UsageError("Give the number of the action item, e.g. `done 1`.", USAGE["action"])
        incident = services.incidents.complete_action_item(target.number, ctx.user, int(rest))
        return done(f"✅ Action item {rest.strip()} of {incident.id} is done.", incident)
    if verb.lower() != "add":
        raise UsageError(f"Unknown action verb '{verb}'; use add or done.", USAGE["action"])
    item_text, owner, due = _action_parts(rest)
    incident = services.incidents.add_action_item(target.number, ctx.user, item_text, owner, due)
    item = incident.action_items[-1]
    return done(f"Action item {item.number} added to {incident.id}: {item.text}", incident)


def _action_parts(text: str):
    """'"text" @owner due 2026-12-01' — owner and due are peeled off the end, in either order."""
    words = text.split()
    owner = due = None
    while words:
        if len(words) >= 2 and _DUE.match(" ".join(words[-2:])):
            if due is not None:
                raise UsageError("Give one due date.", USAGE["action"])
            try:
                due = parse_date(words[-1])
            except ValueError as exc:
                raise UsageError(str(exc) + ".", USAGE["action"]) from None
            words = words[:-2]
        elif is_user(words[-1]) and owner is None:
            owner = parse_user(words.pop(), USAGE["action"])
        else:
            break
    if words and words[-1].lower() in ("due", "--due"):
        raise UsageError("'due' needs a date like 2026-12-01.", USAGE["action"])
    item_text = unquote(" ".join(words))
    if not item_text:
        raise UsageError("Missing the action item text.", USAGE["action"])
    return item_text, owner, due


def _resolve(services: Services, ctx: Context, number: int | None, text: str) -> Reply:
    _require(text, "resolution summary (what fixed it)", "resolve")
    incident = services.incidents.resolve(_target(services, ctx, number).number, ctx.user, text)
    return done(f"🟢 {incident.id} resolved by <@{ctx.user}>: {text}", incident)


def _reopen(services: Services, ctx: Context, number: int | None, text: str) -> Reply:
    incident = services.incidents.reopen(_target(services, ctx, number).number, ctx.user, text or None)
    return done(f"🔴 {incident.id} reopened by <@{ctx.user}>" + (f": {text}" if text else "."), incident)


def _close(services: Services, ctx: Context, number: int | None, text: str) -> Reply:
    incident = services.incidents.close(_target(services, ctx, number).number, ctx.user)
    return done(f"{incident.id} closed.", incident)


def _list(services: Services, ctx: Context, _: int | None, text: str) -> Reply:
    parsed = split_options(text, {"all": False}, USAGE["list"])
    if parsed.positional:
        raise UsageError(f"Unexpected '{parsed.positional}'.", USAGE["list"])
    include_closed = bool(parsed.options.get("all"))
    return incident_list(services.incidents.list(include_closed=include_closed), include_closed)


def _show(services: Services, ctx: Context, number: int | None, text: str) -> Reply:
    return incident_card(_target(services, ctx, number), services.incidents.catalog)


def _timeline(services: Services, ctx: Context, number: int | None, text: str) -> Reply:
    incident = _target(services, ctx, number)
    return timeline_view(incident, services.incidents.timeline(incident.number))


def _postmortem(services: Services, ctx: Context, number: int | None, text: str) -> Reply:
    if text.lower() == "done":
        incident = services.incidents.postmortem_done(_target(services, ctx, number).number, ctx.user)
        return done(f"📘 Post-mortem of {incident.id} marked done by <@{ctx.user}>; its reminders stop.", incident)
    if text:
        raise UsageError(f"Unexpected '{text}'; say `done` to mark the post-mortem written.", USAGE["postmortem"])
    incident = _target(services, ctx, number)
    draft = render_postmortem(incident, services.incidents.timeline(incident.number), services.incidents.catalog)
    filename = postmortem_filename(incident)
    return Reply(
        text=f"Post-mortem draft for {incident.id}",
        blocks=[header(f"Post-mortem draft · {title_line(incident)}"),
                section(f"The draft is attached as `{filename}`: fill in root cause and lessons learned.")],
        ephemeral=False,
        file=Attachment(filename, draft, f"Post-mortem draft: {incident.id}"),
    )


HANDLERS: dict[str, Handler] = {
    "open": _open, "ack": _ack, "status": _status, "update": _update, "sev": _sev, "role": _role,
    "note": _note, "impact": _impact, "action": _action, "resolve": _resolve, "reopen": _reopen,
    "close": _close, "list": _list, "show": _show, "timeline": _timeline, "postmortem": _postmortem,
}
