"""What every listener does before its own work, written once: ack → work slot → dedupe → context.

The ack goes first, so Slack's 3-second limit holds whatever the store or Slack do next. The work after it
takes one of a few slots: under a burst the replies queue (a response_url is good for 30 minutes) and the acks
keep the event loop. Opening a modal skips the queue, as its trigger_id expires 3 seconds after the click.
Retries and redeliveries are recognised by a key stored in the database (so across restarts and replicas) and
applied once. Errors from the work go to the one presenter (bot/slack/errors.py).
"""
from __future__ import annotations

import asyncio
import logging
import time
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import aiohttp
from slack_sdk.web.async_client import AsyncWebClient

from bot.errors import BackendError
from bot.logs import REQUEST
from bot.slack.errors import present
from bot.views.blocks import summary_text
from bot.views.model import Reply
from commands.base import Context
from commands.parsing import first_word, normalise
from commands.router import COMMANDS

if TYPE_CHECKING:
    from bot.metrics import Metrics

log = logging.getLogger("opsbot.slack")
RESPONSE_TIMEOUT = aiohttp.ClientTimeout(total=30)


def delivery_key(body: dict) -> str | None:
    """What identifies one delivery across Events API retries and Socket Mode redeliveries."""
    if body.get("event_id"):
        return f"event:{body['event_id']}"
    if body.get("trigger_id"):
        return f"trigger:{body['trigger_id']}"
    return None


def context_of(body: dict) -> Context:
    """Who is asking and where, from any payload: commands, interactions, events."""
    event = body.get("event") or {}
    user = body.get("user_id") or (body.get("user") or {}).get("id") or event.get("user") or event.get("user_id") or ""
    channel = (body.get("channel_id") or (body.get("channel") or {}).get("id") or (event.get("item") or {}).get("channel")
               or event.get("channel_id"))
    return Context(user=user, channel=channel, source="slack")


def command_label(command: str, text: str) -> str:
    """'/ops restart' from '/ops' and 'restart api prod': the sub-command only when it is one (a metric label and
    a log field must not carry what a user typed)."""
    declared = COMMANDS.get(command.strip().lower())
    if declared is None:
        return "unknown"
    word = first_word(normalise(text))[0].lower()
    return f"{declared.name} {word}" if word in {sub.name for sub in declared.subcommands} | {"help"} \
        else declared.name


def what(body: dict) -> str:
    """What a delivery asks for, for the log: a command and sub-command, a button, a shortcut, an event."""
    if body.get("command"):
        return command_label(body["command"], body.get("text", ""))
    if body.get("actions"):
        return f"button {body['actions'][0].get('action_id', '')}"
    if body.get("callback_id"):
        return f"shortcut {body['callback_id']}"
    return f"event {(body.get('event') or {}).get('type', body.get('type', ''))}"


@dataclass
class SlackRequest:
    """One delivery, as the work after the ack sees it."""

    body: dict
    ctx: Context
    client: AsyncWebClient
    response_url: str | None

    async def respond(self, **message: Any) -> None:
        """Like Bolt's respond() (a JSON POST to the response_url), on the app's shared HTTP session: no new
        connection nor client per reply. Without a response_url (events), an ephemeral message."""
        if self.response_url is None:
            if self.ctx.channel and self.ctx.user:
                await self.client.chat_postEphemeral(channel=self.ctx.channel, user=self.ctx.user,
                                                     text=message.get("text", ""), blocks=message.get("blocks"))
            return
        body = {key: value for key, value in message.items() if value is not None}
        session = self.client.session
        assert session is not None, "the HTTP lifespan or Socket Mode handler makes the shared session"
        async with session.post(self.response_url, json=body, timeout=RESPONSE_TIMEOUT) as response:
            if response.status != 200:
                log.warning("response_url answered HTTP %s: %s", response.status, (await response.text())[:200])

    async def reply(self, reply: Reply, **extra: Any) -> None:
        await self.respond(text=summary_text(reply), blocks=reply.blocks,
                           response_type="ephemeral" if reply.ephemeral else "in_channel", **extra)


Work = Callable[[SlackRequest], Awaitable[None]]


