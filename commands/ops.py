"""`/ops …`: health, status, logs and audited actions on Docker and Kubernetes environments."""
from __future__ import annotations

import re
import shlex
from dataclasses import replace
from datetime import timedelta

from bot.core.history import service_history
from bot.core.ops import Action, ActionRequest, Actor, OpsService
from bot.core.ops_rules import METACHARACTERS, METACHARACTERS_SHOWN
from bot.errors import UsageError
from bot.timeparse import parse_duration
from bot.views import ops as views
from bot.views.model import Reply
from commands.base import CommandSet, Context, Handler, Services, SubCommand
from commands.parsing import OPTION, parse_incident_id, split_options, usage_on_error, whole_number

_ACTION_FLAGS = {"dry-run": False, "yes": False}
_MAX_TAIL = 2000
_MAX_LOG_SERVICES = 10


def _ops(name: str, run) -> Handler:
    """An /ops sub-command: metacharacters refused, then `run(services, actor, text)` with the audit's actor, who
    acts for the incident named by `--incident INC-n` or, failing that, the open incident of this channel."""
    def handler(services: Services, ctx: Context, text: str) -> Reply:
        # The core refuses them in every name and value whoever sends it; here the whole line, options included.
        if METACHARACTERS.search(_shell_checked(text, name)):
            raise UsageError(f"Shell metacharacters ({METACHARACTERS_SHOWN}) are not allowed in /ops arguments.",
                             COMMAND.usage(name))
        command = f"/ops {name} {text}".rstrip()
        text, incident = _incident_option(services, ctx, text, name)
        actor = Actor(user=ctx.user, channel=ctx.channel, command=command, surface=ctx.source, incident=incident,
                      progress=ctx.say)
        return run(services, actor, text)

    return handler


# Regular expressions need | ( ) \\ $ …; they only ever reach RE2 in this process, never a shell or a backend.
_PATTERN_OPTIONS = ("grep", "grep-v")


def _shell_checked(text: str, name: str) -> str:
    """What the metacharacter filter sees: everything, except the values of /ops logs --grep/--grep-v, cut out
    exactly as split_options reads them (from the option to the next option)."""
    if name != "logs":
        return text
    matches = list(OPTION.finditer(text))
    kept, position = [], 0
    for index, match in enumerate(matches):
        if match.group(1) in _PATTERN_OPTIONS:
            kept.append(text[position:match.end()])
            position = matches[index + 1].start() if index + 1 < len(matches) else len(text)
    return "".join(kept) + text[position:]


_INCIDENT_OPTION = re.compile(r"(?:^|\s)--incident(?:=|\s+)(\S*)")


def _incident_option(services: Services, ctx: Context, text: str, name: str) -> tuple[str, int | None]:
    found = _INCIDENT_OPTION.search(text)
    if found is None:
        here = services.incidents.for_channel(ctx.channel) if ctx.channel else None
        return text, here.number if here is not None and here.is_open else None
    number = parse_incident_id(found.group(1))
    if number is None:
        raise UsageError(f"'{found.group(1)}' is not an incident id (INC-<n>).", COMMAND.usage(name))
    # an unknown incident, or a private one this user may not see, is refused before anything runs
    services.incidents.visible(number, services.incidents.viewer(ctx.user, ctx.channel))
    return (text[:found.start()] + " " + text[found.end():]).strip(), number


def _words(text: str, count: int, name: str, flags: dict[str, bool] | None = None) -> tuple[list[str], dict]:
    parsed = split_options(text, flags or {}, COMMAND.usage(name))
    words = parsed.positional.split()
    if len(words) != count:
        raise UsageError(f"Expected {count} argument{'s' if count > 1 else ''}, got {len(words)}.", COMMAND.usage(name))
    return words, parsed.options


def _duration(value: object, name: str) -> timedelta:
    try:
        return parse_duration(str(value))
    except ValueError as exc:
        raise UsageError(f"{exc}.", COMMAND.usage(name)) from exc


def _health(services: Services, actor: Actor, text: str) -> Reply:
    (env,), _ = _words(text, 1, "health")
    report = services.ops.health(actor, env)
    reply = views.health(report, services.ops.clock(), services.maintenance.active_window(env),
                         services.ops.env(env).dashboards_for())
    reply.effects += services.status.health_seen(report, actor.incident)  # the page must not quietly lie
    return reply


