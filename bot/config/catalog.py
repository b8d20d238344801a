"""The catalog, opsbot.yml: severities, templates, limits, environments, roles, the scheduler.

Defaults are the runbooks': P0-P3 with 15 min / 1 h / 4 h / next-business-day response targets,
30-minute status updates, post-mortems due in 24 h (P0/P1) or 48 h, and the escalation chain
on-call engineer -> team lead -> engineering manager -> CTO.
"""
from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import Field, ValidationError, field_validator, model_validator

from bot.config import messages
from bot.config.alerts import Alerts
from bot.config.environments import Environment, Role, Roles
from bot.config.fields import Duration, Strict
from bot.config.schedule import Scheduler
from bot.errors import ConfigError
from bot.timeparse import next_business_day_end, parse_duration

NEXT_BUSINESS_DAY = "next-business-day"
IMMEDIATE = "immediate"
DEFAULT_ESCALATION = ["on-call engineer", "team lead", "engineering manager", "CTO"]
_SEVERITY_ALIAS = re.compile(r"^(?:p([0-3])|sev([1-4]))$", re.IGNORECASE)


def _default_chain() -> list[str | EscalationLevel]:
    return list(DEFAULT_ESCALATION)


class EscalationLevel(Strict):
    """One level of an escalation chain: who is paged (user IDs `U…`, user-group IDs `S…` or names) and when,
    counted from the declaration: `immediate`, or a duration. Without `after`, level 1 is paged at declaration
    and each next level one response target later."""

    who: list[str]
    after: str | None = None

    @field_validator("who", mode="before")
    @classmethod
    def _one_or_many(cls, value: object) -> object:
        return [value] if isinstance(value, str) else value

    @field_validator("who")
    @classmethod
    def _someone(cls, value: list[str]) -> list[str]:
        if not value or not all(who.strip() for who in value):
            raise ValueError("a level needs at least one user, user group or name")
        return value

    @field_validator("after")
    @classmethod
    def _check_after(cls, value: str | None) -> str | None:
        if value is not None and value != IMMEDIATE:
            parse_duration(value)
        return value


class Severity(Strict):
    name: str
    response: str = Field(description="a duration like 15m, or 'next-business-day'")
    mitigate: Duration | None = None  # target for mitigation, from declaration (none: not judged)
    resolve: Duration | None = None  # target for resolution, from declaration (none: not judged)
    update_every: Duration = timedelta(minutes=30)
    postmortem_due: Duration = timedelta(hours=48)
    escalation: list[str | EscalationLevel] = Field(default_factory=lambda: _default_chain())
    escalate_until: Literal["acknowledged", "resolved"] = "acknowledged"  # the runbooks' "if not resolved"
    announce: str | None = None  # this severity's announcement channel; None: the catalog's, "": none
    private: bool = False  # its incidents get a private channel by default

    @field_validator("response")
    @classmethod
    def _check_response(cls, value: str) -> str:
        if value != NEXT_BUSINESS_DAY:
            parse_duration(value)
        return value

    def response_deadline(self, declared_at: datetime) -> datetime:
        if self.response == NEXT_BUSINESS_DAY:
            return next_business_day_end(declared_at)
        return declared_at + parse_duration(self.response)

    def escalation_levels(self, declared_at: datetime) -> list[tuple[list[str], datetime]]:
        """Each level's people and when it is paged (level 1 at declaration unless it says otherwise)."""
        deadline = self.response_deadline(declared_at)
        step = timedelta(days=1) if self.response == NEXT_BUSINESS_DAY else parse_duration(self.response)
        levels = []
        for index, level in enumerate(self.escalation):
            if isinstance(level, str):
                level = EscalationLevel(who=[level])
            if level.after == IMMEDIATE:
                due = declared_at
            elif level.after is not None:
                due = declared_at + parse_duration(level.after)
            else:
                due = declared_at if index == 0 else deadline + (index - 1) * step
            levels.append((level.who, due))
        return levels


def _default_severities() -> dict[str, Severity]:
    day = timedelta(hours=24)
    return {
        # The runbooks: P0 mitigation within 30 min, recovery (RTO) within 4 h; P1 resolution within 4 h.
        "P0": Severity(name="Critical", response="15m", mitigate=timedelta(minutes=30), resolve=timedelta(hours=4),
                       postmortem_due=day),
        "P1": Severity(name="High", response="1h", resolve=timedelta(hours=4), postmortem_due=day),
        "P2": Severity(name="Medium", response="4h"),
        "P3": Severity(name="Low", response=NEXT_BUSINESS_DAY),
    }


class Templates(Strict):
    postmortem: Path | None = None
    # The announcements (Jinja2, Slack mrkdwn): defaults from the runbooks, checked at load (bot/config/messages.py).
    alert: str = messages.ALERT
    update: str = messages.UPDATE
    resolved: str = messages.RESOLVED
    reopened: str = messages.REOPENED

    @field_validator("alert", "update", "resolved", "reopened")
    @classmethod
    def _compiles(cls, value: str, info) -> str:
        return messages.check(info.field_name, value)


class IncidentType(Strict):
    """`/incident open … --type NAME`: defaults for a kind of incident (e.g. security: a private channel)."""

    private: bool = False


class Limits(Strict):
    title_max: int = 150
    text_max: int = 3000


