"""opsbot's generic alert JSON, for sources without an Alertmanager (Grafana, uptime checkers, CI):

    {"title": "Checkout p95 above 2 s", "severity": "P1", "env": "prod", "service": "checkout",
     "dedup_key": "checkout-latency", "status": "firing",
     "started_at": "2024-05-01T12:00:00Z", "url": "https://grafana/…", "description": "…", "labels": {"team": "pay"}}

`title` and `dedup_key` are required; `status` is firing (default) or resolved; `severity` (P0-P3 or sev1-sev4),
`env` and `service` override the matching rule's. One key is one alert group: resolving it resolves the group.
"""
from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field

from bot.core.alerts import Alert, AlertGroup, AlertStatus
from bot.timeparse import utcnow


class GenericAlert(BaseModel):
    model_config = ConfigDict(extra="forbid")  # a typo'd field is refused, not silently dropped

    title: str = Field(min_length=1, max_length=500)
    dedup_key: str = Field(min_length=1, max_length=500)
    status: AlertStatus = "firing"
    severity: str | None = Field(default=None, max_length=20)
    env: str | None = Field(default=None, max_length=100)
    service: str | None = Field(default=None, max_length=200)
    started_at: datetime | None = None
    url: str | None = Field(default=None, max_length=2000)
    description: str | None = Field(default=None, max_length=3000)
    labels: dict[str, str] = Field(default_factory=dict)


def parse(body: bytes, source: str) -> AlertGroup:
    """Raises pydantic's ValidationError for a body that is not the generic shape."""
    alert = GenericAlert.model_validate_json(body)
    # What the rules match: the payload's labels plus its own fields.
    labels = {**alert.labels, "source": source, "alertname": alert.title,
              **{name: value for name, value in (("severity", alert.severity), ("env", alert.env),
                                                 ("service", alert.service)) if value}}
    started = alert.started_at or utcnow()
    return AlertGroup(
        source=source, kind="webhook", key=alert.dedup_key, status=alert.status, labels=labels,
        title=alert.title, severity=alert.severity, env=alert.env, service=alert.service,
        alerts=[Alert(fingerprint=alert.dedup_key, status=alert.status, labels=labels,
                      annotations={"summary": alert.description} if alert.description else {},
                      starts_at=started, ends_at=utcnow() if alert.status == "resolved" else None,
                      generator_url=alert.url,
                      occurrence=alert.started_at.isoformat() if alert.started_at else "")],
    )
