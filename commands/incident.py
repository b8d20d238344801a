"""`/incident …`: parse the text, call the incident service, return a reply."""
from __future__ import annotations

import re
from collections.abc import Callable
from datetime import datetime, timedelta

from bot.core.effects import Result
from bot.core.evidence import Bundle
from bot.core.flows import OpenIncident
from bot.core.models import Incident
from bot.core.ops import Actor
from bot.core.search import SearchRequest
from bot.errors import UsageError
from bot.timeparse import parse_date, parse_duration, parse_eta, parse_moment
from bot.views import incidents as views
from bot.views import search as search_views
from bot.views import status as status_views
from bot.views.incidents import (
    evidence_collected,
    evidence_list,
    incident_card,
    incident_list,
    opened,
    postmortem_draft,
    timeline_view,
)
from bot.views.model import Reply
from commands import status
from commands.base import CommandSet, Context, Handler, Services, SubCommand
from commands.parsing import (
    first_word,
    is_user,
    parse_user,
    split_options,
    take_incident_id,
    unquote,
    whole_number,
)

ID = "[INC-n]"
_DUE = re.compile(r"^(?:due\s+|--due\s+)(\S+)$", re.IGNORECASE)
IncidentHandler = Callable[[Services, Context, int | None, str], Reply]


def _with_target(handler: IncidentHandler, takes_id: bool = True) -> Handler:
    """A leading INC-<n> names the incident; the rest is the handler's text."""
    def run(services: Services, ctx: Context, text: str) -> Reply:
        number, rest = take_incident_id(text) if takes_id else (None, text)
        return handler(services, ctx, number, rest.strip())

    return run


def _target(services: Services, ctx: Context, number: int | None):
    # In Slack a command typed outside an incident channel names its incident; no guessing.
    return services.incidents.resolve_target(number, ctx.channel, guess=not ctx.can.shared_rooms,
                                             viewer=services.incidents.viewer(ctx.user, ctx.channel))


def _require(text: str, what: str, name: str) -> str:
    """The text, without quotes wrapped around all of it (`""` is no text)."""
    text = unquote(text)
    if not text:
        raise UsageError(f"Missing {what}.", COMMAND.usage(name))
    return text


OpenRequest = OpenIncident  # the name the Slack modal knows it by


def _open(services: Services, ctx: Context, _: int | None, text: str) -> Reply:
    parsed = split_options(text, {"impact": True, "service": True, "env": True, "private": False, "type": True,
                                  "eta": True}, COMMAND.usage("open"))
    severity, title = first_word(parsed.positional)
    _require(severity, "severity (p0-p3)", "open")
    title = unquote(title)
    title = _require(title, "title", "open")
    options = {key: str(value) for key, value in parsed.options.items()}
    eta = None
    if "eta" in options:
        try:
            eta = parse_eta(options["eta"], services.incidents.clock())
        except ValueError as exc:
            raise UsageError(f"{exc}.", COMMAND.usage("open")) from exc
    return open_incident(services, ctx, OpenRequest(severity, title, options.get("impact"), options.get("service"),
                                                    options.get("env"), True if "private" in options else None,
                                                    options.get("type"), eta))


def open_incident(services: Services, ctx: Context, request: OpenIncident) -> Reply:
    # A surface that opens no channels (the console): the channel it types in becomes the incident's.
    result = services.flows.declare(ctx.user, request, channel=None if ctx.can.opens_channels else ctx.channel)
    return _with_effects(opened(result.value, services.incidents.catalog, ctx.user), result)


def update_incident(services: Services, ctx: Context, number: int, text: str) -> Reply:
    """A status update typed in a form (the Slack modal): taken as written, no command-line parsing."""
    return _post_update(services, ctx, number, text)


def resolve_incident(services: Services, ctx: Context, number: int, text: str) -> Reply:
    return _resolve(services, ctx, number, text)


def _with_effects(reply: Reply, result: Result) -> Reply:
    reply.effects += result.effects  # the core's: the surface carries them out
    return reply


