"""What the web view tests share (not a test module: pytest does not collect it): `opsbot serve`'s app with Slack
off, the web view tests' catalog and the `bot` fixture built on it, and the helpers that act on it (a command as a
person types it, a browser that is signed in by a one-time link).

The fixture `bot` asks for `store_url` where it is used: SQLite in the unit tier (tests/unit/conftest.py), both
stores elsewhere (tests/conftest.py), PostgreSQL in tests/contract/test_on_postgres_*.py (which import the unit
modules). A test module imports it by name (`from tests.webview import web_view_bot`); a module on another catalog
builds its own `bot` with `opsbot_on`."""
from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from starlette.testclient import TestClient

from bot.app import Opsbot, build, served
from bot.config import Settings, SlackSettings
from commands.base import Context

NO_SLACK = SlackSettings(slack_bot_token=None, slack_signing_secret=None, slack_app_token=None)
CATALOG = """
environments:
  prod: {services: {api: {}}}
  staging: {services: {api: {}}}
roles:
  prod: {responder: [U0RESP01], admin: [U0PRODADM]}
  staging: {responder: [U0RESP01]}
  "*": {admin: [U0ADMIN01]}
"""
# One environment, a responder and an admin: the browser tests' site (tests/browser/).
PROD_CATALOG = """
environments:
  prod: {services: {api: {}}}
roles:
  prod: {responder: [U0RESP01]}
  "*": {admin: [U0ADMIN01]}
"""
LINK_BASE = "http://localhost:3000"  # OPSBOT_WEB_URL's default: where a sign-in link points


@contextmanager
def opsbot_on(folder: Path, store_url: str, catalog: str = CATALOG, **settings) -> Iterator[Opsbot]:
    """opsbot as `opsbot serve` builds it, on `catalog` written to folder/opsbot.yml; closed afterwards."""
    (folder / "opsbot.yml").write_text(catalog)
    opsbot = build(settings=Settings(database_url=store_url, config=folder / "opsbot.yml", **settings))
    try:
        yield opsbot
    finally:
        opsbot.close()


@pytest.fixture(name="bot")
def web_view_bot(tmp_path, store_url):
    """The fixture `bot`: opsbot on the web view tests' catalog, its evidence in the test's own folder. Imported as
    `web_view_bot`, so that a test's `bot` argument shadows no imported name."""
    with opsbot_on(tmp_path, store_url, evidence_dir=tmp_path / "evidence") as opsbot:
        yield opsbot


def say(bot, user: str, text: str, command: str = "/incident") -> None:
    reply = bot.router.handle(command, text, Context(user=user, source="console"))
    assert reply.ok, reply.text


def client(bot, address: str = "testclient", base: str = "http://testserver",
           raise_server_exceptions: bool = True) -> TestClient:
    """A browser on the app `opsbot serve` serves (Slack off), connecting from `address`; redirects not followed."""
    return TestClient(served(bot, NO_SLACK, "off").app, follow_redirects=False, client=(address, 50000),
                      base_url=base, raise_server_exceptions=raise_server_exceptions)


def link_path(bot, user: str) -> str:
    """The path of a new one-time sign-in link for `user`."""
    return bot.services.web.link(user).removeprefix(LINK_BASE)


def signed_in(bot, user: str = "U0RESP01", raise_server_exceptions: bool = True) -> TestClient:
    """A browser that opened a sign-in link for `user` and pressed Sign in: sent on to the list, with its session
    cookie."""
    browser = client(bot, raise_server_exceptions=raise_server_exceptions)
    path = link_path(bot, user)
    asked = browser.get(path)
    assert asked.status_code == 200 and f"as <strong>{user}</strong>" in asked.text, asked.text
    answer = browser.post(path, headers={"Sec-Fetch-Site": "same-origin"})
    assert answer.status_code == 303 and answer.headers["location"] == "/ui/"
    return browser
