"""Slack's one effect handler (the Conversations port): every effect the core emits, whoever caused it — a slash
command, a button, a modal, an alert — is carried out here. An opened incident gets its channel (created, the
declarer invited, topic, pinned summary, the runbooks' announcement); a changed one has its summary and topic
edited; status updates, resolutions and reopenings are announced in the runbooks' format; health snapshots are
taken in the background; a commander is asked to resolve when the alerts have. (A plan waiting for confirmation
is offered by the reply itself: its Confirm button.)

Speed: once the channel exists, the announcement, the invitation, the topic and the summary (then its pin) go
out concurrently — only creating the channel must come first, and the pin must follow the summary. With Slack
answering each call in 100 ms the announcement is out at ~200 ms and the channel ready at ~300 ms
(bench/war_room.py).

Slack failures never lose the incident: it is stored before any Slack call, and each failure
becomes a warning for the user (naming a missing scope where that is the cause).
"""
from __future__ import annotations

import asyncio
import logging
import os
import re
import socket
from collections.abc import Callable
from datetime import datetime, timedelta

from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from bot.config.catalog import Catalog
from bot.core.effects import (
    Announcement,
    AskCommander,
    Effect,
    HealthSnapshot,
    IncidentChanged,
    IncidentOpened,
    SimilarIncidents,
    StatusPageNotice,
)
from bot.core.incidents import IncidentService
from bot.core.models import Incident
from bot.core.oncall_overrides import Overrides
from bot.core.search import NOBODY, SearchService
from bot.core.timers import paged_at_declaration
from bot.snapshots import BackgroundSnapshots, Snapshot
from bot.views.blocks import summary_text, to_blocks
from bot.views.channel import alert_text, announcement_text, ask_commander_text, summary_blocks, topic
from bot.views.mrkdwn import escape
from bot.views.search import similar_list
from bot.views.status import notice_text

log = logging.getLogger("opsbot.slack")
MAX_NAME = 80
RETRY_DELAYS = (1.0, 5.0, 30.0, 120.0)  # seconds between tries after a failed creation; then the leader's
RECONCILE_WITHIN = timedelta(days=1)  # how old an incident without a channel the leader still makes one for


def channel_name(incident: Incident, attempt: int = 1) -> str:
    """#inc-1-payment-api-returns-502 (then -2, -3 … when taken): lowercase, Slack-legal, <= 80 chars."""
    slug = re.sub(r"[^a-z0-9_-]+", "-", incident.title.lower()).strip("-_")
    tail = f"-{attempt}" if attempt > 1 else ""
    head = f"inc-{incident.number}"
    room = MAX_NAME - len(head) - len(tail) - 1
    slug = slug[:room].rstrip("-_")
    return f"{head}-{slug}{tail}" if slug else f"{head}{tail}"


def describe(error: SlackApiError, method: str) -> str:
    code = error.response.get("error", "unknown_error")
    if code == "missing_scope":
        needed = error.response.get("needed", "?")
        return f"Slack refused {method}: the app lacks the `{needed}` scope. Add it to the app and reinstall."
    return f"Slack refused {method} ({code})."


