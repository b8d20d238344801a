"""In front of Bolt on HTTP: the body is capped, the signature verified before anything is parsed, and the payload
checked for the shape its listeners read. A request that fails gets 413, 401 or 400 — never a 500, never a
traceback — and Bolt only ever sees well-formed, authentic requests."""
from __future__ import annotations

import hashlib
import hmac
import json
import logging
import time
from collections.abc import Awaitable, Callable
from typing import Any
from urllib.parse import parse_qsl

from bot.asgi import SlowBody, read_body

log = logging.getLogger("opsbot.slack")
MAX_BODY = 1 << 20  # Slack's payloads are a few KB; a megabyte is already absurd
MAX_AGE = 5 * 60  # Slack's rule: a request older (or newer) than five minutes may be a replay
ASGI = Callable[[dict, Callable[[], Awaitable[dict]], Callable[[dict], Awaitable[None]]], Awaitable[None]]


class SlackGate:
    def __init__(self, signing_secret: str, inner: ASGI, clock: Callable[[], float] = time.time):
        self.secret = signing_secret.encode()
        self.inner, self.clock = inner, clock

    async def __call__(self, scope: dict, receive, send) -> None:
        headers = {name.decode("latin-1").lower(): value.decode("latin-1")
                   for name, value in scope.get("headers", [])}
        declared = headers.get("content-length", "0")
        if not declared.isdigit() or int(declared) > MAX_BODY:
            return await _answer(send, 413, "request body too large")
        try:
            body = await read_body(receive, MAX_BODY)
        except SlowBody as slow:
            return await _answer(send, 408, str(slow))
        if body is None:
            return await _answer(send, 413, "request body too large")
        timestamp, signature = headers.get("x-slack-request-timestamp", ""), headers.get("x-slack-signature", "")
        if not authentic(self.secret, body, timestamp, signature, self.clock()):
            return await _answer(send, 401, "invalid request signature or timestamp")
        problem, body = checked(body, headers.get("content-type", ""))
        if problem:
            log.info("refused a malformed Slack request: %s", problem)
            return await _answer(send, 400, f"malformed payload: {problem}")
        replayed = False

        async def replay() -> dict:
            nonlocal replayed
            if replayed:
                return await receive()
            replayed = True
            return {"type": "http.request", "body": body, "more_body": False}

        await self.inner(scope, replay, send)


def authentic(secret: bytes, body: bytes, timestamp: str, signature: str, now: float) -> bool:
    """Slack's signature (v0, HMAC-SHA256 of `v0:<timestamp>:<body>`) over the body's bytes as they came — any
    bytes, UTF-8 or not — and a timestamp within five minutes of now. Whatever the headers hold (a 309-digit
    timestamp, a non-ASCII signature) the answer is a plain False, never an exception."""
    if not (timestamp.isascii() and timestamp.isdigit() and len(timestamp) <= 12):
        return False  # a dozen digits reach the year 33658; a longer "timestamp" is not one
    if abs(int(now) - int(timestamp)) > MAX_AGE:
        return False
    expected = b"v0=" + hmac.new(secret, b"v0:" + timestamp.encode() + b":" + body, hashlib.sha256).hexdigest().encode()
    return hmac.compare_digest(expected, signature.encode("latin-1"))  # headers were decoded as latin-1


async def _answer(send, status: int, text: str) -> None:
    await send({"type": "http.response.start", "status": status, "headers": [(b"content-type", b"text/plain")]})
    await send({"type": "http.response.body", "body": text.encode()})


def checked(body: bytes, content_type: str) -> tuple[str | None, bytes]:
    """(what is wrong with an authentic payload's shape, the body Bolt gets). The body is read the way Bolt reads it
    (JSON when the type says so or it starts with `{`, else a form), so the two never disagree."""
    try:
        text = body.decode()
    except UnicodeDecodeError:
        return "not UTF-8", body
    if content_type.startswith("application/json") or text.startswith("{"):
        try:
            data = json.loads(text)
        except ValueError:
            return "not JSON", body
        return (_event_problem(data) if isinstance(data, dict) else "not a JSON object"), body
    if not content_type.startswith("application/x-www-form-urlencoded"):
        return "unsupported content type", body
    form = dict(parse_qsl(text, keep_blank_values=True))
    if "payload" in form:
        try:
            payload = json.loads(form["payload"])
        except ValueError:
            return "payload is not JSON", body
        return (_interaction_problem(payload) if isinstance(payload, dict) else "payload is not a JSON object"), body
    if "ssl_check" in form:
        return None, body
    missing = [name for name in ("command", "user_id", "channel_id", "response_url") if not form.get(name)]
    if missing:
        return f"slash command without {', '.join(missing)}", body
    # Bolt takes any form mentioning "payload" for an interaction: `/incident note bad payload` would be lost.
    # Inside form values, %61 decodes back to "a", so the command reads exactly as typed.
    return None, body.replace(b"payload", b"p%61yload")


def _text(value: Any) -> bool:
    return isinstance(value, str) and bool(value)


def _interaction_problem(payload: dict) -> str | None:
    kind = payload.get("type")
    if not _text(kind) or not isinstance(payload.get("user"), dict) or not _text(payload["user"].get("id")):
        return "interaction without a type or user"
    if kind == "block_actions":
        actions = payload.get("actions")
        if not isinstance(actions, list) or not actions or not all(
                isinstance(a, dict) and _text(a.get("action_id")) for a in actions):
            return "block_actions without actions"
    elif kind in ("view_submission", "view_closed"):
        view = payload.get("view")
        if not isinstance(view, dict) or not _text(view.get("callback_id")) or not _text(view.get("type")) \
                or not isinstance(view.get("private_metadata", ""), str):
            return "view without a type or callback_id"
        if kind == "view_submission" and not (isinstance(view.get("state"), dict)
                                              and isinstance(view["state"].get("values"), dict)):
            return "view_submission without state values"
    elif kind == "message_action":
        channel, message = payload.get("channel"), payload.get("message")
        if not (_text(payload.get("callback_id")) and isinstance(channel, dict) and _text(channel.get("id"))
                and isinstance(message, dict) and _text(message.get("ts"))):
            return "message_action without a channel or message"
    elif kind == "shortcut" and not _text(payload.get("callback_id")):
        return "shortcut without a callback_id"
    return None


def _event_problem(data: dict) -> str | None:
    kind = data.get("type")
    if kind == "url_verification":
        return None if _text(data.get("challenge")) else "url_verification without a challenge"
    if kind == "app_rate_limited":
        return None
    if kind != "event_callback":  # interactions come form-encoded, never as JSON
        return f"unexpected JSON payload type {str(kind)[:40]!r}"
    event = data.get("event")
    if not _text(data.get("event_id")) or not isinstance(event, dict) or not _text(event.get("type")):
        return "event_callback without an event"
    if event["type"] == "reaction_added":
        item = event.get("item")
        if not (_text(event.get("user")) and isinstance(item, dict) and _text(item.get("type"))):
            return "reaction_added without a user or item"
        if item["type"] == "message" and not (_text(item.get("channel")) and _text(item.get("ts"))):
            return "reaction_added without the message's channel and ts"
    return None
