"""POST /alerts/alertmanager and POST /alerts/webhook, as an ASGI app beside Slack's endpoint.

In this order, so nothing unauthenticated is ever parsed: the body is capped (413), the source's token checked
(401: `Authorization: Bearer <token>` or `X-Opsbot-Signature: sha256=<HMAC-SHA256 of the body>`), the payload
parsed (400, saying what is wrong), then applied (200 with the outcome). A replayed delivery is recognised in
the store and changes nothing. Slack's side of an opened incident (channel, announcement) is carried out after
the answer, so the source is not kept waiting for Slack.
"""
from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import logging
import re
from collections.abc import Awaitable, Callable, Mapping
from urllib.parse import parse_qs

from pydantic import ValidationError

from bot.alerts import alertmanager, webhook
from bot.core.alerts import AlertEffect, AlertGroup, AlertService
from bot.errors import BackendError, OpsbotError, UsageError

log = logging.getLogger("opsbot.alerts")
MAX_BODY = 1 << 20  # Alertmanager sends at most `max_alerts` per notification; a megabyte is thousands of alerts
PARSERS: dict[str, Callable[[bytes, str], AlertGroup]] = {
    "/alerts/alertmanager": alertmanager.parse, "/alerts/webhook": webhook.parse}
_SOURCE = re.compile(r"^[a-z0-9][a-z0-9_-]{0,39}$")
CarryOut = Callable[[list[AlertEffect]], Awaitable[None]]


class AlertEndpoint:
    def __init__(self, service: AlertService, tokens: Mapping[str, str], carry_out: CarryOut | None = None,
                 count: Callable[[str, str], None] | None = None, max_body: int = MAX_BODY):
        self.service, self.tokens, self.carry_out = service, tokens, carry_out
        self.count = count or (lambda source, outcome: None)
        self.max_body = max_body
        self.background: set[asyncio.Task] = set()  # effects being carried out (kept referenced until done)

    async def __call__(self, scope: dict, receive, send) -> None:
        parse = PARSERS.get(scope["path"])
        if parse is None:
            return await _answer(send, 404, {"error": "no such alert endpoint; use /alerts/alertmanager or "
                                                      "/alerts/webhook"})
        if scope["method"] != "POST":
            return await _answer(send, 405, {"error": "use POST"})
        query = parse_qs(scope.get("query_string", b"").decode("latin-1"))
        source = query.get("source", [scope["path"].rsplit("/", 1)[1]])[0].lower().replace("_", "-")
        if not _SOURCE.match(source):
            return await _answer(send, 400, {"error": "source must be 1-40 of a-z, 0-9, _ and -"})
        headers = {name.decode("latin-1").lower(): value.decode("latin-1") for name, value in scope.get("headers", [])}
        declared = headers.get("content-length")
        if declared is not None and (not declared.isdigit() or int(declared) > self.max_body):
            return await self._refuse(send, source, 413, f"body larger than {self.max_body} bytes")
        body = await _read(receive, self.max_body)
        if body is None:
            return await self._refuse(send, source, 413, f"body larger than {self.max_body} bytes")
        if not self._authentic(source, body, headers):
            return await self._refuse(send, source, 401, f"not authenticated: send Authorization: Bearer <token> or "
                                      f"X-Opsbot-Signature: sha256=<hex HMAC-SHA256 of the body> with the token of "
                                      f"OPSBOT_ALERT_TOKEN_{source.upper().replace('-', '_')}")
        try:
            group = parse(body, source)
        except ValidationError as exc:
            return await self._refuse(send, source, 400, "malformed payload: " + _problems(exc))
        except ValueError as exc:
            return await self._refuse(send, source, 400, f"malformed payload: {exc}")
        key = "alert:" + hashlib.sha256(source.encode() + b"\0" + body).hexdigest()
        try:
            outcome = await asyncio.to_thread(self.service.receive, group, key)
        except UsageError as exc:
            return await self._refuse(send, source, 400, str(exc))
        except BackendError as exc:  # 5xx: Alertmanager retries, and the replay check makes the retry safe
            log.warning("alert from %s not stored: %s", source, exc, exc_info=exc)
            return await self._refuse(send, source, 503, "the store is unreachable; retry later")
        except OpsbotError as exc:
            return await self._refuse(send, source, 409, str(exc))
        self.count(source, outcome.outcome)
        log.info("alert delivery from %s (%s): %s %s", source, group.key[:80], outcome.outcome,
                 f"INC-{outcome.incident}" if outcome.incident else "")
        await _answer(send, 200, outcome.as_json())
        if outcome.effects and self.carry_out is not None:
            task = asyncio.create_task(self._carry_out(outcome.effects))
            self.background.add(task)
            task.add_done_callback(self.background.discard)

    async def drain(self, timeout: float) -> None:
        """Shutting down: let the effects under way finish (Slack channel set-up)."""
        if self.background:
            await asyncio.wait(list(self.background), timeout=timeout)

    async def _carry_out(self, effects: list[AlertEffect]) -> None:
        assert self.carry_out is not None
        try:
            await self.carry_out(effects)
        except Exception:  # the incident is stored; a Slack failure must not vanish silently
            log.exception("carrying out %s failed", effects)

    def _authentic(self, source: str, body: bytes, headers: dict[str, str]) -> bool:
        token = self.tokens.get(source)
        if not token:
            return False
        authorization = headers.get("authorization", "")
        if authorization[:7].lower() == "bearer ":
            return hmac.compare_digest(authorization[7:].strip().encode(), token.encode())
        signature = headers.get("x-opsbot-signature", "")
        if signature.startswith("sha256="):
            expected = hmac.new(token.encode(), body, hashlib.sha256).hexdigest()
            return hmac.compare_digest(signature[7:].strip().lower().encode(), expected.encode())
        return False

    async def _refuse(self, send, source: str, status: int, message: str) -> None:
        # Only configured sources become metric labels: a stranger cannot invent series.
        self.count(source if source in self.tokens else "unknown",
                   {400: "malformed", 401: "unauthenticated", 413: "too_large"}.get(status, "failed"))
        await _answer(send, status, {"error": message})


def _problems(exc: ValidationError) -> str:
    """The first few problems, each with its place in the payload; never the values (they may be secrets)."""
    parts = []
    for error in exc.errors()[:3]:
        where = ".".join(str(part) for part in error["loc"]) or "body"
        parts.append(f"{where}: {error['msg']}")
    more = exc.error_count() - len(parts)
    return "; ".join(parts) + (f" (and {more} more)" if more > 0 else "")


async def _read(receive, limit: int) -> bytes | None:
    chunks, size = [], 0
    while True:
        message = await receive()
        chunk = message.get("body", b"")
        size += len(chunk)
        if size > limit:
            return None
        chunks.append(chunk)
        if not message.get("more_body"):
            return b"".join(chunks)


async def _answer(send, status: int, body: dict) -> None:
    await send({"type": "http.response.start", "status": status, "headers": [(b"content-type", b"application/json")]})
    await send({"type": "http.response.body", "body": json.dumps(body).encode()})
