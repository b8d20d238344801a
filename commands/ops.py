"""`/ops …`: health, status, logs and audited actions on Docker and Kubernetes environments."""
from __future__ import annotations

import re

from bot.blocks import Attachment, Reply, button, context, header, lines_to_sections, section
from bot.core.audit import outcome
from bot.core.ops import Actor, OpsService, Outcome
from bot.core.ops_types import ICON
from bot.errors import UsageError
from bot.timeparse import format_duration, parse_duration, show
from commands.base import Context, Services
from commands.parsing import split_options, sub_command, usage_on_error

USAGE = {
    "health": "/ops health <env>",
    "status": "/ops status <env>",
    "logs": "/ops logs <service> <env> [--since 15m] [--grep TEXT] [--tail N]",
    "restart": "/ops restart <service> <env> [--dry-run] [--yes]",
    "scale": "/ops scale <service> <env> <replicas> [--dry-run] [--yes]",
    "rollback": "/ops rollback <service> <env> [--dry-run] [--yes]",
    "maintenance": "/ops maintenance <on|off> <env> [--dry-run] [--yes]",
    "run": "/ops run <action> <env> [key=value …] [--dry-run] [--yes]",
    "confirm": "/ops confirm <plan-id>",
    "approve": "/ops approve <plan-id>",
    "audit": "/ops audit [--user U123] [--env ENV] [--since 1h]",
    "help": "/ops help",
}
SUMMARY = {
    "health": "run the environment's checks", "status": "services and replicas", "logs": "recent log lines",
    "restart": "restart a service", "scale": "set a service's replicas", "rollback": "go back to the previous version",
    "maintenance": "maintenance mode on/off", "run": "a runbook action", "confirm": "run a planned action",
    "approve": "second approval of someone else's plan", "audit": "who did what", "help": "this help",
}
# Refused in any argument, before any backend call: nothing here ever reaches a shell, and nothing should look like it.
_METACHARACTERS = re.compile(r"[;&|`$<>(){}\\\n\r]")
_ACTION_FLAGS = {"dry-run": False, "yes": False}
_MAX_TAIL = 2000


def help_reply() -> Reply:
    lines = [f"`{USAGE[name]}` — {SUMMARY[name]}" for name in USAGE]
    return Reply(text="/ops help", blocks=[header("/ops"), section("\n".join(lines)), context(
        "Dangerous actions in protected environments show their plan and run only once confirmed.")])


def handle(services: Services, ctx: Context, text: str) -> Reply:
    name, rest = sub_command(text, USAGE, "/ops")
    if name in ("", "help"):
        return help_reply()
    if _METACHARACTERS.search(rest):
        raise UsageError("Shell metacharacters (; | & $ ` < > ( ) { } \\) are not allowed in /ops arguments.",
                         USAGE[name])
    actor = Actor(user=ctx.user, channel=ctx.channel, command=f"/ops {text}")
    with usage_on_error(USAGE[name]):
        reply = HANDLERS[name](services.ops, actor, rest.strip())
    if name == "health":
        _mark_maintenance(reply, services, rest.split()[0])
    return reply


def _mark_maintenance(reply: Reply, services: Services, env: str) -> None:
    """During a planned window, failing checks are expected: say so at the top."""
    window = services.maintenance.active_window(env)
    if window is not None:
        reply.text += f" (in maintenance: {window.ref})"
        reply.blocks.insert(1, section(f"🛠️ *{env} is in maintenance* — {window.ref} \"{window.title}\" "
                                       f"until {show(window.ends_at)}"))


def _words(text: str, count: int, name: str, flags: dict[str, bool] | None = None) -> tuple[list[str], dict]:
    parsed = split_options(text, flags or {}, USAGE[name])
    words = parsed.positional.split()
    if len(words) != count:
        raise UsageError(f"Expected {count} argument{'s' if count > 1 else ''}, got {len(words)}.", USAGE[name])
    return words, parsed.options


