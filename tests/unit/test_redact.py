import pytest

from bot.core.redact import redact

SECRETS = [
    ("postgres://app:s3cr3t@db:5432/shop", "s3cr3t", "postgres://app:***@db:5432/shop"),
    ("DB_PASSWORD=hunter2 next", "hunter2", "DB_PASSWORD=*** next"),
    ("export STRIPE_SECRET_KEY='sk_live_abc'", "sk_live_abc", None),
    ("GITHUB_TOKEN: ghp_123456789", "ghp_123456789", None),
    ("token xoxb-1234-5678-abcdef here", "xoxb-1234-5678-abcdef", None),
    ("key AKIAIOSFODNN7EXAMPLE used", "AKIAIOSFODNN7EXAMPLE", None),
    ("jwt eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjMifQ.sflKxwRJSMeKKF2QT4fwpM", "sflKxwRJSMeKKF2QT4fwpM", None),
    ("Authorization: Bearer abc.def.ghi123", "abc.def.ghi123", None),
    ("-----BEGIN RSA PRIVATE KEY-----\nMIIEow\n-----END RSA PRIVATE KEY-----", "MIIEow", None),
]


@pytest.mark.parametrize("text,secret,expected", SECRETS)
def test_secrets_are_masked(text, secret, expected):
    cleaned = redact(text)
    assert secret not in cleaned
    if expected:
        assert cleaned == expected


def test_ordinary_text_is_untouched():
    text = "GET /api/health 200 in 35ms; pool 190/200; user U123 restarted api"
    assert redact(text) == text
