"""Post-mortem draft from the incident and its timeline, through a Jinja2 template."""
from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

from jinja2 import Environment, FileSystemLoader, PackageLoader, StrictUndefined

from bot.config.catalog import NEXT_BUSINESS_DAY, Catalog
from bot.core.models import Event, EventKind, Incident
from bot.core.redact import redact
from bot.timeparse import format_duration, show, utcnow


@dataclass
class Metric:
    name: str
    value: str
    target: str
    verdict: str


def highest_severity(incident: Incident, events: list[Event], catalog: Catalog) -> str:
    """The most severe level the incident held (catalog order: most severe first): a P0 downgraded to P1 is
    still judged as a P0."""
    held = {incident.severity} | {e.data.get(side) for e in events if e.kind is EventKind.SEVERITY
                                  for side in ("from", "to")}
    order = list(catalog.severities)
    return min((key for key in held if key in order), key=order.index, default=incident.severity)


def response_metrics(incident: Incident, catalog: Catalog, events: list[Event] | None = None) -> list[Metric]:
    """Each milestone against its own target for the highest severity held; a milestone only implied by a later
    step (resolved without an ack) is said so and never counts as met. From impact start when it is known."""
    key = highest_severity(incident, events or [], catalog)
    severity = catalog.severities[key]
    declared = incident.declared_at
    targets = {"acknowledged": (severity.response_deadline(declared),
                                "next business day" if severity.response == NEXT_BUSINESS_DAY else severity.response),
               "mitigated": (declared + severity.mitigate if severity.mitigate else None,
                             format_duration(severity.mitigate) if severity.mitigate else "none"),
               "resolved": (declared + severity.resolve if severity.resolve else None,
                            format_duration(severity.resolve) if severity.resolve else "none")}
    metrics = []
    for name, milestone, moment in (("Time to acknowledge", "acknowledged", incident.acknowledged_at),
                                    ("Time to mitigate", "mitigated", incident.mitigated_at),
                                    ("Time to resolve", "resolved", incident.resolved_at)):
        deadline, label = targets[milestone]
        if moment is None:
            metrics.append(Metric(name, "—", f"{label} ({key})", "not reached"))
        elif milestone in incident.implied:
            metrics.append(Metric(name, "—", f"{label} ({key})", f"not {milestone} explicitly"))
        else:
            verdict = "no target" if deadline is None else "met" if moment <= deadline else "missed"
            metrics.append(Metric(name, format_duration(moment - declared), f"{label} ({key})", verdict))
    if incident.impact_started_at:
        start = incident.impact_started_at
        detected = incident.detected_at or declared
        metrics.append(Metric("Time to detect (from impact start)", format_duration(detected - start), "—", "—"))
        if incident.resolved_at and "resolved" not in incident.implied:
            metrics.append(Metric("Time to resolve (from impact start)",
                                  format_duration(incident.resolved_at - start), "—", "—"))
    return metrics


@dataclass
class Gap:
    start: datetime
    end: datetime

    @property
    def length(self) -> str:
        return format_duration(self.end - self.start)


def missed_updates(incident: Incident, events: list[Event], every: timedelta, now: datetime) -> list[Gap]:
    """Every stretch without a status update longer than the cadence, from declaration to resolution (or now)."""
    marks = [incident.declared_at, *(e.at for e in events if e.kind is EventKind.UPDATE)]
    end = incident.resolved_at or now
    return [Gap(a, b) for a, b in zip(marks, [*marks[1:], end], strict=True) if b - a > every]


def health_rows(snapshots: dict[str, str]) -> list[tuple[str, dict[str, str]]]:
    """The health snapshots (declaration, resolution) as rows: check -> {moment: 'level value'}."""
    rows: dict[str, dict[str, str]] = {}
    for moment, text in snapshots.items():
        for line in text.splitlines():
            parts = line.split("\t")
            if len(parts) >= 3:
                rows.setdefault(parts[1], {})[moment] = f"{parts[0]} {parts[2]}".strip()
    return sorted(rows.items())


def render_postmortem(incident: Incident, events: list[Event], catalog: Catalog,
                      now: datetime | None = None, snapshots: dict[str, str] | None = None,
                      similar: list | None = None) -> str:
    """`similar`: the past incidents most like this one (bot/core/search.py), so reviewers see a repeat."""
    env = _environment(catalog.templates.postmortem)
    template = env.get_template(catalog.templates.postmortem.name if catalog.templates.postmortem
                                else "postmortem.md.j2")
    now = now or utcnow()
    key = highest_severity(incident, events, catalog)
    severity = catalog.severities[key]
    end = incident.resolved_at or now
    draft = template.render(
        incident=incident, events=events, severity=catalog.severities[incident.severity], show=show,
        duration=format_duration(end - incident.declared_at) + ("" if incident.resolved_at else " (ongoing)"),
        metrics=response_metrics(incident, catalog, events), judged_as=key,
        evidence=[(f"EB-{e.data['bundle']['number']}", item) for e in events
                  if e.kind is EventKind.EVIDENCE and "bundle" in e.data for item in e.data["bundle"]["items"]],
        actions=[e for e in events if e.kind in (EventKind.OPS, EventKind.CHECK)],
        severity_history=[e for e in events if e.kind is EventKind.SEVERITY],
        role_history=[e for e in events if e.kind is EventKind.ROLE],
        escalations=[e for e in events if e.kind is EventKind.ESCALATION],
        cadence=format_duration(severity.update_every),
        gaps=missed_updates(incident, events, severity.update_every, now),
        health=health_rows(snapshots or {}), snapshot_moments=[m for m in ("declaration", "resolution")
                                                                if m in (snapshots or {})],
        generated=show(now), similar=similar or [],
    )
    return redact(draft)  # the draft is shared widely: whatever a template pulls in, nothing secret leaves


def postmortem_filename(incident: Incident) -> str:
    """YYYY-MM-DD-inc-<n>-incident-name.md, as the runbooks file them, with the id: two titles that slug alike
    (or have no ASCII letters at all) never share a file."""
    return f"{incident.declared_at:%Y-%m-%d}-inc-{incident.number}-{slugify(incident.title)}.md"


def slugify(text: str, limit: int = 60) -> str:
    slug = re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")
    return slug[:limit].rstrip("-") or "incident"


def _environment(custom: Path | None) -> Environment:
    loader = FileSystemLoader(str(custom.parent)) if custom else PackageLoader("bot.core", "templates")
    env = Environment(loader=loader, undefined=StrictUndefined, autoescape=False, keep_trailing_newline=True)
    # Table cells: one line, no pipes.
    env.filters["cell"] = lambda text: str(text).replace("|", "\\|").replace("\n", " ")
    env.filters["user"] = lambda user_id: f"@{user_id}"
    return env
