"""POST /alerts/alertmanager and POST /alerts/webhook, as an ASGI app mounted by the HTTP app (bot/http/app.py).

In this order, so nothing unauthenticated is ever parsed: the body is capped (413), the source's token checked
(401: `Authorization: Bearer <token>` or `X-Opsbot-Signature: sha256=<HMAC-SHA256 of the body>`), the payload
parsed (400, saying what is wrong), then queued in the store (202; a replayed delivery: 200 "duplicate", nothing
changes). One worker per process applies the queue in order (bot/core/alerts.py), then hands what changed to the
surface's effect handler (Slack: channel, announcement; without Slack: the log), so the source never waits for the
incident's transaction or Slack.
"""
from __future__ import annotations

import asyncio
import contextlib
import hashlib
import hmac
import json
import logging
import re
from collections.abc import Awaitable, Callable, Mapping
from urllib.parse import parse_qs

from pydantic import ValidationError

from bot import asgi
from bot.alerts import alertmanager, webhook
from bot.asgi import SlowBody, read_body
from bot.core.alerts import AlertEffect, AlertGroup, AlertService
from bot.errors import BackendError, OpsbotError, UsageError

log = logging.getLogger("opsbot.alerts")
# Alertmanager sends every alert of a group in one notification (`max_alerts: 0`, its default): 16 MB is some
# 30,000 alerts, accepted whole (counted, the first few recorded in full). The body is still read within the cap and
# authenticated before it is parsed.
MAX_BODY = 16 << 20
BIG_BODY = 1 << 20  # past this (or of no declared length), a body waits its turn: BIG_AT_ONCE are read at once
BIG_AT_ONCE = 2
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
        self.worker: asyncio.Task | None = None
        self.receiving = 0  # deliveries being answered now
        self.arriving: list[tuple[AlertGroup, str, asyncio.Future[bool]]] = []  # checked, waiting to be stored
        self.storing = False
        self.wake = asyncio.Event()
        self.big_bodies = asyncio.Semaphore(BIG_AT_ONCE)

    async def __call__(self, scope: dict, receive, send) -> None:
        self.receiving += 1  # the worker gives way while deliveries are being answered
        try:
            await self._handle(scope, receive, send)
        finally:
            self.receiving -= 1

    async def _handle(self, scope: dict, receive, send) -> None:
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
        # A big body costs several times its size while it is read and parsed: two at a time, the rest wait.
        big = declared is None or int(declared) > BIG_BODY
        async with self.big_bodies if big else contextlib.nullcontext():
            try:
                body = await read_body(receive, self.max_body, deadline=2 * asgi.BODY_DEADLINE)  # 16 MB, a slow link
            except SlowBody as slow:
                return await self._refuse(send, source, 408, str(slow))
            if body is None:
                return await self._refuse(send, source, 413, f"body larger than {self.max_body} bytes")
            if not self._authentic(source, body, headers):
                return await self._refuse(send, source, 401, f"not authenticated: send Authorization: Bearer <token> "
                                          f"or X-Opsbot-Signature: sha256=<hex HMAC-SHA256 of the body> with the token "
                                          f"of OPSBOT_ALERT_TOKEN_{source.upper().replace('-', '_')}")
            try:
                group = parse(body, source)
            except ValidationError as exc:
                return await self._refuse(send, source, 400, "malformed payload: " + _problems(exc))
            except ValueError as exc:
                return await self._refuse(send, source, 400, f"malformed payload: {exc}")
            key = "alert:" + hashlib.sha256(source.encode() + b"\0" + body).hexdigest()
            del body  # what is kept is the parsed group
        try:
            accepted = await self._queue(self.service.check(group), key)
        except UsageError as exc:
            return await self._refuse(send, source, 400, str(exc))
        except BackendError as exc:  # 5xx: Alertmanager retries, and the replay check makes the retry safe
            log.warning("alert from %s not stored: %s", source, exc, exc_info=exc)
            return await self._refuse(send, source, 503, "the store is unreachable; retry later")
        self.count(source, "accepted" if accepted else "duplicate")
        # Queued is stored: the answer does not wait for the incident's changes or Slack (a burst of deliveries
        # would otherwise queue behind each other's transactions).
        await _answer(send, 202 if accepted else 200, {"outcome": "accepted" if accepted else "duplicate"})
        self.start()
        self.wake.set()

    async def _queue(self, group: AlertGroup, key: str) -> bool:
        """Queue a delivery with those arriving meanwhile: one transaction (and one thread hop) per batch, so a
        burst of 50 is stored in a few commits rather than 50 queued one behind the other."""
        done = asyncio.get_running_loop().create_future()
        self.arriving.append((group, key, done))
        if not self.storing:
            self.storing = True
            asyncio.create_task(self._store_arrivals())
        return await done

    async def _store_arrivals(self) -> None:
        try:
            while self.arriving:
                batch, self.arriving = self.arriving, []
                try:
                    queued = await asyncio.to_thread(self.service.accept, [(g, k) for g, k, _ in batch])
                except Exception as exc:  # noqa: BLE001 - passed on: each waiting request answers it (503, …)
                    for _, _, done in batch:
                        done.set_exception(exc)
                else:
                    for (_, _, done), fresh in zip(batch, queued, strict=True):
                        done.set_result(fresh)
        finally:
            self.storing = False

    def start(self) -> None:
        """The worker that applies queued deliveries in order (started with the server, or by the first delivery;
        at start it applies what an earlier process left queued)."""
        if self.worker is None:
            self.wake = asyncio.Event()
            self.wake.set()
            self.worker = asyncio.create_task(self._work())

    async def drain(self, timeout: float) -> None:
        """Shutting down: apply what is queued, let the effects under way finish (Slack channel set-up)."""
        if self.worker is not None:
            self.worker.cancel()
            self.worker = None
            try:
                await asyncio.wait_for(self._apply(), timeout)
            except (TimeoutError, OpsbotError):
                log.warning("shutting down with alert deliveries still queued (applied at the next start)")
        if self.background:
            await asyncio.wait(list(self.background), timeout=timeout)

    async def _work(self) -> None:
        while True:
            await self.wake.wait()
            self.wake.clear()
            try:
                while await self._apply():
                    pass
            except BackendError as exc:
                log.warning("alert deliveries stay queued: %s", exc)
                await asyncio.sleep(1)
                self.wake.set()
            except Exception:  # a bug must not stop the worker for good
                log.exception("applying alert deliveries failed")
                await asyncio.sleep(1)

    async def _apply(self) -> int:
        """Apply one queued delivery, once no delivery is being answered (at most 0.5 s later): a burst is
        answered first, then applied, so the sources' wait stays a few milliseconds."""
        deadline = asyncio.get_running_loop().time() + 0.5
        while self.receiving and asyncio.get_running_loop().time() < deadline:
            await asyncio.sleep(0.002)
        outcomes = await asyncio.to_thread(self.service.process_pending, 1)
        for outcome in outcomes:
            self.count(outcome.source, outcome.outcome)
            if outcome.effects and self.carry_out is not None:
                task = asyncio.create_task(self._carry_out(outcome.effects))
                self.background.add(task)
                task.add_done_callback(self.background.discard)
        return len(outcomes)

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
                   {400: "malformed", 401: "unauthenticated", 408: "too_slow", 413: "too_large"}.get(status, "failed"))
        await _answer(send, status, {"error": message})


def _problems(exc: ValidationError) -> str:
    """The first few problems, each with its place in the payload; never the values (they may be secrets)."""
    parts = []
    for error in exc.errors()[:3]:
        where = ".".join(str(part) for part in error["loc"]) or "body"
        parts.append(f"{where}: {error['msg']}")
    more = exc.error_count() - len(parts)
    return "; ".join(parts) + (f" (and {more} more)" if more > 0 else "")



async def _answer(send, status: int, body: dict) -> None:
    await send({"type": "http.response.start", "status": status, "headers": [(b"content-type", b"application/json")]})
    await send({"type": "http.response.body", "body": json.dumps(body).encode()})