def _ack(services: Services, ctx: Context, number: int | None, text: str) -> Reply:
    result = services.flows.acknowledge(_target(services, ctx, number).number, ctx.user)
    incident = result.value
    return _with_effects(views.acknowledged(incident, ctx.user), result)


def _status(services: Services, ctx: Context, number: int | None, text: str) -> Reply:
    status, detail = first_word(_require(text, "status (investigating or mitigated)", "status"))
    result = services.flows.set_status(_target(services, ctx, number).number, ctx.user, status, detail or None)
    incident = result.value
    return _with_effects(views.status_set(incident, detail or None), result)


def _update(services: Services, ctx: Context, number: int | None, text: str) -> Reply:
    parsed = split_options(text, {"eta": True, "public": False, "state": True, "component": True},
                           COMMAND.usage("update"))
    return _post_update(services, ctx, number, parsed.positional, parsed.options.get("eta"), parsed.options)


def _post_update(services: Services, ctx: Context, number: int | None, text: str, eta_text=None,
                 options: dict | None = None) -> Reply:
    text = _require(text, "update text", "update")
    public = status.public_change(text, options or {})
    eta = None
    if eta_text is not None:
        try:
            eta = parse_eta(str(eta_text), services.incidents.clock())
        except ValueError as exc:
            raise UsageError(f"{exc}.", COMMAND.usage("update")) from exc
    target = _target(services, ctx, number).number
    if public is not None:
        result = services.flows.public_update(target, ctx.user, public, eta)
        answer = views.update_posted(result.value, ctx.user, text, eta)
        published = services.status.published(target)
        if published is not None:
            answer.parts += status_views.public_posted(result.value, published).parts
        return _with_effects(answer, result)
    result = services.flows.post_update(target, ctx.user, text, eta)
    incident = result.value
    return _with_effects(views.update_posted(incident, ctx.user, text, eta), result)


def _sev(services: Services, ctx: Context, number: int | None, text: str) -> Reply:
    _require(text, "severity (p0-p3)", "sev")
    result = services.flows.set_severity(_target(services, ctx, number).number, ctx.user, text.split()[0])
    incident = result.value
    severity = services.incidents.catalog.severities.get(incident.severity)
    return _with_effects(views.severity_set(incident, severity is not None and severity.private), result)


def _role(services: Services, ctx: Context, number: int | None, text: str) -> Reply:
    words = text.split()
    if len(words) != 2:
        raise UsageError("Give a role and a user.", COMMAND.usage("role"))
    user = parse_user(words[1], COMMAND.usage("role"))
    result = services.flows.assign_role(_target(services, ctx, number).number, ctx.user, words[0], user)
    incident = result.value
    return _with_effects(views.role_assigned(incident, words[0], user), result)


def _note(services: Services, ctx: Context, number: int | None, text: str) -> Reply:
    text = _require(text, "note text (the note is empty)", "note")
    result = services.flows.add_note(_target(services, ctx, number).number, ctx.user, text)
    incident = result.value
    return _with_effects(views.note_added(incident), result)


def _impact(services: Services, ctx: Context, number: int | None, text: str) -> Reply:
    text = _require(text, "impact text", "impact")
    result = services.flows.set_impact(_target(services, ctx, number).number, ctx.user, text)
    incident = result.value
    return _with_effects(views.impact_set(incident, text), result)


def _moment(services: Services, text: str, name: str) -> datetime:
    text = _require(unquote(text), "time (with its date, like 2026-11-24 09:15, or relative, like -25m)", name)
    try:
        return parse_moment(text, services.incidents.clock())
    except ValueError as exc:
        raise UsageError(f"{exc}.", COMMAND.usage(name)) from exc


def _impact_start(services: Services, ctx: Context, number: int | None, text: str) -> Reply:
    when = _moment(services, text, "impact-start")
    result = services.flows.set_impact_start(_target(services, ctx, number).number, ctx.user, when)
    incident = result.value
    return _with_effects(views.impact_started(incident, when), result)


def _detected(services: Services, ctx: Context, number: int | None, text: str) -> Reply:
    when = _moment(services, text, "detected")
    result = services.flows.set_detected(_target(services, ctx, number).number, ctx.user, when)
    incident = result.value
    return _with_effects(views.detected(incident, when), result)


