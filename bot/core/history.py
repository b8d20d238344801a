"""`/ops history <service> <env>`: what was done to a service — deploys, rollbacks, scales, restarts, stops and
starts, switches — newest first, with who, when, from → to (the plan they confirmed), the outcome and the audit
seq, from the audit log; and what the platform itself recorded (rollout revisions, container events)."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from bot.core.audit import AuditRecord, outcome
from bot.core.ops_rules import service_of
from bot.core.requests import SERVICE_ACTIONS, Actor

CHANGES = frozenset(str(action) for action in SERVICE_ACTIONS)
PLATFORM_SINCE = timedelta(days=30)


@dataclass(frozen=True)
class Change:
    at_record: AuditRecord  # the attempt's first record (who asked, when, what it said it would do)
    last: AuditRecord  # its latest record: outcome and seq
    outcome: str


@dataclass(frozen=True)
class ServiceHistory:
    env: str
    service: str
    changes: list[Change]  # newest first
    platform: list[str]  # what the platform recorded about the service, as it says it
    platform_error: str | None = None


def service_history(ops, actor: Actor, env_name: str, service: str, limit: int = 50) -> ServiceHistory:
    """Needs the viewer role there, like the audit log."""
    env = ops.env(env_name)
    ops.authorize(actor, env_name, "audit")
    service_of(env_name, env, service)
    grouped: dict[str, list[AuditRecord]] = {}
    for record in ops.store.audit_records():
        if record.env == env_name and record.target == service and record.action in CHANGES:
            grouped.setdefault(record.attempt, []).append(record)
    changes = [Change(steps[0], steps[-1], outcome(steps)) for steps in grouped.values()
               if any(step.phase != "refused" for step in steps)]
    changes.sort(key=lambda change: change.last.seq, reverse=True)
    lines, error = [], None
    try:
        deployment = (env.services[service].deployment or env.services[service].docker_service or service)
        lines = [line for line in ops.platform(env_name).history(ops.clock() - PLATFORM_SINCE)
                 if service in line or deployment in line]
    except Exception as exc:  # noqa: BLE001 — the audit log's side still answers; say why the platform's did not
        error = str(exc) or type(exc).__name__
    return ServiceHistory(env_name, service, changes[:limit], lines[-limit:], error)
