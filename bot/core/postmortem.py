"""Post-mortem draft from the incident and its timeline, through a Jinja2 template."""
from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from jinja2 import Environment, FileSystemLoader, PackageLoader, StrictUndefined

from bot.config.catalog import NEXT_BUSINESS_DAY, Catalog
from bot.core.models import Event, EventKind, Incident
from bot.timeparse import format_duration, show, utcnow


@dataclass
class Metric:
    name: str
    value: str
    verdict: str


def response_metrics(incident: Incident, catalog: Catalog) -> list[Metric]:
    """Time to acknowledge / mitigate / resolve, each against the severity's response target."""
    deadline = catalog.severities[incident.severity].response_deadline(incident.declared_at)
    metrics = []
    for name, moment in (("Time to acknowledge", incident.acknowledged_at),
                         ("Time to mitigate", incident.mitigated_at),
                         ("Time to resolve", incident.resolved_at)):
        if moment is None:
            metrics.append(Metric(name, "—", "not reached"))
            continue
        verdict = "met" if moment <= deadline else "missed"
        metrics.append(Metric(name, format_duration(moment - incident.declared_at), verdict))
    return metrics


def render_postmortem(incident: Incident, events: list[Event], catalog: Catalog,
                      now: datetime | None = None) -> str:
    env = _environment(catalog.templates.postmortem)
    template = env.get_template(catalog.templates.postmortem.name if catalog.templates.postmortem
                                else "postmortem.md.j2")
    severity = catalog.severities[incident.severity]
    end = incident.resolved_at or now or utcnow()
    target = severity.response
    return template.render(
        incident=incident, events=events, severity=severity, show=show,
        duration=format_duration(end - incident.declared_at) + ("" if incident.resolved_at else " (ongoing)"),
        metrics=response_metrics(incident, catalog),
        evidence=[(f"EB-{e.data['bundle']['number']}", item) for e in events
                  if e.kind is EventKind.EVIDENCE and "bundle" in e.data for item in e.data["bundle"]["items"]],
        target_label="next business day" if target == NEXT_BUSINESS_DAY else target,
        generated=show(now or utcnow()),
    )


def postmortem_filename(incident: Incident) -> str:
    """incidents/YYYY-MM-DD-incident-name.md, as the runbooks file them."""
    return f"{incident.declared_at:%Y-%m-%d}-{slugify(incident.title)}.md"


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
