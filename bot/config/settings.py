"""Deployment settings and secrets, from the environment only (never from opsbot.yml)."""
from __future__ import annotations

import os
import re
from collections.abc import Mapping
from datetime import timedelta
from ipaddress import ip_network
from pathlib import Path
from typing import TypeVar
from urllib.parse import urlsplit

from pydantic import Field, SecretStr, ValidationError, ValidationInfo, field_validator
from pydantic_core import PydanticCustomError
from pydantic_settings import BaseSettings, SettingsConfigDict

from bot.errors import ConfigError
from bot.paths import data_dir, default_database_url, sqlite_file
from bot.timeparse import parse_duration

HEADER_NAME = re.compile(r"^[!#$%&'*+.^_`|~0-9A-Za-z-]{1,100}$")  # an HTTP field name (RFC 9110 token)
WEB_SESSION_RANGE = (timedelta(minutes=5), timedelta(days=30))

SettingsT = TypeVar("SettingsT", bound=BaseSettings)


class Settings(BaseSettings):
    """Where the data lives and which catalog to read."""

    model_config = SettingsConfigDict(env_prefix="OPSBOT_", extra="ignore")
    # Each description is the note of docs/configuration.md (bot/config/reference.py).
    database_url: str = Field(default_factory=default_database_url, description=(
        "`sqlite:///PATH` or `postgresql://…`; the default is in the user's data directory, whatever the cwd"))
    config: Path | None = Field(None, description="the catalog, `opsbot.yml` (unset: built-in defaults)")
    audit_key: SecretStr | None = Field(None, description="authenticates audit records (HMAC); never in the YAML")
    audit_witness: Path | None = Field(None, description="a file checkpoints are appended to, read by verify")
    audit_signing_key: SecretStr | None = Field(None, description=(
        "signs checkpoints and exports (Ed25519; `opsbot audit keygen`); never in the YAML"))
    audit_pubkey: str | None = Field(None, description="what `opsbot audit verify` checks signatures with")
    calendar_token: SecretStr | None = Field(None, description=(
        "serves GET /oncall/<schedule>.ics?token=… (unset: off)"))
    evidence_dir: Path | None = Field(None, description=(
        "default `evidence/` beside the SQLite file (else in the data directory)"))
    web_url: str = Field("http://localhost:3000", description=(
        "the address people reach opsbot at: sign-in links (/opsbot login) point there"))
    web_session: str = Field("12h", description="how long a web view sign-in lasts")
    web_user_header: str | None = Field(None, description=(
        "an SSO proxy's header naming the Slack user ID (trusted only from OPSBOT_WEB_TRUSTED_PROXIES)"))
    web_trusted_proxies: str = Field("", description="comma-separated IPs or networks of proxies to trust")

    # Checked here, so `opsbot serve` stops at start with what to fix instead of failing later (a traceback for a
    # bad network, sign-in links nobody can open, a header trusted from nowhere).
    @field_validator("web_url")
    @classmethod
    def _web_url(cls, value: str) -> str:
        address = urlsplit(value.strip())
        if address.scheme not in ("http", "https") or not address.hostname or address.query or address.fragment:
            raise _invalid(f"'{value[:100]}' is not an http(s) address like https://ops.example.com: sign-in links "
                           "point there")
        return value.strip().rstrip("/")

    @field_validator("web_session")
    @classmethod
    def _web_session(cls, value: str) -> str:
        try:
            lifetime = parse_duration(value)
        except ValueError as exc:
            raise _invalid(str(exc)) from exc
        shortest, longest = WEB_SESSION_RANGE
        if not shortest <= lifetime <= longest:
            raise _invalid(f"'{value}' is outside 5m to 30d: a session lasts that long after its sign-in")
        return value

    @field_validator("web_user_header")
    @classmethod
    def _web_user_header(cls, value: str | None) -> str | None:
        if value is not None and not HEADER_NAME.fullmatch(value.strip()):
            raise _invalid(f"'{value[:100]}' is not an HTTP header name (like X-Slack-User)")
        return value.strip() if value is not None else None

    @field_validator("web_trusted_proxies")
    @classmethod
    def _web_trusted_proxies(cls, value: str, info: ValidationInfo) -> str:
        items = [item.strip() for item in value.split(",") if item.strip()]
        for item in items:
            try:
                ip_network(item, strict=False)
            except ValueError as exc:
                raise _invalid(f"'{item[:100]}' is not an IP address or network (like 10.0.0.0/8 or 127.0.0.1); "
                               "separate several with commas") from exc
        if info.data.get("web_user_header") and not items:
            raise _invalid("OPSBOT_WEB_USER_HEADER is set but no proxy is trusted to send it: name the SSO proxy's "
                           "addresses here (comma-separated)")
        return ",".join(items)

    def evidence_root(self) -> Path:
        if self.evidence_dir is not None:
            return self.evidence_dir
        database = sqlite_file(self.database_url)
        if database is not None:
            return database.parent / "evidence"
        return data_dir() / "evidence"  # PostgreSQL: the same stable place as the default SQLite file


def _invalid(message: str) -> PydanticCustomError:
    """A validation error whose message is shown as it is (no "Value error, " before it)."""
    return PydanticCustomError("opsbot_setting", message)


class SlackSettings(BaseSettings):
    """Slack credentials and endpoints."""

    model_config = SettingsConfigDict(extra="ignore")
    slack_bot_token: str | None = Field(None, description="`xoxb-…`; with no Slack credential, Slack is off")
    slack_signing_secret: str | None = Field(None, description="verifies Slack's requests over HTTP")
    slack_app_token: str | None = Field(None, description="`xapp-…`: Socket Mode (no public URL needed)")
    opsbot_slack_api_url: str = Field("https://slack.com/api/", description="Slack's Web API (tests point it at a fake)")
    opsbot_slack_workers: int = Field(default=8, ge=1, le=64, description=(
        "listeners working after their ack at once; a burst delays replies, never the 3-second acks"))
    opsbot_slack_queue: int = Field(default=1000, ge=1, le=100_000, description=(
        "acked deliveries waiting for a worker; past that one is refused at once (\"busy, nothing was done\")"))
    port: int = Field(default=3000, ge=1, le=65535, description="what `opsbot serve` listens on")
    opsbot_shutdown_timeout: float = Field(default=30.0, gt=0, le=600, description=(
        "seconds acked work may take to finish after SIGTERM"))


def from_environment(kind: type[SettingsT]) -> SettingsT:
    """Settings read from the environment; a bad value is a ConfigError naming the variable, not a traceback."""
    try:
        return kind()
    except ValidationError as exc:
        prefix = kind.model_config.get("env_prefix", "")
        # The value is not echoed: it may be a secret.
        raise ConfigError([f"{(prefix + str(error['loc'][0])).upper()}: {error['msg']}" for error in exc.errors()]) \
            from exc


def config_path(cli_value: str | None, settings: Settings) -> Path | None:
    if cli_value:
        return Path(cli_value)
    return settings.config


ALERT_TOKEN_PREFIX = "OPSBOT_ALERT_TOKEN_"


def alert_tokens(environ: Mapping[str, str] | None = None) -> dict[str, str]:
    """The alert sources' secrets, OPSBOT_ALERT_TOKEN_<SOURCE>: {source (lower case, _ as -): token}. A source
    without a token is refused, so alerts are off until one is set."""
    environ = os.environ if environ is None else environ
    return {name.removeprefix(ALERT_TOKEN_PREFIX).lower().replace("_", "-"): value
            for name, value in environ.items() if name.startswith(ALERT_TOKEN_PREFIX) and value}
