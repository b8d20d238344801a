"""Bolt wiring: commands, buttons, modals, the message shortcut and the 📌 reaction.

Every listener acks first and works after, so Slack's 3-second limit holds whatever the store
or Slack do. The work after the ack takes one of a few slots: under a burst the replies queue
(a response_url is good for 30 minutes) and the acks keep the event loop. Opening a modal skips
the queue, as its trigger_id expires 3 seconds after the click. All listeners call the same
core functions as the console.
"""
from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import aiohttp
from slack_bolt.async_app import AsyncApp
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError
from slack_sdk.http_retry.builtin_async_handlers import AsyncRateLimitErrorRetryHandler
from slack_sdk.web.async_client import AsyncWebClient

from bot.app import Opsbot
from bot.blocks import Reply
from bot.config import SlackSettings
from bot.errors import OpsbotError
from bot.slack import views
from bot.slack.channels import IncidentChannels
from bot.slack.usergroups import SlackGroupDirectory, group_ids
from commands import maint
from commands.base import Context
from commands.parsing import normalise
from commands.router import error_reply

log = logging.getLogger("opsbot.slack")
COMMANDS = ("/incident", "/ops", "/maint")
SHORTCUT = "add_to_timeline"
RESPONSE_TIMEOUT = aiohttp.ClientTimeout(total=30)


def create_bolt_app(opsbot: Opsbot, slack: SlackSettings) -> AsyncApp:
    client = AsyncWebClient(token=slack.slack_bot_token, base_url=slack.opsbot_slack_api_url)
    # 429s are retried after Slack's Retry-After.
    client.retry_handlers.append(AsyncRateLimitErrorRetryHandler(max_retry_count=3))
    app = AsyncApp(client=client, signing_secret=slack.slack_signing_secret)
    groups = group_ids(opsbot.catalog.roles)
    if groups:  # roles granted to user groups: ask Slack who is in them
        directory = WebClient(token=slack.slack_bot_token, base_url=slack.opsbot_slack_api_url, timeout=10)
        opsbot.services.ops.groups_of = SlackGroupDirectory(directory, groups)
    channels = IncidentChannels(client, opsbot.services.incidents, opsbot.catalog)
    SlackHandlers(opsbot, channels, slack.opsbot_slack_workers).register(app)
    return app


def delivery_key(body: dict) -> str | None:
    """What identifies one delivery across Events API retries and Socket Mode redeliveries."""
    if body.get("event_id"):
        return f"event:{body['event_id']}"
    if body.get("trigger_id"):
        return f"trigger:{body['trigger_id']}"
    return None