def _status(services: Services, actor: Actor, text: str) -> Reply:
    (env,), _ = _words(text, 1, "status")
    states = services.ops.status(actor, env)
    spec = services.ops.env(env)
    links = {"": spec.dashboards_for(), **{name: list(s.dashboards.items()) for name, s in spec.services.items()}}
    return views.status(env, states, links)


def _logs(services: Services, actor: Actor, text: str) -> Reply:
    (service, env), options = _words(text, 2, "logs", {"since": True, "grep": True, "grep-v": True, "tail": True,
                                                        "previous": False, "slot": True})
    names = list(dict.fromkeys(name for name in service.split(",") if name))  # api,worker: several at once
    if not names or len(names) > _MAX_LOG_SERVICES:
        raise UsageError(f"Name 1 to {_MAX_LOG_SERVICES} services, separated by commas.", COMMAND.usage("logs"))
    since = _duration(options.get("since", "15m"), "logs")
    tail = str(options.get("tail", "200"))
    if not 0 < (whole_number(tail) or 0) <= _MAX_TAIL:
        raise UsageError(f"--tail must be a number from 1 to {_MAX_TAIL}.", COMMAND.usage("logs"))
    grep, grep_v = options.get("grep"), options.get("grep-v")
    with usage_on_error(COMMAND.usage("logs")):
        output = services.ops.logs(actor, env, names, since, int(tail), str(grep) if grep else None,
                                   str(grep_v) if grep_v else None, previous=bool(options.get("previous")),
                                   slot=str(options["slot"]).lower() if "slot" in options else None)
    return views.logs(",".join(names), env, since, output)


def _switch(services: Services, actor: Actor, text: str) -> Reply:
    usage = COMMAND.usage("switch")
    parsed = split_options(text, {**_ACTION_FLAGS, "back": False}, usage)
    words, back = parsed.positional.split(), bool(parsed.options.get("back"))
    if len(words) != (2 if back else 3):
        raise UsageError("Give the service, the environment and the slot to make live, or --back (not both).", usage)
    args = {} if back else {"slot": words[2]}
    return _request(services.ops, actor, ActionRequest(Action.SWITCH, words[1], words[0], args), parsed.options)


def _service_action(action: Action):
    def run(services: Services, actor: Actor, text: str) -> Reply:
        (service, env), options = _words(text, 2, action.value, _ACTION_FLAGS)
        return _request(services.ops, actor, ActionRequest(action, env, service), options)

    return run


def _scale(services: Services, actor: Actor, text: str) -> Reply:
    (service, env, count), options = _words(text, 3, "scale", _ACTION_FLAGS)
    replicas = int(count) if whole_number(count) is not None else count  # the range is the core's to check
    return _request(services.ops, actor, ActionRequest(Action.SCALE, env, service, {"replicas": replicas}), options)


def _describe(services: Services, actor: Actor, text: str) -> Reply:
    (service, env), _ = _words(text, 2, "describe")
    return views.described(service, env, services.ops.inspect(actor, env, service))


def _delete_pod(services: Services, actor: Actor, text: str) -> Reply:
    (pod, env), options = _words(text, 2, "delete-pod", _ACTION_FLAGS)
    return _request(services.ops, actor, ActionRequest(Action.DELETE_POD, env, pod), options)


def _deploy(services: Services, actor: Actor, text: str) -> Reply:
    (service, env, version), options = _words(text, 3, "deploy", {**_ACTION_FLAGS, "checked": True})
    args: dict = {"version": version}
    if "checked" in options:
        given = str(options["checked"])
        args["checked"] = "all" if given == "all" else [int(n) for n in given.split(",") if n.strip().isdigit()]
    return _request(services.ops, actor, ActionRequest(Action.DEPLOY, env, service, args), options)


def _maintenance(services: Services, actor: Actor, text: str) -> Reply:
    (state, env), options = _words(text, 2, "maintenance", _ACTION_FLAGS)
    if state.lower() not in ("on", "off"):
        raise UsageError(f"'{state}' is not on or off.", COMMAND.usage("maintenance"))
    return _request(services.ops, actor, ActionRequest(Action.MAINTENANCE, env, None, {"on": state.lower() == "on"}),
                    options)


