"""Deployment settings and secrets, from the environment only (never from opsbot.yml)."""
from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import TypeVar

from pydantic import Field, SecretStr, ValidationError
from pydantic_settings import BaseSettings, SettingsConfigDict

from bot.errors import ConfigError
from bot.paths import data_dir, default_database_url, sqlite_file

SettingsT = TypeVar("SettingsT", bound=BaseSettings)


class Settings(BaseSettings):
    """Where the data lives and which catalog to read."""

    model_config = SettingsConfigDict(env_prefix="OPSBOT_", extra="ignore")
    # OPSBOT_DATABASE_URL; default a SQLite file in the user's data directory (bot/paths.py), whatever the cwd.
    database_url: str = Field(default_factory=default_database_url)
    config: Path | None = None
    audit_key: SecretStr | None = None  # OPSBOT_AUDIT_KEY: authenticates audit records (HMAC); never in the YAML
    audit_witness: Path | None = None  # OPSBOT_AUDIT_WITNESS: a file checkpoints are appended to, read by verify
    # OPSBOT_AUDIT_SIGNING_KEY: signs checkpoints (Ed25519; `opsbot audit keygen`); never in the YAML
    audit_signing_key: SecretStr | None = None
    audit_pubkey: str | None = None  # OPSBOT_AUDIT_PUBKEY: what `opsbot audit verify` checks signatures with
    calendar_token: SecretStr | None = None  # OPSBOT_CALENDAR_TOKEN: GET /oncall/<schedule>.ics?token=… (unset: off)
    evidence_dir: Path | None = None  # OPSBOT_EVIDENCE_DIR: default `evidence/` beside the SQLite file (or in the data dir)
    # The web view (/ui/): its public address (sign-in links point there), a session's lifetime, and an SSO proxy's
    # header naming the Slack user ID, trusted only from these addresses (comma-separated IPs or networks).
    web_url: str = "http://localhost:3000"  # OPSBOT_WEB_URL
    web_session: str = "12h"  # OPSBOT_WEB_SESSION
    web_user_header: str | None = None  # OPSBOT_WEB_USER_HEADER
    web_trusted_proxies: str = ""  # OPSBOT_WEB_TRUSTED_PROXIES

    def evidence_root(self) -> Path:
        if self.evidence_dir is not None:
            return self.evidence_dir
        database = sqlite_file(self.database_url)
        if database is not None:
            return database.parent / "evidence"
        return data_dir() / "evidence"  # PostgreSQL: the same stable place as the default SQLite file


class SlackSettings(BaseSettings):
    """Slack credentials and endpoints."""

    model_config = SettingsConfigDict(extra="ignore")
    slack_bot_token: str | None = None
    slack_signing_secret: str | None = None
    slack_app_token: str | None = None
    opsbot_slack_api_url: str = "https://slack.com/api/"
    # How many listeners may work after their ack at once; the rest wait, so a burst delays replies
    # (a response_url is good for 30 minutes) rather than the acks Slack needs within 3 seconds.
    opsbot_slack_workers: int = Field(default=8, ge=1, le=64)
    # How many acked deliveries may wait for a worker; past that, one is refused at once ("busy, nothing was done,
    # try again") rather than queued without end (memory, and replies later than anyone waits for).
    opsbot_slack_queue: int = Field(default=1000, ge=1, le=100_000)
    port: int = Field(default=3000, ge=1, le=65535)  # PORT
    # SIGTERM: how long acked work may take to finish before the process exits anyway.
    opsbot_shutdown_timeout: float = Field(default=30.0, gt=0, le=600)


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
