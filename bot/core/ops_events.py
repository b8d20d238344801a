"""Ops actions and health checks as the incident's timeline records them: neutral text plus structured fields
(the audit seq is added by the store, in the same transaction as the audit record)."""
from __future__ import annotations

from datetime import datetime

from bot.core.audit import AuditRecord
from bot.core.models import Event, EventKind
from bot.core.ports import HealthReport
from bot.core.redact import redact

TIMELINE_PHASES = {"succeeded", "failed", "dry_run", "cancelled", "expired", "denied", "refused", "reconciled"}


def action_event(record: AuditRecord) -> Event:
    """An action's outcome, e.g. "restart api in prod: succeeded in 1.2 s"."""
    what = " ".join(part for part in (record.action, record.target or "", f"in {record.env}" if record.env else "")
                    if part)
    took = f" in {record.duration_ms / 1000:.1f} s" if record.duration_ms is not None else ""
    return Event(at=record.at, actor=record.user, kind=EventKind.OPS, text=f"{what}: {record.phase}{took}",
                 data={"attempt": record.attempt, "action": record.action, "env": record.env, "target": record.target,
                       "args": record.args, "outcome": record.phase, "duration_ms": record.duration_ms,
                       "excerpt": (record.excerpt or "")[-300:]})


def health_event(report: HealthReport, user: str, at: datetime) -> Event:
    levels = {level: sum(r.level == level for r in report.results) for level in ("ok", "warn", "crit")}
    worst = "crit" if levels["crit"] else "warn" if levels["warn"] else "ok"
    text = (f"health of {report.env}: {worst} ({levels['ok']} ok, {levels['warn']} warn, {levels['crit']} crit"
            f" in {report.elapsed_ms / 1000:.1f} s)")
    return Event(at=at, actor=user, kind=EventKind.CHECK, text=text,
                 data={"env": report.env, "outcome": worst, "duration_ms": int(report.elapsed_ms),
                       "results": [{"name": r.name, "kind": r.kind, "level": r.level, "value": str(r.value),
                                    "detail": redact(str(r.detail))[:200]} for r in report.results]})
