"""Ops replies as Block Kit: health, status, logs, plans and outcomes, the audit log."""
from __future__ import annotations

from datetime import datetime, timedelta

from bot.core.audit import AuditRecord, outcome
from bot.core.ops import Outcome
from bot.core.ports import HealthReport, ServiceState
from bot.core.reminders import Window
from bot.timeparse import format_duration, show
from bot.views.blocks import Attachment, Reply, button, context, header, lines_to_sections, section
from bot.views.mrkdwn import clipped, escape, mention, render

ICON = {"ok": "✅", "warn": "⚠️", "crit": "❌"}
VERDICT = {"ok": "healthy", "warn": "degraded", "crit": "critical"}
_INLINE_MAX = 2800  # longer output goes into a file, not a message


def health(report: HealthReport, at: datetime, window: Window | None = None) -> Reply:
    reply = _checked(report, at) if report.results else _nothing_checked(report)
    if window is not None:  # during a planned window, failing checks are expected: say so at the top
        reply.text += f" (in maintenance: {window.ref})"
        reply.blocks.insert(1, section(f"🛠️ *{report.env} is in maintenance* — {window.ref} "
                                       f"\"{render(window.title)}\" until {show(window.ends_at)}"))
    return reply


def _nothing_checked(report: HealthReport) -> Reply:
    """Nothing was checked: that is not "healthy"."""
    message = f"No checks are configured for {report.env}: nothing was checked (add `checks:` to opsbot.yml)."
    return Reply(text=f"{report.env} has no checks configured",
                 blocks=[header(f"Health · {report.env} — ❔ no checks"), section(message)], ephemeral=False)


def _checked(report: HealthReport, at: datetime) -> Reply:
    verdict = VERDICT[report.overall]
    lines = []
    for r in report.results:
        line = f"{ICON[r.level]} *{escape(r.name)}* ({r.kind}) — {escape(r.value)}"
        if r.threshold:
            line += f"  _[{escape(r.threshold)}]_"
        if r.detail:
            line += f" — {escape(r.detail)}"
        if r.link:
            line += f" · <{escape(r.link)}|graph>"
        lines.append(line)
    if not lines:
        lines = [f"No checks are configured for {report.env}."]
    blocks = [header(f"Health · {report.env} — {ICON[report.overall]} {verdict}"),
              *lines_to_sections(lines + report.notes),
              context(f"{len(report.results)} checks in {report.elapsed_ms / 1000:.1f} s · {show(at)}")]
    return Reply(text=f"{report.env} is {verdict}", blocks=blocks, ephemeral=False)


def status(env: str, states: list[ServiceState]) -> Reply:
    lines = [f"{'✅' if s.running >= s.desired and s.running else '❌' if not s.running else '⚠️'} *{escape(s.name)}* — "
             f"{s.running}/{s.desired} running" + (f" · {escape(s.image)}" if s.image else "")
             + (f" · {escape(s.detail)}" if s.detail else "")
             for s in states]
    return Reply(text=f"Status of {env}", blocks=[header(f"Status · {env}"),
                                                  *lines_to_sections(lines or ["No services configured."])])


def logs(service: str, env: str, since: timedelta, output: str) -> Reply:
    title = f"Logs · {service} in {env} · last {format_duration(since)}"
    reply = Reply(text=title, blocks=[header(title)])
    shown = escape(output)  # decided on what is shown: escaping can make it longer
    if len(shown) > _INLINE_MAX or output.count("\n") > 40:
        reply.file = Attachment(f"{service}-{env}-logs.txt", output, title)
        reply.blocks.append(section(f"{output.count(chr(10)) + 1} lines: attached as a file."))
    else:
        reply.blocks.append(section(f"```{shown}```"))
    return reply


def outcome_reply(result: Outcome) -> Reply:
    reply = _outcome_reply(result)
    reply.effects += result.effects
    return reply


def _outcome_reply(result: Outcome) -> Reply:
    summary = escape(result.summary)
    if result.kind == "dry_run":
        message = f"🧪 Dry run — nothing was changed. Plan: *{summary}*"
        return Reply(text=message, blocks=[section(message)])
    if result.kind == "planned" and result.plan is not None:
        plan = result.plan
        needed = plan.required_approvals
        approvals = (f" {needed} other authorised {'person' if needed == 1 else 'people'} must approve it too "
                     f"(`/ops approve {plan.id}`)." if needed else "")
        message = f"📋 Plan `{plan.id}`: *{summary}*"
        blocks = [section(message), context(f"Confirm within 5 minutes (until {show(plan.expires_at)}): "
                                            f"`/ops confirm {plan.id}`.{approvals}"),
                  {"type": "actions", "block_id": "ops_plan", "elements": [
                      {**button("Confirm", "ops_confirm", plan.id, "danger"),
                       "confirm": {"title": {"type": "plain_text", "text": "Run this?"},
                                   "text": {"type": "mrkdwn", "text": clipped(result.summary, 300)},
                                   "confirm": {"type": "plain_text", "text": "Run it"},
                                   "deny": {"type": "plain_text", "text": "Cancel"}}}]}]
        return Reply(text=f"Plan {plan.id}: {summary}", blocks=blocks)
    if result.kind == "awaiting_approval" and result.plan is not None:
        plan = result.plan
        still = plan.required_approvals - len(plan.approvals)
        approved = f", approved by {', '.join(mention(u) for u in plan.approvals)}" if plan.approvals else ""
        message = (f"✋ Plan `{plan.id}` (*{summary}*) is confirmed by {mention(plan.user)}{approved}; {still} more "
                   f"authorised {'person' if still == 1 else 'people'} must approve it: `/ops approve {plan.id}`.")
        return Reply(text=message, blocks=[section(message)], ephemeral=False)
    if result.kind == "awaiting_confirmation" and result.plan is not None:
        plan = result.plan
        message = (f"👍 Plan `{plan.id}` (*{summary}*) is approved by {', '.join(mention(u) for u in plan.approvals)}; "
                   f"it runs once {mention(plan.user)}, who asked for it, confirms: `/ops confirm {plan.id}`.")
        return Reply(text=message, blocks=[section(message)], ephemeral=False)
    message = f"✅ Done: *{summary}*"
    reply = Reply(text=message, blocks=[section(message)], ephemeral=False)
    shown = escape(result.output.strip())
    if shown:
        if len(shown) > _INLINE_MAX:
            reply.file = Attachment("output.txt", result.output, result.summary)
        else:
            reply.blocks.append(section(f"```{shown}```"))
    return reply


def audit_log(groups: list[list[AuditRecord]], since: timedelta | None) -> Reply:
    lines = []
    for steps in groups[-100:]:
        first, last = steps[0], steps[-1]
        duration = f" in {last.duration_ms / 1000:.1f} s" if last.duration_ms is not None else ""
        target = f" {escape(first.target)}" if first.target else ""
        lines.append(f"`{show(first.at)}` {mention(first.user)} {first.action}{target} {first.env or ''} — "
                     f"*{outcome(steps)}*{duration}")
    title = "Audit log" + (f" · last {format_duration(since)}" if since else "")
    return Reply(text=title, blocks=[header(title), *lines_to_sections(lines or ["Nothing recorded."])])