def _run(services: Services, actor: Actor, text: str) -> Reply:
    parsed = split_options(text, _ACTION_FLAGS, COMMAND.usage("run"))
    try:  # shell-style quoting only to group words (msg="hello world"); the argv never meets a shell
        words = shlex.split(parsed.positional)
    except ValueError as exc:
        raise UsageError(f"Cannot read the parameters: {exc} (quote a value with spaces like msg=\"hello world\").",
                         COMMAND.usage("run")) from exc
    if len(words) < 2:
        raise UsageError("Give the action and the environment.", COMMAND.usage("run"))
    name, env_name, pairs = words[0], words[1], words[2:]
    given: dict[str, str] = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key:
            raise UsageError(f"'{pair}' is not key=value.", COMMAND.usage("run"))
        given[key] = value
    return _request(services.ops, actor, ActionRequest(Action.RUN, env_name, name, given), parsed.options)


def _config(services: Services, actor: Actor, text: str) -> Reply:
    """/ops config <service> <env> [show | set KEY=VALUE… | unset KEY…] [--restart]"""
    parsed = split_options(text, {**_ACTION_FLAGS, "restart": False}, COMMAND.usage("config"))
    try:
        words = shlex.split(parsed.positional)
    except ValueError as exc:
        raise UsageError(f"Cannot read the values: {exc}.", COMMAND.usage("config")) from exc
    if len(words) < 2:
        raise UsageError("Give the service and the environment.", COMMAND.usage("config"))
    service, env_name, verb, rest = words[0], words[1], (words[2:3] or ["show"])[0], words[3:]
    if verb == "show" and not rest:
        return views.config_shown(service, env_name, services.ops.config_values(actor, env_name, service))
    changes: dict[str, str | None] = {}
    for word in rest:
        key, sep, value = word.partition("=")
        if verb == "set" and sep and key:
            changes[key] = value
        elif verb == "unset" and not sep and key:
            changes[key] = None
        else:
            raise UsageError(f"'{word}' is not {'KEY=VALUE' if verb == 'set' else 'a KEY'}.", COMMAND.usage("config"))
    if verb not in ("set", "unset") or not changes:
        raise UsageError("Say show, set KEY=VALUE … or unset KEY ….", COMMAND.usage("config"))
    request = ActionRequest(Action.CONFIG, env_name, service, {"changes": changes, "restart": "restart" in parsed.options})
    return _request(services.ops, actor, request, parsed.options)


def _secret(services: Services, actor: Actor, text: str) -> Reply:
    (verb, name, env_name), options = _words(text, 3, "secret", _ACTION_FLAGS)
    if verb != "rotate":
        raise UsageError("Secrets are only rotated: opsbot makes the new value (a secret is never typed in chat).",
                         COMMAND.usage("secret"))
    return _request(services.ops, actor, ActionRequest(Action.SECRET, env_name, name), options)


def _resources(services: Services, actor: Actor, text: str) -> Reply:
    (service, env_name), options = _words(text, 2, "resources", {**_ACTION_FLAGS, "memory": True, "cpu": True})
    args = {key: str(options[key]) for key in ("memory", "cpu") if key in options}
    return _request(services.ops, actor, ActionRequest(Action.RESOURCES, env_name, service, args), options)


def _request(ops: OpsService, actor: Actor, request: ActionRequest, options: dict) -> Reply:
    request = replace(request, dry_run=bool(options.get("dry-run")), confirmed=bool(options.get("yes")))
    return views.outcome_reply(ops.submit(actor, request))


def _confirm(services: Services, actor: Actor, text: str) -> Reply:
    (plan_id,), _ = _words(text, 1, "confirm")
    return views.outcome_reply(services.ops.confirm(actor, plan_id))


def _history(services: Services, actor: Actor, text: str) -> Reply:
    (service, env), _ = _words(text, 2, "history")
    return views.service_history(service_history(services.ops, actor, env, service))


def _audit(services: Services, actor: Actor, text: str) -> Reply:
    parsed = split_options(text, {"user": True, "env": True, "since": True}, COMMAND.usage("audit"))
    if parsed.positional:
        raise UsageError(f"Unexpected '{parsed.positional}'.", COMMAND.usage("audit"))
    since = _duration(parsed.options["since"], "audit") if "since" in parsed.options else None
    user = str(parsed.options["user"]) if parsed.options.get("user") else None
    if user:
        user = user.lstrip("@").strip("<>").split("|")[0].lstrip("@")
    env = parsed.options.get("env")
    return views.audit_log(services.ops.audit_log(actor, user, str(env) if env else None, since), since)


