"""Settings come from the environment; the catalog (severities, templates) from opsbot.yml.

Defaults are the runbooks': P0-P3 with 15 min / 1 h / 4 h / next-business-day response targets,
30-minute status updates, post-mortems due in 24 h (P0/P1) or 48 h, and the escalation chain
on-call engineer -> team lead -> engineering manager -> CTO.
"""
from __future__ import annotations

import re
from datetime import datetime, timedelta
from pathlib import Path
from typing import Annotated, TypeVar

import yaml
from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    ValidationError,
    field_validator,
    model_validator,
)
from pydantic_settings import BaseSettings, SettingsConfigDict

from bot.errors import OpsbotError
from bot.ops_config import Environment, Role, Roles
from bot.schedule_config import Scheduler
from bot.timeparse import next_business_day_end, parse_duration

NEXT_BUSINESS_DAY = "next-business-day"
DEFAULT_ESCALATION = ["on-call engineer", "team lead", "engineering manager", "CTO"]
_SEVERITY_ALIAS = re.compile(r"^(?:p([0-3])|sev([1-4]))$", re.IGNORECASE)


class ConfigError(OpsbotError):
    def __init__(self, problems: list[str]):
        super().__init__("; ".join(problems))
        self.problems = problems


def _duration(value: object) -> object:
    if isinstance(value, str):
        return parse_duration(value)
    return value


Duration = Annotated[timedelta, BeforeValidator(_duration)]


SettingsT = TypeVar("SettingsT", bound=BaseSettings)


class Settings(BaseSettings):
    """Deployment settings and secrets: never in the YAML."""

    model_config = SettingsConfigDict(env_prefix="OPSBOT_", extra="ignore")
    database_url: str = "sqlite:///opsbot.db"
    config: Path | None = None


class Severity(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: str
    response: str = Field(description="a duration like 15m, or 'next-business-day'")
    update_every: Duration = timedelta(minutes=30)
    postmortem_due: Duration = timedelta(hours=48)
    escalation: list[str] = Field(default_factory=lambda: list(DEFAULT_ESCALATION))

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


def _default_severities() -> dict[str, Severity]:
    day = timedelta(hours=24)
    return {
        "P0": Severity(name="Critical", response="15m", postmortem_due=day),
        "P1": Severity(name="High", response="1h", postmortem_due=day),
        "P2": Severity(name="Medium", response="4h"),
        "P3": Severity(name="Low", response=NEXT_BUSINESS_DAY),
    }


class Templates(BaseModel):
    model_config = ConfigDict(extra="forbid")
    postmortem: Path | None = None


class Limits(BaseModel):
    model_config = ConfigDict(extra="forbid")
    title_max: int = 150
    text_max: int = 3000


class Catalog(BaseModel):
    """Everything a team configures in opsbot.yml."""

    model_config = ConfigDict(extra="forbid")
    service_name: str = "production"
    announce_channel: str = "incidents"
    severities: dict[str, Severity] = Field(default_factory=_default_severities)
    templates: Templates = Field(default_factory=Templates)
    limits: Limits = Field(default_factory=Limits)
    environments: dict[str, Environment] = Field(default_factory=dict)
    roles: Roles = Field(default_factory=dict)
    unprotected_default_role: str = "operator"  # unknown users in unprotected environments
    scheduler: Scheduler = Field(default_factory=Scheduler)

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

    @field_validator("severities")
    @classmethod
    def _check_levels(cls, value: dict[str, Severity]) -> dict[str, Severity]:
        wrong = [key for key in value if key not in ("P0", "P1", "P2", "P3")]
        if wrong:
            raise ValueError(f"severity keys must be P0, P1, P2 or P3, not {', '.join(wrong)}")
        return value

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
        raise ConfigError([f"{path}: cannot read ({exc.strerror})"]) from None
    except yaml.YAMLError as exc:
        raise ConfigError([f"{path}: not valid YAML ({exc})"]) from None
    if not isinstance(raw, dict):
        raise ConfigError([f"{path}: the top level must be a mapping"])
    try:
        catalog = Catalog.model_validate(raw)
    except ValidationError as exc:
        raise ConfigError([_describe(error) for error in exc.errors()]) from None
    template = catalog.templates.postmortem
    if template is not None and not template.is_absolute():
        catalog.templates.postmortem = path.parent / template
    if catalog.templates.postmortem is not None and not catalog.templates.postmortem.is_file():
        raise ConfigError([f"templates.postmortem: no such file {catalog.templates.postmortem}"])
    return catalog


def _describe(error: dict) -> str:
    where = ".".join(str(part) for part in error["loc"]) or "(top level)"
    message = error["msg"].removeprefix("Value error, ")
    return f"{where}: {message}"


def from_environment(kind: type[SettingsT]) -> SettingsT:
    """Settings read from the environment; a bad value is a ConfigError naming the variable, not a traceback."""
    try:
        return kind()
    except ValidationError as exc:
        prefix = kind.model_config.get("env_prefix", "")
        # The value is not echoed: it may be a secret.
        raise ConfigError([f"{(prefix + str(error['loc'][0])).upper()}: {error['msg']}" for error in exc.errors()]) \
            from None


def config_path(cli_value: str | None, settings: Settings) -> Path | None:
    if cli_value:
        return Path(cli_value)
    return settings.config


class SlackSettings(BaseSettings):
    """Slack credentials and endpoints, from the environment only."""

    model_config = SettingsConfigDict(extra="ignore")
    slack_bot_token: str | None = None
    slack_signing_secret: str | None = None
    slack_app_token: str | None = None
    opsbot_slack_api_url: str = "https://slack.com/api/"
    # How many listeners may work after their ack at once; the rest wait, so a burst delays replies
    # (a response_url is good for 30 minutes) rather than the acks Slack needs within 3 seconds.
    opsbot_slack_workers: int = Field(default=8, ge=1, le=64)
    port: int = 3000