class Catalog(Strict):
    """Everything a team configures in opsbot.yml."""

    service_name: str = "production"
    announce_channel: str = "incidents"
    audit_channel: str | None = None  # where audit checkpoints are posted (hourly and after each dangerous action)
    severities: dict[str, Severity] = Field(default_factory=_default_severities)
    templates: Templates = Field(default_factory=Templates)
    limits: Limits = Field(default_factory=Limits)
    environments: dict[str, Environment] = Field(default_factory=dict)
    roles: Roles = Field(default_factory=dict)
    unprotected_default_role: str = "operator"  # unknown users in unprotected environments
    scheduler: Scheduler = Field(default_factory=Scheduler)
    incident_types: dict[str, IncidentType] = Field(default_factory=dict)
    announce_private_titles: bool = False  # whether announcements of a private incident show its title and impact
    alerts: Alerts = Field(default_factory=Alerts)  # which alert groups open which incidents (bot/config/alerts.py)

    @field_validator("roles")
    @classmethod
    def _check_roles(cls, value: Roles) -> Roles:
        for grants in value.values():
            for role in grants:
                Role.parse(role)
        return value

    @model_validator(mode="after")
    def _roles_name_environments(self) -> Catalog:
        unknown = [scope for scope in self.roles if scope != "*" and scope not in self.environments]
        if unknown:
            raise ValueError(f"roles name unknown environments: {', '.join(unknown)} (use an environment or '*')")
        Role.parse(self.unprotected_default_role)
        return self

    @model_validator(mode="after")
    def _scheduled_runs_are_allowed(self) -> Catalog:
        """A reminder runs only an action that exists and is read-only or marked `scheduled: true`: nobody
        confirms what the scheduler does."""
        for name, reminder in self.scheduler.reminders.items():
            if reminder.run is None:
                continue
            where, run = f"scheduler.reminders.{name}.run", reminder.run
            if run.env not in self.environments:
                raise ValueError(f"{where}: unknown environment '{run.env}'; environments: "
                                 f"{', '.join(self.environments) or 'none'}")
            runbook = self.environments[run.env].runbook
            if run.action not in runbook:
                raise ValueError(f"{where}: unknown runbook action '{run.action}' in {run.env}; actions: "
                                 f"{', '.join(runbook) or 'none'}")
            spec = runbook[run.action]
            if not (spec.read_only or spec.scheduled):
                raise ValueError(f"{where}: {run.action} is neither read_only nor scheduled: true; only those may "
                                 "run unattended")
            missing = [key for key, param in spec.params.items() if param.required and param.default is None]
            if missing:
                raise ValueError(f"{where}: {run.action} needs {', '.join(missing)}, and a schedule gives no parameters")
        return self

    @field_validator("severities")
    @classmethod
    def _check_levels(cls, value: dict[str, Severity]) -> dict[str, Severity]:
        wrong = [key for key in value if key not in ("P0", "P1", "P2", "P3")]
        if wrong:
            raise ValueError(f"severity keys must be P0, P1, P2 or P3, not {', '.join(wrong)}")
        return value

    def announce_channel_for(self, severity: str) -> str:
        """Where a severity's announcements go ("" for nowhere)."""
        own = self.severities[severity].announce
        return self.announce_channel if own is None else own
    @model_validator(mode="after")
    def _alert_rules_name_severities(self) -> Catalog:
        for where, rule in [*((f"rules.{i}", r) for i, r in enumerate(self.alerts.rules)), ("default", self.alerts.default)]:
            try:
                rule.severity = self.severity_key(rule.severity)
            except ValueError as exc:
                raise ValueError(f"alerts.{where}.severity: {exc}") from exc
        return self

    def severity_key(self, text: str) -> str:
        """'p1', 'P1', 'sev2' -> 'P1'. Raises ValueError for anything else."""
        match = _SEVERITY_ALIAS.match(text.strip())
        key = None
        if match:
            key = f"P{match.group(1)}" if match.group(1) else f"P{int(match.group(2)) - 1}"
        if key is None or key not in self.severities:
            valid = ", ".join(self.severities)
            raise ValueError(f"'{text}' is not a severity; use one of {valid} (or sev1-sev4)")
        return key


def load_catalog(path: Path | str | None) -> Catalog:
    """Read and validate opsbot.yml; no path means the built-in defaults."""
    if path is None:
        return Catalog()
    path = Path(path)
    try:
        raw = yaml.safe_load(path.read_text()) or {}
    except OSError as exc:
        raise ConfigError([f"{path}: cannot read ({exc.strerror})"]) from exc
    except yaml.YAMLError as exc:
        raise ConfigError([f"{path}: not valid YAML ({exc})"]) from exc
    if not isinstance(raw, dict):
        raise ConfigError([f"{path}: the top level must be a mapping"])
    try:
        catalog = Catalog.model_validate(raw)
    except ValidationError as exc:
        raise ConfigError([_describe(error) for error in exc.errors()]) from exc
    template = catalog.templates.postmortem
    if template is not None and not template.is_absolute():
        catalog.templates.postmortem = path.parent / template
    if catalog.templates.postmortem is not None and not catalog.templates.postmortem.is_file():
        raise ConfigError([f"templates.postmortem: no such file {catalog.templates.postmortem}"])
    return catalog


def _describe(error: Mapping[str, Any]) -> str:
    where = ".".join(str(part) for part in error["loc"]) or "(top level)"
    message = error["msg"].removeprefix("Value error, ")
    return f"{where}: {message}"