COMMAND = CommandSet("/ops", "Health checks and audited ops actions", "health <env> | help",
                     "Dangerous actions in protected environments show their plan and run only once confirmed.", [
    SubCommand("health", "/ops health <env> [--incident INC-n]", "run the environment's checks", _ops("health", _health)),
    SubCommand("status", "/ops status <env>", "services and replicas", _ops("status", _status)),
    SubCommand("config", "/ops config <service> <env> [show | set KEY=VALUE… | unset KEY…] [--restart] [--dry-run] "
               "[--yes]", "show or change the keys the catalog allows (ConfigMap, or the containers' environment)",
               _ops("config", _config)),
    SubCommand("secret", "/ops secret rotate <name> <env> [--dry-run] [--yes]",
               "a new value for a catalog secret, written and its services restarted; never shown", _ops("secret", _secret)),
    SubCommand("resources", "/ops resources <service> <env> [--memory 2Gi] [--cpu 500m] [--dry-run] [--yes]",
               "memory/CPU limits, within the catalog's max_memory/max_cpu", _ops("resources", _resources)),
    SubCommand("describe", "/ops describe <service> <env>", "pods or containers: state, restarts, last exit, events",
               _ops("describe", _describe)),
    SubCommand("delete-pod", "/ops delete-pod <pod> <env> [--dry-run] [--yes] [--incident INC-n]",
               "delete a failing pod of a catalog service (Kubernetes): its ReplicaSet starts a new one",
               _ops("delete-pod", _delete_pod)),
    SubCommand("history", "/ops history <service> <env>", "deploys, rollbacks, scales and restarts, newest first",
               _ops("history", _history)),
    SubCommand("logs", "/ops logs <service[,service…]> <env> [--since 15m] [--grep REGEX] [--grep-v REGEX] [--tail N] "
               "[--previous] [--slot blue|green]", "recent log lines", _ops("logs", _logs)),
    SubCommand("restart", "/ops restart <service> <env> [--dry-run] [--yes] [--incident INC-n]", "restart a service",
               _ops("restart", _service_action(Action.RESTART))),
    SubCommand("scale", "/ops scale <service> <env> <replicas> [--dry-run] [--yes] [--incident INC-n]", "set a service's replicas",
               _ops("scale", _scale)),
    SubCommand("rollback", "/ops rollback <service> <env> [--dry-run] [--yes] [--incident INC-n]", "go back to the previous version",
               _ops("rollback", _service_action(Action.ROLLBACK))),
    SubCommand("deploy", "/ops deploy <service> <env> <version> [--checked 1,2|all] [--dry-run] [--yes] [--incident INC-n]",
               "deploy a version of the service's image (or its deploy runbook), then verify it",
               _ops("deploy", _deploy)),
    SubCommand("stop", "/ops stop <service> <env> [--dry-run] [--yes] [--incident INC-n]", "stop a service (it keeps its containers)",
               _ops("stop", _service_action(Action.STOP))),
    SubCommand("start", "/ops start <service> <env> [--dry-run] [--yes] [--incident INC-n]", "start a stopped service again",
               _ops("start", _service_action(Action.START))),
    SubCommand("switch", "/ops switch <service> <env> <blue|green> | --back [--dry-run] [--yes] [--incident INC-n]",
               "make a blue/green slot live", _ops("switch", _switch)),
    SubCommand("maintenance", "/ops maintenance <on|off> <env> [--dry-run] [--yes] [--incident INC-n]", "maintenance mode on/off",
               _ops("maintenance", _maintenance)),
    SubCommand("run", "/ops run <action> <env> [key=value …] [--dry-run] [--yes] [--incident INC-n]", "a runbook action",
               _ops("run", _run)),
    SubCommand("confirm", "/ops confirm <plan-id>", "run a planned action", _ops("confirm", _confirm)),
    SubCommand("approve", "/ops approve <plan-id>", "second approval of someone else's plan",
               _ops("approve", _confirm)),
    SubCommand("audit", "/ops audit [--user U123] [--env ENV] [--since 1h]", "who did what", _ops("audit", _audit)),
])
