"""The gate in front of Bolt answers whatever bytes and headers arrive with a 4xx before anything is parsed: a body
that is not UTF-8, a timestamp too long to be one, a signature that is not ASCII — never a 500."""
from __future__ import annotations

import hashlib
import hmac
import time

import pytest
from starlette.testclient import TestClient

from bot.slack.gate import SlackGate

SECRET = "gate-secret"
FORM = "application/x-www-form-urlencoded"
SLASH = b"command=%2Fincident&text=list&user_id=U1&channel_id=C1&response_url=http%3A%2F%2Fx%2Fr"


class Reached:
    """Where the gate hands a request on (Bolt, in opsbot serve): it records what got through."""

    def __init__(self) -> None:
        self.bodies: list[bytes] = []

    async def __call__(self, scope, receive, send) -> None:
        self.bodies.append((await receive())["body"])
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b"ok"})


@pytest.fixture
def gate():
    reached = Reached()
    return TestClient(SlackGate(SECRET, reached)), reached  # a server error would raise here


def signed(body: bytes, timestamp: str | None = None) -> dict[str, str]:
    ts = timestamp or str(int(time.time()))
    digest = hmac.new(SECRET.encode(), b"v0:" + ts.encode() + b":" + body, hashlib.sha256).hexdigest()
    return {"X-Slack-Request-Timestamp": ts, "X-Slack-Signature": "v0=" + digest, "Content-Type": FORM}


NOT_UTF8 = b"command=/incident&text=\xff\xfe\xfd"


def test_a_signed_slash_command_reaches_bolt(gate):
    client, reached = gate
    assert client.post("/slack/events", content=SLASH, headers=signed(SLASH)).status_code == 200
    assert reached.bodies == [SLASH]


@pytest.mark.parametrize("signature", ["v0=" + "0" * 64, "v0=", "garbage", "v1=abc"])
def test_a_non_utf8_body_with_any_signature_is_401(gate, signature):
    client, reached = gate
    response = client.post("/slack/events", content=NOT_UTF8, headers={
        "X-Slack-Request-Timestamp": str(int(time.time())), "X-Slack-Signature": signature, "Content-Type": FORM})
    assert response.status_code == 401
    assert response.text == "invalid request signature or timestamp"
    assert reached.bodies == []


def test_a_correctly_signed_non_utf8_body_is_400_not_utf8(gate):
    client, reached = gate
    response = client.post("/slack/events", content=NOT_UTF8, headers=signed(NOT_UTF8))
    assert (response.status_code, response.text) == (400, "malformed payload: not UTF-8")
    assert reached.bodies == []


@pytest.mark.parametrize("timestamp", ["9" * 309, "1" + "0" * 308, "1" * 5000, str(int(time.time()) - 301)])
def test_a_timestamp_out_of_range_is_401_even_when_signed(gate, timestamp):
    client, reached = gate
    response = client.post("/slack/events", content=SLASH, headers=signed(SLASH, timestamp))
    assert response.status_code == 401
    assert reached.bodies == []


def test_a_non_ascii_signature_header_is_401(gate):
    client, reached = gate
    headers = [(b"x-slack-request-timestamp", str(int(time.time())).encode()),
               (b"x-slack-signature", "v0=é✓".encode()), (b"content-type", FORM.encode())]
    response = client.post("/slack/events", content=SLASH, headers=headers)  # type: ignore[arg-type]
    assert response.status_code == 401
    assert reached.bodies == []