class SlackConversations:  # the Conversations port (bot/core/ports.py), for Slack
    def __init__(self, client: AsyncWebClient, service: IncidentService, catalog: Catalog, snapshot: Snapshot,
                 search: SearchService | None = None):
        self.client = client
        self.search = search  # similar past incidents, posted in a new incident's channel
        self.service = service
        self.catalog = catalog
        self.snapshots = BackgroundSnapshots(snapshot)
        self.holder = f"{socket.gethostname()}:{os.getpid()}"  # who claims a channel's creation
        self.retry_delays = RETRY_DELAYS
        self._retries: set[asyncio.Task] = set()
        self.on_opened: Callable[[], None] | None = None  # set by the composition root: page now, not next tick
        self._refreshing: dict[int, bool] = {}  # incidents being refreshed: whether another change came meanwhile

    async def carry_out(self, effects: list[Effect]) -> list[str]:
        """Act on what a change set off; returns warnings for the user (empty when all went well)."""
        warnings: list[str] = []
        for effect in effects:
            if isinstance(effect, IncidentOpened):
                if self.on_opened is not None:
                    self.on_opened()
                incident = await asyncio.to_thread(self.service.get, effect.number)
                warnings += await self.set_up(incident, effect.by, effect.announce)
            elif isinstance(effect, SimilarIncidents):
                warnings += await self.post_similar(effect.number)
            elif isinstance(effect, IncidentChanged):
                await self.refresh(effect.number)
            elif isinstance(effect, Announcement):
                warnings += await self.announce(effect)
            elif isinstance(effect, AskCommander):
                warnings += await self.ask_commander(effect)
            elif isinstance(effect, StatusPageNotice):
                warnings += await self.status_notice(effect)
            elif isinstance(effect, HealthSnapshot):
                self.snapshots.take(effect)  # after the channel: nothing waits for the checks
        return warnings

    async def post_similar(self, number: int) -> list[str]:
        """Once, in the incident's channel (after it is made): the past incidents most like it, or nothing when none
        is close enough. The channel's members are not all participants of past incidents: none private is named."""
        if self.search is None:
            return []
        incident = await asyncio.to_thread(self.service.get, number)
        if not incident.channel:
            return []
        try:
            found = await asyncio.to_thread(self.search.similar, incident, NOBODY)
        except Exception:  # a suggestion: the effects after it (the health snapshot) must still happen
            log.exception("similar incidents of %s could not be found", incident.id)
            return []
        if not found or not await asyncio.to_thread(self.service.store.remember_delivery, f"similar:{incident.id}"):
            return []
        answer = similar_list(incident, found)
        return await self._try("chat.postMessage", self.client.chat_postMessage(
            channel=incident.channel, text=summary_text(answer), blocks=to_blocks(answer)))

    async def status_notice(self, effect: StatusPageNotice) -> list[str]:
        """The page and the checks disagree: said in the incident's channel, else the announcement channel."""
        incident = await asyncio.to_thread(self.service.get, effect.number) if effect.number else None
        channel = incident.channel if incident is not None and incident.channel else self.catalog.announce_channel
        return await self._try("chat.postMessage", self.client.chat_postMessage(channel=channel, text=notice_text(effect)))

    async def ask_commander(self, effect: AskCommander) -> list[str]:
        incident = await asyncio.to_thread(self.service.get, effect.number)
        if not incident.channel:
            return []
        return await self._try("chat.postMessage", self.client.chat_postMessage(
            channel=incident.channel, text=ask_commander_text(incident)))

    async def set_up(self, incident: Incident, user: str, announce: str | None = None) -> list[str]:
        """Create and furnish the channel; returns warnings for the user (empty when all went well). Without a
        user (an incident opened by an alert) nobody is invited; `announce` overrides the announcement channel.
        The incident is recorded before this runs: when Slack fails to create the channel, it is tried again in
        the background (then by the scheduler leader) until the incident has one."""
        made = await self._make_channel(incident, user, announce)
        if isinstance(made, list):
            return made
        if made is None:
            return [f"{incident.id} is recorded; another opsbot process is making its channel."]
        self._keep_trying(incident.number, user, announce)
        return [f"{incident.id} is recorded, but its channel could not be created yet; opsbot keeps trying. "
                + describe(made, "conversations.create")]

    async def _make_channel(self, incident: Incident, user: str | None,
                            announce: str | None = None) -> list[str] | SlackApiError | None:
        """Create and furnish the channel under a claim no other process holds: warnings, or the error creating
        it, or None when another process is making it."""
        if not await asyncio.to_thread(self.service.claim_channel_setup, incident.number, self.holder):
            return None
        try:
            try:
                channel_id, name = await self._create(incident)
            except SlackApiError as error:
                log.warning("creating the channel of %s failed: %s", incident.id, error.response.get("error"))
                return error
            # Everything else needs only the channel's id: at once, side by side (the announcement first in line).
            oncall = await asyncio.to_thread(paged_at_declaration, incident, self.catalog,
                                             Overrides(self.service.store, self.catalog, self.service.clock).active)
            results = await asyncio.gather(
                self._storm_announcement(incident, channel_id, announce) if incident.storm else
                self._announce(incident, alert_text(incident, self.catalog, channel_id, oncall), announce),
                self._try("conversations.invite", self._invite(channel_id, user)) if user else _nothing(),
                self._try("conversations.setTopic", self.client.conversations_setTopic(channel=channel_id,
                                                                                       topic=topic(incident))),
                self._summary(incident, user or incident.opened_by, channel_id, name),
            )
            return [warning for warnings in results for warning in warnings]
        finally:
            await asyncio.to_thread(self.service.release_channel_setup, incident.number, self.holder)

    def _keep_trying(self, number: int, user: str | None, announce: str | None) -> None:
        task = asyncio.get_running_loop().create_task(self._retry(number, user, announce))
        self._retries.add(task)
        task.add_done_callback(self._retries.discard)

    async def _retry(self, number: int, user: str | None, announce: str | None) -> None:
        for delay in self.retry_delays:
            await asyncio.sleep(delay)
            try:
                if await self.ensure_channel(number, user, announce):
                    return
            except Exception:  # the store is down, say: the next try, or the leader's reconciliation
                log.warning("making the channel of INC-%d failed", number, exc_info=True)
        log.warning("INC-%d still has no channel; the scheduler leader keeps trying every minute", number)

    async def ensure_channel(self, number: int, user: str | None = None, announce: str | None = None) -> bool:
        """True once the incident has its channel (or needs none any more: resolved, closed)."""
        incident = await asyncio.to_thread(self.service.get, number)
        if incident.channel or not incident.is_open:
            return True
        made = await self._make_channel(incident, user, announce)
        if isinstance(made, list):
            # the similar incidents wait for the channel (posted once: a process that made it earlier did not)
            made += await self.post_similar(number)
            log.info("the channel of %s was made after an earlier failure%s", incident.id,
                     f" ({'; '.join(made)})" if made else "")
            return True
        return False

    async def reconcile(self, now: datetime) -> None:
        """The scheduler leader's pass: every incident of the last day still without a channel gets one."""
        for incident in await asyncio.to_thread(self.service.unbound, now - RECONCILE_WITHIN):
            if not await self.ensure_channel(incident.number):
                log.warning("%s still has no channel; trying again in a minute", incident.id)

    async def close(self) -> None:
        for task in list(self._retries):
            task.cancel()
        await asyncio.gather(*self._retries, return_exceptions=True)

    async def _summary(self, incident: Incident, user: str, channel_id: str, name: str) -> list[str]:
        """Post the summary, then pin it while the incident is bound to the channel."""
        warnings: list[str] = []
        summary_ts = None
        try:
            posted = await self.client.chat_postMessage(channel=channel_id, text=f"{incident.id}: {escape(incident.title)}",
                                                        blocks=summary_blocks(incident, self.catalog))
            summary_ts = posted["ts"]
        except SlackApiError as error:
            warnings.append(describe(error, "chat.postMessage"))
        bind = asyncio.to_thread(self.service.attach_channel, incident.number, user, channel_id, name, summary_ts)
        if summary_ts is None:
            await bind
            return warnings
        pinned, _ = await asyncio.gather(
            self._try("pins.add", self.client.pins_add(channel=channel_id, timestamp=summary_ts)), bind)
        return warnings + pinned

    async def _storm_announcement(self, incident: Incident, channel_id: str, announce: str | None) -> list[str]:
        """A storm's one announcement, remembered so it is edited as groups join."""
        warnings, ref = await self._announce_ref(incident, alert_text(incident, self.catalog, channel_id), announce)
        if ref is not None:
            await asyncio.to_thread(self.service.attach_announcement, incident.number, ref)
            await self.refresh(incident.number)  # groups may have joined while it was being posted
        return warnings

    async def refresh(self, number: int) -> None:
        """Edit the pinned summary and topic in place after a change (both at once); a storm's announcement too.
        Changes arriving while one refresh is under way are coalesced into one more (a storm of 300 groups makes a
        few edits, not 300), always showing the incident as it is then."""
        if number in self._refreshing:
            self._refreshing[number] = True
            return
        self._refreshing[number] = False
        try:
            while True:
                await self._refresh(number)
                if not self._refreshing[number]:
                    break
                self._refreshing[number] = False
        finally:
            del self._refreshing[number]

    async def _refresh(self, number: int) -> None:
        incident = await asyncio.to_thread(self.service.get, number)
        if incident.storm and incident.announcement_ref:
            channel, _, ts = incident.announcement_ref.partition(" ")
            text = alert_text(incident, self.catalog, incident.channel or "")
            await self._try("chat.update", self.client.chat_update(
                channel=channel, ts=ts, text=text, blocks=[{"type": "section", "text": {"type": "mrkdwn", "text": text}}]))
        if not incident.channel or not incident.summary_ref:
            return
        await asyncio.gather(
            self._try("chat.update", self.client.chat_update(
                channel=incident.channel, ts=incident.summary_ref, text=f"{incident.id}: {escape(incident.title)}",
                blocks=summary_blocks(incident, self.catalog))),
            self._try("conversations.setTopic",
                      self.client.conversations_setTopic(channel=incident.channel, topic=topic(incident))))

    async def announce(self, effect: Announcement) -> list[str]:
        """A status update, INCIDENT RESOLVED or a reopening, to the severity's announcement channel."""
        incident = await asyncio.to_thread(self.service.get, effect.number)
        eta = datetime.fromisoformat(effect.eta) if effect.eta else None
        return await self._announce(incident, announcement_text(effect.kind, incident, self.catalog, incident.channel,
                                                                by=effect.by, text=effect.text, eta=eta))

    async def _create(self, incident: Incident) -> tuple[str, str]:
        for attempt in range(1, 21):
            name = channel_name(incident, attempt)
            try:
                # A private incident (--private, its type or its severity) gets a private channel.
                response = await self.client.conversations_create(name=name, is_private=incident.private)
                return response["channel"]["id"], response["channel"]["name"]
            except SlackApiError as error:
                if error.response.get("error") != "name_taken":
                    raise
        raise SlackApiError("no free channel name", {"ok": False, "error": "name_taken"})

    async def _invite(self, channel_id: str, user: str) -> None:
        try:
            await self.client.conversations_invite(channel=channel_id, users=user)
        except SlackApiError as error:
            if error.response.get("error") not in ("already_in_channel", "cant_invite_self"):
                raise

    async def _announce(self, incident: Incident, text: str, announce: str | None = None) -> list[str]:
        return (await self._announce_ref(incident, text, announce))[0]

    async def _announce_ref(self, incident: Incident, text: str,
                            announce: str | None = None) -> tuple[list[str], str | None]:
        """Post to the announcement channel: (warnings, the message's "channel ts" when posted)."""
        target = announce or self.catalog.announce_channel_for(incident.severity)
        if not target:
            return [], None
        blocks = [{"type": "section", "text": {"type": "mrkdwn", "text": text}}]
        try:
            posted = await self.client.chat_postMessage(channel=target, text=text, blocks=blocks)
        except SlackApiError as error:
            if error.response.get("error") != "not_in_channel":
                return [describe(error, f"chat.postMessage to {target}")], None
            # The bot must be a member to post: join, then try once more.
            try:
                await self.client.conversations_join(channel=target)
                posted = await self.client.chat_postMessage(channel=target, text=text, blocks=blocks)
            except SlackApiError as again:
                return [describe(again, f"chat.postMessage to {target}")], None
        return [], f"{posted.get('channel') or target} {posted.get('ts')}" if posted.get("ts") else None

    @staticmethod
    async def _try(method: str, call) -> list[str]:
        try:
            await call
        except SlackApiError as error:
            log.warning("%s failed: %s", method, error.response.get("error"))
            return [describe(error, method)]
        return []


async def _nothing() -> list[str]:
    return []