def _action(services: Services, ctx: Context, number: int | None, text: str) -> Reply:
    verb, rest = first_word(_require(text, "'add' or 'done'", "action"))
    target = _target(services, ctx, number)
    if verb.lower() == "done":
        if whole_number(rest) is None:
            raise UsageError("Give the number of the action item, e.g. `done 1`.", COMMAND.usage("action"))
        result = services.flows.complete_action_item(target.number, ctx.user, int(rest))
        incident = result.value
        return _with_effects(views.action_item_done(incident, int(rest)), result)
    if verb.lower() != "add":
        raise UsageError(f"Unknown action verb '{verb}'; use add or done.", COMMAND.usage("action"))
    item_text, owner, due = _action_parts(rest)
    result = services.flows.add_action_item(target.number, ctx.user, item_text, owner, due)
    incident = result.value
    return _with_effects(views.action_item_added(incident), result)


def _action_parts(text: str):
    """'"text" @owner due 2026-12-01' — owner and due are peeled off the end, in either order."""
    words = text.split()
    owner = due = None
    while words:
        if len(words) >= 2 and _DUE.match(" ".join(words[-2:])):
            if due is not None:
                raise UsageError("Give one due date.", COMMAND.usage("action"))
            try:
                due = parse_date(words[-1])
            except ValueError as exc:
                raise UsageError(str(exc) + ".", COMMAND.usage("action")) from exc
            words = words[:-2]
        elif is_user(words[-1]) and owner is None:
            owner = parse_user(words.pop(), COMMAND.usage("action"))
        else:
            break
    if words and words[-1].lower() in ("due", "--due"):
        raise UsageError("'due' needs a date like 2026-12-01.", COMMAND.usage("action"))
    item_text = unquote(" ".join(words))
    if not item_text:
        raise UsageError("Missing the action item text.", COMMAND.usage("action"))
    return item_text, owner, due


def _resolve(services: Services, ctx: Context, number: int | None, text: str) -> Reply:
    text, public_text = status.split_public_text(text)
    text = _require(text, "resolution summary (what fixed it)", "resolve")
    result = services.flows.resolve(_target(services, ctx, number).number, ctx.user, text, public_text)
    incident = result.value
    return _with_effects(views.resolved(incident, ctx.user, text), result)


def _reopen(services: Services, ctx: Context, number: int | None, text: str) -> Reply:
    text, public_text = status.split_public_text(text)
    text = unquote(text)
    result = services.flows.reopen(_target(services, ctx, number).number, ctx.user, text or None, public_text)
    incident = result.value
    public = services.status.published(incident.number)
    return _with_effects(views.reopened(incident, ctx.user, text or None,
                                        public_resolved=public is not None and not public.is_open), result)


def _close(services: Services, ctx: Context, number: int | None, text: str) -> Reply:
    result = services.flows.close(_target(services, ctx, number).number, ctx.user)
    incident = result.value
    return _with_effects(views.closed(incident), result)


def _list(services: Services, ctx: Context, _: int | None, text: str) -> Reply:
    parsed = split_options(text, {"all": False}, COMMAND.usage("list"))
    if parsed.positional:
        raise UsageError(f"Unexpected '{parsed.positional}'.", COMMAND.usage("list"))
    include_closed = bool(parsed.options.get("all"))
    viewer = services.incidents.viewer(ctx.user, ctx.channel)
    return incident_list(services.incidents.list_incidents(include_closed=include_closed, viewer=viewer),
                         include_closed)


_YEARS = re.compile(r"^([0-9]{1,2})y$", re.IGNORECASE)


def _search(services: Services, ctx: Context, _: int | None, text: str) -> Reply:
    parsed = split_options(text, {"since": True, "service": True, "env": True, "severity": True, "all": False},
                           COMMAND.usage("search"))
    options = parsed.options
    request = SearchRequest(parsed.positional, _since(options.get("since")), _opt(options, "service"),
                            _opt(options, "env"), _opt(options, "severity"), bool(options.get("all")))
    found = services.search.search(request, services.incidents.viewer(ctx.user, ctx.channel))
    return search_views.search_results(found, request.include_open)