def _health(ops: OpsService, actor: Actor, text: str) -> Reply:
    (env,), _ = _words(text, 1, "health")
    report = ops.health(actor, env)
    verdict = {"ok": "healthy", "warn": "degraded", "crit": "critical"}[report.overall]
    lines = []
    for r in report.results:
        line = f"{ICON[r.level]} *{r.name}* ({r.kind}) — {r.value}"
        if r.threshold:
            line += f"  _[{r.threshold}]_"
        if r.detail:
            line += f" — {r.detail}"
        lines.append(line)
    if not lines:
        lines = [f"No checks are configured for {env}."]
    blocks = [header(f"Health · {env} — {ICON[report.overall]} {verdict}"), *lines_to_sections(lines + report.notes),
              context(f"{len(report.results)} checks in {report.elapsed_ms / 1000:.1f} s · {show(ops.clock())}")]
    return Reply(text=f"{env} is {verdict}", blocks=blocks, ephemeral=False)


def _status(ops: OpsService, actor: Actor, text: str) -> Reply:
    (env,), _ = _words(text, 1, "status")
    states = ops.status(actor, env)
    lines = [f"{'✅' if s.running >= s.desired and s.running else '❌' if not s.running else '⚠️'} *{s.name}* — "
             f"{s.running}/{s.desired} running" + (f" · {s.image}" if s.image else "") + (f" · {s.detail}" if s.detail else "")
             for s in states]
    return Reply(text=f"Status of {env}", blocks=[header(f"Status · {env}"),
                                                  *lines_to_sections(lines or ["No services configured."])])


def _logs(ops: OpsService, actor: Actor, text: str) -> Reply:
    (service, env), options = _words(text, 2, "logs", {"since": True, "grep": True, "tail": True})
    since = _duration(options.get("since", "15m"), "logs")
    tail = options.get("tail", "200")
    if not str(tail).isdigit() or not 0 < int(tail) <= _MAX_TAIL:
        raise UsageError(f"--tail must be a number from 1 to {_MAX_TAIL}.", USAGE["logs"])
    output = ops.logs(actor, env, service, since, int(tail), options.get("grep"))
    title = f"Logs · {service} in {env} · last {format_duration(since)}"
    reply = Reply(text=title, blocks=[header(title)])
    if len(output) > 2800 or output.count("\n") > 40:
        reply.file = Attachment(f"{service}-{env}-logs.txt", output, title)
        reply.blocks.append(section(f"{output.count(chr(10)) + 1} lines: attached as a file."))
    else:
        reply.blocks.append(section(f"```{output}```"))
    return reply


def _duration(value, name: str):
    try:
        return parse_duration(str(value))
    except ValueError as exc:
        raise UsageError(f"{exc}.", USAGE[name]) from None


def _service_action(action: str):
    def run(ops: OpsService, actor: Actor, text: str) -> Reply:
        (service, env), options = _words(text, 2, action, _ACTION_FLAGS)
        ops.service(env, service)
        return _request(ops, actor, env, action, service, {}, options)

    return run


def _scale(ops: OpsService, actor: Actor, text: str) -> Reply:
    (service, env, count), options = _words(text, 3, "scale", _ACTION_FLAGS)
    ops.service(env, service)
    maximum = ops.env(env).services[service].max_replicas
    if not count.isdigit() or not 0 <= int(count) <= maximum:
        raise UsageError(f"Replicas must be a whole number from 0 to {maximum} for {service} in {env}.",
                         USAGE["scale"])
    return _request(ops, actor, env, "scale", service, {"replicas": int(count)}, options)


def _maintenance(ops: OpsService, actor: Actor, text: str) -> Reply:
    (state, env), options = _words(text, 2, "maintenance", _ACTION_FLAGS)
    if state.lower() not in ("on", "off"):
        raise UsageError(f"'{state}' is not on or off.", USAGE["maintenance"])
    ops.env(env)
    return _request(ops, actor, env, "maintenance", None, {"on": state.lower() == "on"}, options)


def _run(ops: OpsService, actor: Actor, text: str) -> Reply:
    parsed = split_options(text, _ACTION_FLAGS, USAGE["run"])
    words = parsed.positional.split()
    if len(words) < 2:
        raise UsageError("Give the action and the environment.", USAGE["run"])
    name, env_name, pairs = words[0], words[1], words[2:]
    given: dict[str, str] = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key:
            raise UsageError(f"'{pair}' is not key=value.", USAGE["run"])
        given[key] = value
    return _request(ops, actor, env_name, "run", name, given, parsed.options)


