"""Prometheus Alertmanager's webhook payload (version 4), parsed into an AlertGroup.

Alertmanager POSTs one notification per alert group: `groupKey` identifies the group (it stays the same while the
group exists), each alert carries its `fingerprint`, `startsAt`, `endsAt` (`0001-01-01T00:00:00Z` while firing),
labels, annotations and `generatorURL`; `commonLabels` are the labels every alert of the group shares. Fields
opsbot does not use are ignored, so newer Alertmanagers still parse.
"""
from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field

from bot.core.alerts import Alert, AlertGroup, AlertStatus

_YEAR_ONE = 1  # Alertmanager's "no end yet"


class _Model(BaseModel):
    model_config = ConfigDict(extra="ignore", populate_by_name=True)


class AmAlert(_Model):
    status: AlertStatus
    labels: dict[str, str] = Field(default_factory=dict)
    annotations: dict[str, str] = Field(default_factory=dict)
    starts_at: datetime = Field(alias="startsAt")
    ends_at: datetime | None = Field(default=None, alias="endsAt")
    generator_url: str = Field(default="", alias="generatorURL", max_length=2000)
    fingerprint: str = Field(min_length=1, max_length=200)


class AmPayload(_Model):
    version: str
    group_key: str = Field(alias="groupKey", min_length=1, max_length=2000)
    receiver: str = ""
    status: AlertStatus
    # As many as Alertmanager sends (its default `max_alerts: 0` sends them all): the body's cap bounds them.
    alerts: list[AmAlert] = Field(min_length=1)
    group_labels: dict[str, str] = Field(default_factory=dict, alias="groupLabels")
    common_labels: dict[str, str] = Field(default_factory=dict, alias="commonLabels")
    common_annotations: dict[str, str] = Field(default_factory=dict, alias="commonAnnotations")
    external_url: str = Field(default="", alias="externalURL")
    truncated_alerts: int = Field(default=0, alias="truncatedAlerts", ge=0)


def parse(body: bytes, source: str) -> AlertGroup:
    """Raises pydantic's ValidationError (or ValueError) for a payload that is not Alertmanager's version 4."""
    payload = AmPayload.model_validate_json(body)
    if payload.version != "4":
        raise ValueError(f"version {payload.version[:10]!r} is not supported; opsbot reads Alertmanager's version 4")
    return AlertGroup(
        source=source, kind="alertmanager", key=payload.group_key, status=payload.status,
        labels={**payload.group_labels, **payload.common_labels}, annotations=payload.common_annotations,
        alerts=[Alert(fingerprint=a.fingerprint, status=a.status, labels=a.labels, annotations=a.annotations,
                      starts_at=a.starts_at,
                      ends_at=a.ends_at if a.ends_at and a.ends_at.year > _YEAR_ONE else None,
                      generator_url=a.generator_url or None, occurrence=a.starts_at.isoformat())
                for a in payload.alerts],
    )