def _opt(options: dict, name: str) -> str | None:
    return str(options[name]) if name in options else None


def _since(value) -> timedelta | None:
    """`--since 1y`, `90d`, `2w`, `12h`: how far back incidents were declared."""
    if value is None:
        return None
    years = _YEARS.match(str(value))
    if years:
        return timedelta(days=365 * int(years.group(1)))
    try:
        return parse_duration(str(value))
    except ValueError as exc:
        raise UsageError(f"{exc} (or years, like 1y).", COMMAND.usage("search")) from exc


def _similar(services: Services, ctx: Context, number: int | None, text: str) -> Reply:
    if text:
        raise UsageError(f"Unexpected '{text[:40]}'; give an incident id or nothing.", COMMAND.usage("similar"))
    viewer = services.incidents.viewer(ctx.user, ctx.channel)
    incident = _target(services, ctx, number)
    return search_views.similar_list(incident, services.search.similar(incident, viewer))


def _show(services: Services, ctx: Context, number: int | None, text: str) -> Reply:
    return incident_card(_target(services, ctx, number), services.incidents.catalog)


def _timeline(services: Services, ctx: Context, number: int | None, text: str) -> Reply:
    incident = _target(services, ctx, number)
    return timeline_view(incident, services.incidents.timeline(incident.number))


def _evidence(services: Services, ctx: Context, number: int | None, text: str) -> Reply:
    verb, rest = first_word(_require(text, "'collect', 'add' or 'list'", "evidence"))
    if number is None:  # `/incident evidence collect INC-1`: the id after the verb, as the issue writes it
        number, rest = take_incident_id(rest)
    incident = _target(services, ctx, number)
    actor = Actor(user=ctx.user, channel=ctx.channel, command=f"/incident evidence {text}", surface=ctx.source)
    if verb.lower() == "add":
        return _bundle_reply(incident, services.evidence_flows.add(actor, incident.number, unquote(rest)), attach=False)
    if verb.lower() == "list":
        if rest:
            raise UsageError(f"Unexpected '{rest}'.", COMMAND.usage("evidence"))
        return evidence_list(incident, services.evidence.bundles(incident.number))
    if verb.lower() != "collect":
        raise UsageError(f"Unknown evidence verb '{verb}'; use collect, add or list.", COMMAND.usage("evidence"))
    parsed = split_options(rest, {"env": True, "since": True, "only": True}, COMMAND.usage("evidence"))
    if parsed.positional:
        raise UsageError(f"Unexpected '{parsed.positional}'.", COMMAND.usage("evidence"))
    since = None
    if "since" in parsed.options:
        try:
            since = parse_duration(str(parsed.options["since"]))
        except ValueError as exc:
            raise UsageError(f"{exc}.", COMMAND.usage("evidence")) from exc
    only = ([name.strip() for name in str(parsed.options["only"]).split(",") if name.strip()]
            if "only" in parsed.options else None)
    env = str(parsed.options["env"]) if "env" in parsed.options else None
    return _bundle_reply(incident, services.evidence_flows.collect(actor, incident.number, env, since, only),
                         attach=True)


def _bundle_reply(incident: Incident, result: Result[Bundle], attach: bool) -> Reply:
    """A new bundle's summary (with the archive to upload when there is more than one typed item to see)."""
    reply = evidence_collected(incident, result.value)
    if not attach:
        reply.file = None
    return _with_effects(reply, result)


def _postmortem(services: Services, ctx: Context, number: int | None, text: str) -> Reply:
    if text.lower() == "done":
        result = services.flows.postmortem_done(_target(services, ctx, number).number, ctx.user)
        incident = result.value
        return _with_effects(views.postmortem_marked_done(incident, ctx.user), result)
    if text:
        raise UsageError(f"Unexpected '{text}'; say `done` to mark the post-mortem written.", COMMAND.usage("postmortem"))
    incident = _target(services, ctx, number)
    if incident.private and ctx.can.shared_rooms and ctx.channel != incident.channel:
        raise UsageError(f"{incident.id} is private: its post-mortem draft is shared only in its own channel; "
                         "ask for it there.")
    draft = services.records.postmortem(incident)
    return postmortem_draft(draft.incident, draft.filename, draft.text)