def _request(ops: OpsService, actor: Actor, env: str, action: str, target, args: dict, options: dict) -> Reply:
    result = ops.request(actor, env, action, target, args, dry_run=bool(options.get("dry-run")),
                         confirmed=bool(options.get("yes")))
    return outcome_reply(result)


def _confirm(ops: OpsService, actor: Actor, text: str) -> Reply:
    (plan_id,), _ = _words(text, 1, "confirm")
    return outcome_reply(ops.confirm(actor, plan_id))


def outcome_reply(result: Outcome) -> Reply:
    if result.kind == "dry_run":
        message = f"🧪 Dry run — nothing was changed. Plan: *{result.summary}*"
        return Reply(text=message, blocks=[section(message)])
    if result.kind == "planned":
        plan = result.plan
        approvals = " A second authorised person must approve it too." if plan.required_approvals > 1 else ""
        message = f"📋 Plan `{plan.id}`: *{result.summary}*"
        blocks = [section(message), context(f"Confirm within 5 minutes (until {show(plan.expires_at)}): "
                                            f"`/ops confirm {plan.id}`.{approvals}"),
                  {"type": "actions", "block_id": "ops_plan", "elements": [
                      {**button("Confirm", "ops_confirm", plan.id, "danger"),
                       "confirm": {"title": {"type": "plain_text", "text": "Run this?"},
                                   "text": {"type": "mrkdwn", "text": result.summary[:300]},
                                   "confirm": {"type": "plain_text", "text": "Run it"},
                                   "deny": {"type": "plain_text", "text": "Cancel"}}}]}]
        return Reply(text=f"Plan {plan.id}: {result.summary}", blocks=blocks, confirm=plan.id)
    if result.kind == "awaiting_approval":
        plan = result.plan
        message = (f"✋ Plan `{plan.id}` (*{result.summary}*) is confirmed by {', '.join('<@' + u + '>' for u in plan.approvals)};"
                   f" another authorised person must approve it: `/ops approve {plan.id}`.")
        return Reply(text=message, blocks=[section(message)], ephemeral=False)
    message = f"✅ Done: *{result.summary}*"
    reply = Reply(text=message, blocks=[section(message)], ephemeral=False)
    if result.output.strip():
        if len(result.output) > 2800:
            reply.file = Attachment("output.txt", result.output, result.summary)
        else:
            reply.blocks.append(section(f"```{result.output.strip()}```"))
    return reply


def _audit(ops: OpsService, actor: Actor, text: str) -> Reply:
    parsed = split_options(text, {"user": True, "env": True, "since": True}, USAGE["audit"])
    if parsed.positional:
        raise UsageError(f"Unexpected '{parsed.positional}'.", USAGE["audit"])
    since = _duration(parsed.options["since"], "audit") if "since" in parsed.options else None
    user = parsed.options.get("user")
    if user:
        user = user.lstrip("@").strip("<>").split("|")[0].lstrip("@")
    groups = ops.audit_log(actor, user, parsed.options.get("env"), since)
    lines = []
    for steps in groups[-100:]:
        first, last = steps[0], steps[-1]
        duration = f" in {last.duration_ms / 1000:.1f} s" if last.duration_ms is not None else ""
        target = f" {first.target}" if first.target else ""
        lines.append(f"`{show(first.at)}` <@{first.user}> {first.action}{target} {first.env or ''} — "
                     f"*{outcome(steps)}*{duration}")
    title = "Audit log" + (f" · last {format_duration(since)}" if since else "")
    return Reply(text=title, blocks=[header(title), *lines_to_sections(lines or ["Nothing recorded."])])


HANDLERS = {
    "health": _health, "status": _status, "logs": _logs, "restart": _service_action("restart"),
    "rollback": _service_action("rollback"), "scale": _scale, "maintenance": _maintenance, "run": _run,
    "confirm": _confirm, "approve": _confirm, "audit": _audit,
}