class SlackHandlers:
    def __init__(self, opsbot: Opsbot, channels: IncidentChannels, workers: int = 8):
        self.opsbot = opsbot
        self.slots = asyncio.Semaphore(workers)
        self.router = opsbot.router
        self.incidents = opsbot.services.incidents
        self.channels = channels
        self.client = channels.client

    def register(self, app: AsyncApp) -> None:
        for command in COMMANDS:
            app.command(command)(self.on_command)
        app.action("incident_ack")(self.on_ack_button)
        app.action("incident_update")(self.on_update_button)
        app.action("incident_resolve")(self.on_resolve_button)
        app.action("ops_confirm")(self.on_ops_confirm)
        app.action(maint.CHECK_ACTION)(self.on_checklist)
        app.action(maint.MODE_ACTION)(self.on_maintenance_mode)
        app.view(views.OPEN_MODAL)(self.on_open_modal)
        app.view(views.UPDATE_MODAL)(self.on_update_modal)
        app.view(views.RESOLVE_MODAL)(self.on_resolve_modal)
        app.shortcut(SHORTCUT)(self.on_add_to_timeline)
        app.event("reaction_added")(self.on_reaction)
        app.error(self.on_error)

    # --- delivery -------------------------------------------------------------------
    async def first_delivery(self, body: dict) -> bool:
        """False for a retry/redelivery already handled. Checked after ack, off the ack's critical path."""
        key = delivery_key(body)
        if key and not await asyncio.to_thread(self.opsbot.store.remember_delivery, key):
            log.info("ignoring a repeated delivery %s", key)
            return False
        return True

    @asynccontextmanager
    async def queued(self, body: dict) -> AsyncIterator[bool]:
        """Wait for a work slot (the ack has gone already), then say whether this delivery is new."""
        async with self.slots:
            yield await self.first_delivery(body)

    def responder(self, response_url: str):
        """Like Bolt's respond() (a JSON POST to the response_url), on the app's shared HTTP session: no new
        connection nor client per reply."""
        async def respond(**message) -> None:
            body = {key: value for key, value in message.items() if value is not None}
            async with self.client.session.post(response_url, json=body, timeout=RESPONSE_TIMEOUT) as response:
                if response.status != 200:
                    log.warning("response_url answered HTTP %s: %s", response.status, (await response.text())[:200])

        return respond

    async def on_error(self, error: Exception, body: dict) -> None:
        log.error("unhandled error in a Slack listener: %r", error, exc_info=error)

    # --- slash commands -------------------------------------------------------------
    async def on_command(self, ack, command: dict, body: dict, client: AsyncWebClient) -> None:
        await ack()
        name, text = command["command"], normalise(command.get("text", ""))
        ctx = Context(user=command["user_id"], channel=command.get("channel_id"), source="slack")
        if name == "/incident" and text.lower() == "open":
            if await self.first_delivery(body):
                await client.views_open(trigger_id=command["trigger_id"],
                                        view=views.open_modal(self.opsbot.catalog, ctx.channel or ""))
            return
        async with self.queued(body) as new:
            if new:
                reply = await asyncio.to_thread(self.router.handle, name, text, ctx)
                await self.deliver(reply, self.responder(command["response_url"]), client, ctx)

    async def deliver(self, reply: Reply, respond, client: AsyncWebClient, ctx: Context) -> None:
        """Send a reply, then follow up on what it changed (new channel, edited summary)."""
        await respond(text=reply.text, blocks=reply.blocks,
                      response_type="ephemeral" if reply.ephemeral else "in_channel")
        if reply.file is not None and ctx.channel:
            try:
                await client.files_upload_v2(channel=ctx.channel, filename=reply.file.filename,
                                             content=reply.file.content, title=reply.file.title)
            except SlackApiError as error:
                await respond(text=f"Could not upload {reply.file.filename} ({error.response.get('error')}).",
                              response_type="ephemeral")
        await self.follow_up(reply, ctx.user, respond)

    async def follow_up(self, reply: Reply, user: str, respond=None) -> None:
        if reply.incident is None:
            return
        if reply.opened:
            incident = await asyncio.to_thread(self.incidents.get, reply.incident)
            warnings = await self.channels.set_up(incident, user)
            if warnings and respond is not None:
                await respond(text="\n".join(warnings), response_type="ephemeral")
        else:
            await self.channels.refresh(reply.incident)

    # --- buttons and modals ---------------------------------------------------------
    async def on_ack_button(self, ack, body: dict, action: dict, respond, client: AsyncWebClient) -> None:
        await ack()
        async with self.queued(body) as new:
            if not new:
                return
            number, user = int(action["value"]), body["user"]["id"]
            try:
                incident = await asyncio.to_thread(self.incidents.acknowledge, number, user)
            except OpsbotError as error:
                await respond(text=error_reply(error).text, response_type="ephemeral", replace_original=False)
                return
            await client.chat_postMessage(channel=incident.channel or body["channel"]["id"],
                                          text=f"<@{user}> acknowledged {incident.id}.")
            await self.channels.refresh(number)

    async def on_ops_confirm(self, ack, body: dict, action: dict, respond) -> None:
        """The Confirm button of a plan (Slack shows its confirm dialog first)."""
        await self._ops_button(ack, body, respond, f"confirm {action['value']}")

    async def on_checklist(self, ack, body: dict, action: dict, respond) -> None:
        """A checkbox of a posted checklist: the selection is the new state; who changed what is recorded."""
        await ack()
        checklist_id = int(action["block_id"].split(":", 1)[1])
        checked = {int(option["value"]) for option in action.get("selected_options") or []}
        async with self.queued(body) as new:
            if not new:
                return
            try:
                await asyncio.to_thread(self.opsbot.services.maintenance.tick, body["user"]["id"], checklist_id,
                                        checked)
            except OpsbotError as error:
                await respond(text=error_reply(error).text, response_type="ephemeral", replace_original=False)

    async def on_maintenance_mode(self, ack, body: dict, action: dict, respond) -> None:
        """The button of a window's start notice: the same permissions, plan and confirmation as the command."""
        await self._ops_button(ack, body, respond, f"maintenance on {action['value']}")

    async def _ops_button(self, ack, body: dict, respond, command: str) -> None:
        """A button that stands for an /ops command typed by whoever clicked it."""
        await ack()
        ctx = Context(user=body["user"]["id"], channel=(body.get("channel") or {}).get("id"), source="slack")
        async with self.queued(body) as new:
            if new:
                reply = await asyncio.to_thread(self.router.handle, "/ops", command, ctx)
                await respond(text=reply.text, blocks=reply.blocks, replace_original=False,
                              response_type="ephemeral" if reply.ephemeral else "in_channel")

    async def on_update_button(self, ack, body: dict, action: dict, client: AsyncWebClient) -> None:
        await ack()  # opens a modal, so not queued: its trigger_id expires in 3 seconds
        if not await self.first_delivery(body):
            return
        incident = await asyncio.to_thread(self.incidents.get, int(action["value"]))
        await client.views_open(trigger_id=body["trigger_id"], view=views.text_modal(
            views.UPDATE_MODAL, incident, "Status update", "What should stakeholders know?", "Post update"))

    async def on_resolve_button(self, ack, body: dict, action: dict, client: AsyncWebClient) -> None:
        await ack()  # opens a modal: not queued
        if not await self.first_delivery(body):
            return
        incident = await asyncio.to_thread(self.incidents.get, int(action["value"]))
        await client.views_open(trigger_id=body["trigger_id"], view=views.text_modal(
            views.RESOLVE_MODAL, incident, "Resolve incident", "What fixed it?", "Resolve"))

    async def on_open_modal(self, ack, body: dict, view: dict, client: AsyncWebClient) -> None:
        values = views.modal_values(view)
        errors = {}
        try:
            self.opsbot.catalog.severity_key(values.get("severity") or "")
        except ValueError as exc:
            errors["severity"] = str(exc)
        title = (values.get("title") or "").strip()
        if not title:
            errors["title"] = "Give the incident a title."
        elif len(title) > self.opsbot.catalog.limits.title_max:
            errors["title"] = f"At most {self.opsbot.catalog.limits.title_max} characters."
        if errors:
            await ack(response_action="errors", errors=errors)
            return
        await ack()
        user = body["user"]["id"]
        async with self.queued(body) as new:
            if not new:
                return
            try:
                incident = await asyncio.to_thread(
                    self.incidents.open, user, values["severity"], title, impact=values.get("impact") or None,
                    service=values.get("service") or None)
            except OpsbotError as error:
                await client.chat_postMessage(channel=user, text=error_reply(error).text)
                return
            warnings = await self.channels.set_up(incident, user)
            if warnings:
                await client.chat_postMessage(channel=user, text="\n".join(warnings))

    async def on_update_modal(self, ack, body: dict, view: dict, client: AsyncWebClient) -> None:
        await self._text_modal(ack, body, view, client, self.incidents.post_update, "📣 *Update on {id}*: {text}")

    async def on_resolve_modal(self, ack, body: dict, view: dict, client: AsyncWebClient) -> None:
        await self._text_modal(ack, body, view, client, self.incidents.resolve, "🟢 {id} resolved: {text}")

    async def _text_modal(self, ack, body, view, client, change, message: str) -> None:
        text = (views.modal_values(view).get("text") or "").strip()
        if not text:
            await ack(response_action="errors", errors={"text": "This cannot be empty."})
            return
        number, user = int(view["private_metadata"]), body["user"]["id"]
        if not await self.first_delivery(body):
            await ack()
            return
        try:
            incident = await asyncio.to_thread(change, number, user, text)
        except OpsbotError as error:
            await ack(response_action="errors", errors={"text": str(error)})
            return
        await ack()
        if incident.channel:
            await client.chat_postMessage(channel=incident.channel, text=message.format(id=incident.id, text=text))
        await self.channels.refresh(number)

    # --- adding messages to the timeline ----------------------------------------------
    async def on_add_to_timeline(self, ack, body: dict, client: AsyncWebClient) -> None:
        await ack()
        channel, message, user = body["channel"]["id"], body["message"], body["user"]["id"]
        async with self.queued(body) as new:
            if new:
                await self._add_message(client, channel, message, user)

    async def on_reaction(self, event: dict, body: dict, client: AsyncWebClient) -> None:
        item = event.get("item", {})
        if event.get("reaction") != "pushpin" or item.get("type") != "message":
            return
        async with self.queued(body) as new:
            if not new:
                return
            history = await client.conversations_history(channel=item["channel"], latest=item["ts"],
                                                         inclusive=True, limit=1)
            messages = history.get("messages") or []
            if messages:
                await self._add_message(client, item["channel"], messages[0], event["user"])

    async def _add_message(self, client: AsyncWebClient, channel: str, message: dict, user: str) -> None:
        incident = await asyncio.to_thread(self.opsbot.store.incident_for_channel, channel)
        if incident is None:
            await client.chat_postEphemeral(channel=channel, user=user,
                                            text="This channel is not an incident channel; nothing was added.")
            return
        link = await client.chat_getPermalink(channel=channel, message_ts=message["ts"])
        author = message.get("user") or message.get("bot_id") or "unknown"
        text = f"Message from <@{author}>: {message.get('text', '')}"
        try:
            await asyncio.to_thread(self.incidents.add_note, incident.number, user, text[:3000],
                                    {"author": author, "permalink": link.get("permalink"), "ts": message["ts"]})
        except OpsbotError as error:
            await client.chat_postEphemeral(channel=channel, user=user, text=str(error))
            return
        await client.chat_postEphemeral(channel=channel, user=user, text=f"Added to the timeline of {incident.id}.")


