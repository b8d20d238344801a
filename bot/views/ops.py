"""Ops replies, neutral: health, status, logs, plans and outcomes, the audit log."""
from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta

from bot.core.audit import AuditRecord, outcome
from bot.core.history import ServiceHistory
from bot.core.ops import Outcome
from bot.core.ports import HealthReport, ServiceState
from bot.core.reminders import Window
from bot.timeparse import format_duration, show
from bot.views.dashboards import dashboards
from bot.views.model import (
    Attachment,
    Button,
    Buttons,
    Code,
    Em,
    Headline,
    Line,
    Link,
    Mention,
    Preformatted,
    Reply,
    Strong,
    joined,
    line,
    lines,
    neutral,
    note,
    paragraph,
    reply,
)
from bot.views.mrkdwn import escape

ICON = {"ok": "✅", "warn": "⚠️", "crit": "❌"}
VERDICT = {"ok": "healthy", "warn": "degraded", "crit": "critical"}
_INLINE_MAX = 2800  # longer output goes into a file, not a message


def health(report: HealthReport, at: datetime, window: Window | None = None,
           links: Sequence[tuple[str, str]] = ()) -> Reply:
    answer = _checked(report, at) if report.results else _nothing_checked(report)
    shown = dashboards(list(links))
    if shown is not None:
        answer.parts.append(shown)
    if window is not None:  # during a planned window, failing checks are expected: say so at the top
        answer.summary = line(answer.summary, f" (in maintenance: {window.ref})")
        answer.parts.insert(1, paragraph("🛠️ ", Strong(f"{report.env} is in maintenance"), f" — {window.ref} \"",
                                         neutral(window.title), f"\" until {show(window.ends_at)}"))
    return answer


def _nothing_checked(report: HealthReport) -> Reply:
    """Nothing was checked: that is not "healthy"."""
    return reply(f"{report.env} has no checks configured", Headline(f"Health · {report.env} — ❔ no checks"),
                 paragraph(f"No checks are configured for {report.env}: nothing was checked (add ", Code("checks:"),
                           " to opsbot.yml)."), ephemeral=False)


def _check_line(result) -> Line:
    return line(f"{ICON[result.level]} ", Strong(result.name), f" ({result.kind}) — {result.value}",
                line("  ", Em(f"[{result.threshold}]")) if result.threshold else "",
                f" — {result.detail}" if result.detail else "",
                line(" · ", Link(result.link, "graph")) if result.link else "")


def _checks(count: int) -> str:
    return f"{count} check" if count == 1 else f"{count} checks"


def _checked(report: HealthReport, at: datetime) -> Reply:
    verdict = VERDICT[report.overall]
    items = [_check_line(r) for r in report.results] or [line(f"No checks are configured for {report.env}.")]
    return reply(f"{report.env} is {verdict}", Headline(f"Health · {report.env} — {ICON[report.overall]} {verdict}"),
                 lines([*items, *(line(n) for n in report.notes)]),
                 note(f"{_checks(len(report.results))} in {report.elapsed_ms / 1000:.1f} s · {show(at)}"),
                 ephemeral=False)


def status(env: str, states: list[ServiceState], links: dict[str, list[tuple[str, str]]] | None = None) -> Reply:
    """`links`: dashboards by service ("" for the environment's own)."""
    links = links or {}
    items = [line(f"{'✅' if s.running >= s.desired and s.running else '❌' if not s.running else '⚠️'} ", Strong(s.name),
                  f" — {s.running}/{s.desired} running", f" · {s.image}" if s.image else "",
                  f" · {s.detail}" if s.detail else "",
                  [line(" · ", Link(url, name)) for name, url in links.get(s.name, [])]) for s in states]
    answer = reply(f"Status of {env}", Headline(f"Status · {env}"), lines(items or [line("No services configured.")]))
    shown = dashboards(links.get("", []))
    if shown is not None:
        answer.parts.append(shown)
    return answer


def config_shown(service: str, env: str, values: dict[str, str | None]) -> Reply:
    title = f"Config · {service} in {env}"
    items = [line(Code(key), " = ", Code(value) if value is not None else Em("not set")) for key, value in values.items()]
    return reply(title, Headline(title), lines(items))


def described(service: str, env: str, text: str) -> Reply:
    title = f"Describe · {service} in {env}"
    answer = reply(title, Headline(title))
    if len(escape(text)) > _INLINE_MAX:
        answer.file = Attachment(f"{service}-{env}-describe.txt", text, title)
        answer.parts.append(paragraph("Attached as a file."))
    else:
        answer.parts.append(Preformatted(text))
    return answer


