"""The web view's settings are checked when they are read: a bad OPSBOT_WEB_URL, OPSBOT_WEB_SESSION,
OPSBOT_WEB_USER_HEADER or OPSBOT_WEB_TRUSTED_PROXIES is one line naming the variable and what to write, not a
traceback when the app is built nor sign-in links nobody can open; good values are kept (tidied)."""
from __future__ import annotations

import pytest

from bot.config.settings import Settings, from_environment
from bot.errors import ConfigError

WEB = ("OPSBOT_WEB_URL", "OPSBOT_WEB_SESSION", "OPSBOT_WEB_USER_HEADER", "OPSBOT_WEB_TRUSTED_PROXIES")


@pytest.fixture(autouse=True)
def clean(monkeypatch):
    for name in WEB:
        monkeypatch.delenv(name, raising=False)


@pytest.mark.parametrize("env, problem", [
    ({"OPSBOT_WEB_URL": "ops.example.com"},
     "OPSBOT_WEB_URL: 'ops.example.com' is not an http(s) address like https://ops.example.com"),
    ({"OPSBOT_WEB_URL": "https://ops.example.com/?x=1"}, "OPSBOT_WEB_URL: 'https://ops.example.com/?x=1' is not"),
    ({"OPSBOT_WEB_URL": "javascript:alert(1)"}, "OPSBOT_WEB_URL: 'javascript:alert(1)' is not an http(s) address"),
    ({"OPSBOT_WEB_SESSION": "forever"}, "OPSBOT_WEB_SESSION: 'forever' is not a duration"),
    ({"OPSBOT_WEB_SESSION": "1m"}, "OPSBOT_WEB_SESSION: '1m' is outside 5m to 30d"),
    ({"OPSBOT_WEB_SESSION": "90d"}, "OPSBOT_WEB_SESSION: '90d' is outside 5m to 30d"),
    ({"OPSBOT_WEB_USER_HEADER": "X Slack User", "OPSBOT_WEB_TRUSTED_PROXIES": "10.0.0.1"},
     "OPSBOT_WEB_USER_HEADER: 'X Slack User' is not an HTTP header name"),
    ({"OPSBOT_WEB_TRUSTED_PROXIES": "10.0.0.0/8, proxy.internal"},
     "OPSBOT_WEB_TRUSTED_PROXIES: 'proxy.internal' is not an IP address or network"),
    ({"OPSBOT_WEB_USER_HEADER": "X-Slack-User"},
     "OPSBOT_WEB_TRUSTED_PROXIES: OPSBOT_WEB_USER_HEADER is set but no proxy is trusted to send it"),
])
def test_a_bad_web_setting_is_one_line_naming_the_variable(monkeypatch, env, problem):
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    with pytest.raises(ConfigError) as refused:
        from_environment(Settings)
    assert len(refused.value.problems) == 1 and refused.value.problems[0].startswith(problem), refused.value.problems


def test_good_web_settings_are_kept_tidied(monkeypatch):
    monkeypatch.setenv("OPSBOT_WEB_URL", " https://ops.example.com/ ")
    monkeypatch.setenv("OPSBOT_WEB_SESSION", "8h")
    monkeypatch.setenv("OPSBOT_WEB_USER_HEADER", "X-Forwarded-User")
    monkeypatch.setenv("OPSBOT_WEB_TRUSTED_PROXIES", " 127.0.0.1 , 10.0.0.0/8,::1 ")
    settings = from_environment(Settings)
    assert settings.web_url == "https://ops.example.com" and settings.web_session == "8h"
    assert settings.web_user_header == "X-Forwarded-User"
    assert settings.web_trusted_proxies == "127.0.0.1,10.0.0.0/8,::1"


def test_the_defaults_pass_their_own_checks():
    defaults = from_environment(Settings)
    assert (defaults.web_url, defaults.web_session, defaults.web_user_header, defaults.web_trusted_proxies) == (
        "http://localhost:3000", "12h", None, "")
