"""The real ASGI app served on loopback, Slack's Web API faked by a local HTTP server."""
from __future__ import annotations

import json
import socket
import threading
import time
from contextlib import contextmanager
from pathlib import Path
from urllib.parse import urlencode

import httpx
import pytest
import uvicorn
from slack_sdk.signature import SignatureVerifier

from bot.app import build, served
from bot.config import Settings, SlackSettings
from tests.fakes.slack_api import FakeSlack

SECRET = "test-signing-secret"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture
def fake_slack():
    fake = FakeSlack().start()
    yield fake
    fake.stop()


class SlackClientForTests:
    """Sends correctly signed requests to opsbot, as Slack does."""

    def __init__(self, base: str, fake: FakeSlack, opsbot):
        self.base, self.fake, self.opsbot = base, fake, opsbot
        self.http = httpx.Client(base_url=base, timeout=10)
        self._trigger = 0

    def post(self, body: str, content_type: str, timestamp: int | None = None, secret: str = SECRET,
             headers: dict | None = None) -> httpx.Response:
        ts = str(timestamp if timestamp is not None else int(time.time()))
        signature = SignatureVerifier(secret).generate_signature(timestamp=ts, body=body)
        return self.http.post("/slack/events", content=body.encode(), headers={
            "Content-Type": content_type, "X-Slack-Request-Timestamp": ts, "X-Slack-Signature": signature,
            **(headers or {})})

    def command(self, text: str, command: str = "/incident", user: str = "U_ALICE", channel: str = "C_GENERAL",
                **kwargs) -> httpx.Response:
        self._trigger += 1
        form = {"token": "x", "team_id": "T0001", "team_domain": "ops", "channel_id": channel,
                "channel_name": "general", "user_id": user, "user_name": "alice", "command": command,
                "text": text, "api_app_id": "A0001", "response_url": f"{self.fake.base_url}/response/{self._trigger}",
                "trigger_id": f"trigger-{self._trigger}-{time.monotonic_ns()}"}
        return self.post(urlencode(form), "application/x-www-form-urlencoded", **kwargs)

    def interaction(self, payload: dict, **kwargs) -> httpx.Response:
        self._trigger += 1
        payload = {"team": {"id": "T0001"}, "api_app_id": "A0001",
                   "trigger_id": f"trigger-{self._trigger}-{time.monotonic_ns()}", **payload}
        return self.post(urlencode({"payload": json.dumps(payload)}), "application/x-www-form-urlencoded", **kwargs)

    def event(self, event: dict, event_id: str, authorizations: list[dict] | None = None, **kwargs) -> httpx.Response:
        body = {"token": "x", "team_id": "T0001", "api_app_id": "A0001", "type": "event_callback",
                "event_id": event_id, "event_time": int(time.time()), "event": event,
                "authorizations": authorizations or [{"team_id": "T0001", "user_id": "UBOT", "is_bot": True}]}
        return self.post(json.dumps(body), "application/json", **kwargs)


@pytest.fixture
def slack(request, fake_slack, sqlite_url):
    """opsbot served on loopback; parametrize indirectly with a dict to change its Slack settings."""
    with serving(fake_slack, sqlite_url, getattr(request, "param", {})) as client:
        yield client


@contextmanager
def serving(fake_slack, sqlite_url: str, slack_settings: dict | None = None, config: Path | None = None,
            scheduler: bool = False):
    """The served app with its Slack surface (and, with `scheduler`, its running scheduler) on a loopback port."""
    port = free_port()
    settings = SlackSettings(**{"slack_bot_token": "xoxb-test", "slack_signing_secret": SECRET,
                                "opsbot_slack_api_url": fake_slack.api_url, "port": port, **(slack_settings or {})})
    port = settings.port
    opsbot = build(settings=Settings(database_url=sqlite_url, config=config), slack=settings)
    parts = served(opsbot, settings, "http", scheduler=scheduler)
    server = uvicorn.Server(uvicorn.Config(parts.app, host="127.0.0.1", port=port, log_level="warning", lifespan="on"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 10
    while not server.started and time.monotonic() < deadline:
        time.sleep(0.02)
    if parts.scheduler is not None:
        parts.scheduler.start()
    client = SlackClientForTests(base, fake_slack, opsbot)
    client.surface = parts.slack
    try:
        yield client
    finally:
        if parts.scheduler is not None:
            parts.scheduler.stop()
        client.http.close()
        server.should_exit = True
        thread.join(10)
        opsbot.close()


def protected_backup(slack: SlackClientForTests, tmp_path) -> Path:
    """A protected `prod` whose runbook action `backup` (operator: U_ALICE) writes a marker file when it runs."""
    import sys

    from bot.config import Catalog

    marker = tmp_path / "ran.txt"
    slack.opsbot.services.ops.catalog = Catalog.model_validate({
        "environments": {"prod": {"protected": True, "runbook": {"backup": {
            "argv": [sys.executable, "-c", f"open({str(marker)!r}, 'w').write('done')"]}}}},
        "roles": {"prod": {"operator": ["U_ALICE"]}}})
    return marker