def logs(service: str, env: str, since: timedelta, output: str) -> Reply:
    title = f"Logs · {service} in {env} · last {format_duration(since)}"
    answer = reply(title, Headline(title))
    if len(escape(output)) > _INLINE_MAX or output.count("\n") > 40:  # escaping can make it longer
        answer.file = Attachment(f"{service}-{env}-logs.txt", output, title)
        answer.parts.append(paragraph(f"{output.count(chr(10)) + 1} lines: attached as a file."))
    else:
        answer.parts.append(Preformatted(output))
    return answer


def outcome_reply(result: Outcome) -> Reply:
    answer = _outcome_reply(result)
    answer.effects += result.effects
    return answer


def summary_spans(text: str) -> Line:
    """A plan's summary in bold, but the exact command it names (between backticks, see bot/core/ops.py) as
    code: an argv is shown untouched, never read as markup (`*.log` is not bold)."""
    lead, opened, rest = text.partition("`")
    command, closed, tail = rest.partition("`")
    if not (opened and closed):
        return (Strong(text),)
    return line(Strong(lead.rstrip()), " ", Code(command), tail)


def _outcome_reply(result: Outcome) -> Reply:
    summary = summary_spans(result.summary)
    if result.kind == "dry_run":
        message = line("🧪 Dry run — nothing was changed. Plan: ", summary)
        return reply(message, paragraph(message))
    if result.kind == "planned" and result.plan is not None:
        plan = result.plan
        needed = plan.required_approvals
        approvals = line(f" {needed} other authorised {'person' if needed == 1 else 'people'} must approve it too (",
                         Code(f"/ops approve {plan.id}"), ").") if needed else ""
        return reply(line(f"Plan {plan.id}: {result.summary}"), paragraph("📋 Plan ", Code(plan.id), ": ", summary),
                     note(f"Confirm within 5 minutes (until {show(plan.expires_at)}): ",
                          Code(f"/ops confirm {plan.id}"), ".", approvals),
                     Buttons((Button("Confirm", "ops_confirm", plan.id, "danger", confirm=result.summary),),
                             id="ops_plan"))
    if result.kind == "awaiting_approval" and result.plan is not None:
        plan = result.plan
        still = plan.required_approvals - len(plan.approvals)
        approved = line(", approved by ", joined(Mention(u) for u in plan.approvals)) if plan.approvals else ""
        message = line("✋ Plan ", Code(plan.id), " (", summary, ") is confirmed by ", Mention(plan.user), approved,
                       f"; {still} more authorised {'person' if still == 1 else 'people'} must approve it: ",
                       Code(f"/ops approve {plan.id}"), ".")
        return reply(message, paragraph(message), ephemeral=False)
    if result.kind == "awaiting_confirmation" and result.plan is not None:
        plan = result.plan
        message = line("👍 Plan ", Code(plan.id), " (", summary, ") is approved by ",
                       joined(Mention(u) for u in plan.approvals), "; it runs once ", Mention(plan.user),
                       ", who asked for it, confirms: ", Code(f"/ops confirm {plan.id}"), ".")
        return reply(message, paragraph(message), ephemeral=False)
    message = line("✅ Done: ", summary)
    answer = reply(message, paragraph(message), ephemeral=False)
    shown = result.output.strip()
    if shown:
        if len(escape(shown)) > _INLINE_MAX:
            answer.file = Attachment("output.txt", result.output, result.summary)
        else:
            answer.parts.append(Preformatted(shown))
    return answer


OUTCOME_ICON = {"succeeded": "✅", "failed": "❌", "denied": "⛔", "expired": "⌛", "cancelled": "↩️",
                "reconciled": "🔧", "dry_run": "🧪"}


def service_history(history: ServiceHistory) -> Reply:
    title = f"History · {history.service} in {history.env}"
    items = [line(f"{OUTCOME_ICON.get(change.outcome, '•')} ", Code(show(change.at_record.at)), " ",
                  Mention(change.at_record.user), " ", summary_spans(change.at_record.excerpt or change.at_record.action),
                  f" — {change.outcome} (audit #{change.last.seq})") for change in history.changes]
    answer = reply(title, Headline(title), lines(items or [line("No change recorded by opsbot.")]))
    if history.platform:
        answer.parts.append(paragraph(Strong("The platform's record")))
        answer.parts.append(Preformatted("\n".join(history.platform)))
    elif history.platform_error:
        answer.parts.append(note(f"The platform's record could not be read: {history.platform_error}"))
    return answer


def audit_log(groups: list[list[AuditRecord]], since: timedelta | None) -> Reply:
    items = []
    for steps in groups[-100:]:
        first, last = steps[0], steps[-1]
        duration = f" in {last.duration_ms / 1000:.1f} s" if last.duration_ms is not None else ""
        items.append(line(Code(show(first.at)), " ", Mention(first.user), f" {first.action}",
                          f" {first.target}" if first.target else "", f" {first.env or ''} — ",
                          Strong(outcome(steps)), duration))
    title = "Audit log" + (f" · last {format_duration(since)}" if since else "")
    return reply(title, Headline(title), lines(items or [line("Nothing recorded.")]))