class Pipeline:
    def __init__(self, remember_delivery: Callable[[str], bool], workers: int = 8,
                 claim_delivery: Callable[[str], bool] = lambda key: False, metrics: Metrics | None = None,
                 max_waiting: int = 1000):
        self.remember_delivery = remember_delivery
        self.claim_delivery = claim_delivery
        self.slots = asyncio.Semaphore(workers)
        self.waiting, self.max_waiting = 0, max_waiting  # acked deliveries waiting for a slot, and their bound
        self.refused, self.refusal_logged_at = 0, float("-inf")
        self.metrics = metrics
        # Work acked but not finished: a graceful shutdown waits for it (drain) before closing the HTTP session.
        self.in_flight = 0
        self._idle = asyncio.Event()
        self._idle.set()

    async def drain(self, timeout: float) -> bool:
        """Wait until no acked work is left (True), or `timeout` seconds (False)."""
        try:
            await asyncio.wait_for(self._idle.wait(), timeout)
            return True
        except TimeoutError:
            return False

    async def first_delivery(self, body: dict) -> bool:
        """False for a retry/redelivery already handled. Checked after the ack, off its critical path."""
        key = delivery_key(body)
        if key and not await asyncio.to_thread(self.remember_delivery, key):
            log.info("ignoring a repeated delivery %s", key)
            return False
        return True

    async def opened_modal(self, view_id: str, user: str) -> None:
        """Remember a modal this bot opened for this user: only its submission will be accepted."""
        await asyncio.to_thread(self.remember_delivery, f"modal:{view_id}:{user}")

    async def claim_modal(self, view_id: str, user: str) -> bool:
        """True, once, for a modal this bot opened for this user (in any replica)."""
        return await asyncio.to_thread(self.claim_delivery, f"modal:{view_id}:{user}")

    def listener(self, work: Work, queued: Callable[[dict], bool] = lambda body: True):
        """A Bolt listener that acks, waits for a slot (unless `queued(body)` says it opens a modal), drops
        repeats, builds the context and runs `work`; any error goes to the presenter."""
        async def listener(ack, body: dict, client: AsyncWebClient) -> None:
            started = time.perf_counter()
            self.in_flight += 1
            self._idle.clear()
            try:
                await ack()
                if self.metrics is not None:
                    self.metrics.acked(time.perf_counter() - started)
                if queued(body):
                    await self.run_in_turn(work, body, client, started)
                else:
                    await self.run(work, body, client, started)
            finally:
                self.in_flight -= 1
                if not self.in_flight:
                    self._idle.set()
                if self.metrics is not None:
                    self.metrics.replied(time.perf_counter() - started)

        return listener

    async def run_in_turn(self, work: Work, body: dict, client: AsyncWebClient, started: float) -> None:
        """Run `work` once a slot is free; past `max_waiting` waiting, a person's request is refused instead.
        Events are few and filtered cheaply by their listener (most reactions are not 📌), and a refusal would
        reach someone who asked nothing: they always wait their turn."""
        if self.waiting >= self.max_waiting and body.get("type") != "event_callback":
            await self.refuse_busy(body, client)
            return
        self.waiting += 1
        try:
            await self.slots.acquire()
        finally:
            self.waiting -= 1
        try:
            await self.run(work, body, client, started)
        finally:
            self.slots.release()

    async def refuse_busy(self, body: dict, client: AsyncWebClient) -> None:
        """Too much acked work is waiting already: say so at once, having done nothing. Logged once a minute at
        most (with how many were refused), so an overload does not also flood the log."""
        self.refused += 1
        if time.monotonic() - self.refusal_logged_at >= 60:
            log.warning("busy: %d deliveries wait for a worker (OPSBOT_SLACK_QUEUE); %d refused since the last "
                        "such line", self.waiting, self.refused)
            self.refusal_logged_at, self.refused = time.monotonic(), 0
        if self.metrics is not None:
            self.metrics.refused_busy()
        request = SlackRequest(body, context_of(body), client, body.get("response_url"))
        await present(BackendError(f"opsbot is busy: {self.waiting} requests are waiting for a free worker, so this "
                                   "one was not taken and nothing was done. Try again in a minute."), request.respond)

    async def run(self, work: Work, body: dict, client: AsyncWebClient, started: float | None = None) -> None:
        request = SlackRequest(body, context_of(body), client, body.get("response_url"))
        # Every line logged while this delivery is worked on carries these fields (bot/logs.py).
        fields = {"request_id": uuid.uuid4().hex[:12], "user": request.ctx.user, "command": what(body)}
        token = REQUEST.set(fields)
        started = time.perf_counter() if started is None else started
        try:  # the dedupe needs the store too: when it is unreachable, the user hears so
            if not await self.first_delivery(body):
                fields["outcome"] = "repeat"
                return
            await work(request)
            fields.setdefault("outcome", "ok")
        except Exception as error:  # noqa: BLE001 — every error a user sees goes through the presenter
            fields["outcome"] = "error"
            await present(error, request.respond)
        finally:
            log.info("handled %s", fields["command"], extra={"duration_ms": round((time.perf_counter() - started)
                                                                                   * 1000, 1)})
            REQUEST.reset(token)