COMMAND = CommandSet("/incident", "Declare, run and search incidents (search, similar)",
                     "open p1 <title> | ack | update <text> | resolve <summary> | search <words> | similar | help",
                     "Inside an incident channel the id is optional. Severities: P0-P3 (or sev1-sev4).", [
    SubCommand("open", "/incident open <p0|p1|p2|p3> <title> [--impact TEXT] [--service NAME] [--env NAME] "
               "[--type NAME] [--private] [--eta 30m|14:30]",
               "declare an incident (you become commander)", _with_target(_open, takes_id=False)),
    SubCommand("ack", f"/incident ack {ID}", "acknowledge it", _with_target(_ack)),
    SubCommand("status", f"/incident status {ID} <investigating|mitigated> [what changed]",
               "investigating / mitigated", _with_target(_status)),
    SubCommand("update", f"/incident update {ID} <status update for stakeholders> [--eta 30m|HH:MM|ISO time] "
               "[--public [--state identified|monitoring] [--component NAME=STATUS,…]]",
               "post a status update (also to the announcement channel; --public: to the status page too)",
               _with_target(_update)),
    SubCommand("sev", f"/incident sev {ID} <p0|p1|p2|p3>", "change severity", _with_target(_sev)),
    SubCommand("role", f"/incident role {ID} <commander|scribe|comms> <@user>", "assign commander, scribe or comms",
               _with_target(_role)),
    SubCommand("note", f"/incident note {ID} <text>", "add to the timeline", _with_target(_note)),
    SubCommand("impact", f"/incident impact {ID} <text>", "set the user impact", _with_target(_impact)),
    SubCommand("impact-start", f"/incident impact-start {ID} <time, e.g. 2026-11-24 09:15 or -25m>",
               "when users were first hurt", _with_target(_impact_start)),
    SubCommand("detected", f"/incident detected {ID} <time, e.g. 2026-11-24 09:15 or -25m>",
               "when it was first noticed", _with_target(_detected)),
    SubCommand("action", f'/incident action {ID} add "<text>" [@owner] [due YYYY-MM-DD] | done <n>',
               "add or complete an action item", _with_target(_action)),
    SubCommand("resolve", f"/incident resolve {ID} <what fixed it> [--public-text TEXT]",
               "mark resolved with a summary (a published incident: resolved on the status page too)",
               _with_target(_resolve)),
    SubCommand("reopen", f"/incident reopen {ID} [reason] [--public-text \"…\"]",
               "reopen a resolved incident (--public-text: on the status page too)", _with_target(_reopen)),
    SubCommand("close", f"/incident close {ID}", "close a resolved incident", _with_target(_close)),
    SubCommand("publish", status.PUBLISH_USAGE, "put the incident on the public status page",
               lambda services, ctx, text: status.publish(services, ctx, text, _target)),
    SubCommand("list", "/incident list [--all]", "open incidents (--all for every one)",
               _with_target(_list, takes_id=False)),
    SubCommand("search", "/incident search <words, \"a phrase\", -leave-out> [--since 1y] [--service S] [--env E] "
               "[--severity P1] [--all]",
               "search past incidents (resolved and closed; --all: open ones too), best first", 
               _with_target(_search, takes_id=False)),
    SubCommand("similar", f"/incident similar {ID}", "the past incidents most like this one, and what fixed them",
               _with_target(_similar)),
    SubCommand("show", f"/incident show {ID}", "details", _with_target(_show)),
    SubCommand("timeline", f"/incident timeline {ID}", "every event", _with_target(_timeline)),
    SubCommand("evidence", f"/incident evidence <collect {ID} [--env E] [--since 2h] [--only logs,db] | add {ID} <text> "
               f"| list {ID}>",
               "gather logs, state and records into a hashed bundle", _with_target(_evidence)),
    SubCommand("postmortem", f"/incident postmortem {ID} [done]", "draft the post-mortem",
               _with_target(_postmortem)),
])
