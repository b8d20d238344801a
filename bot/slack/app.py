"""Bolt wiring: the slash commands (from the router's command list), buttons, modals, the message shortcut
and the 📌 reaction. Every listener runs through the one pipeline (middleware.py: ack → slot → dedupe →
context → presenter) and then through the same router and services as the console."""
from __future__ import annotations

import asyncio
import logging
import re
from dataclasses import replace
from functools import partial
from typing import TYPE_CHECKING, Any

from slack_bolt.async_app import AsyncApp
from slack_bolt.authorization import AuthorizeResult
from slack_bolt.authorization.async_authorize import AsyncAuthorize
from slack_sdk.errors import SlackApiError

from bot.config import SlackSettings
from bot.core.effects import Effect
from bot.core.ops import Actor
from bot.errors import UsageError
from bot.logs import REQUEST
from bot.slack import modals
from bot.slack.conversations import SlackConversations
from bot.slack.errors import on_unhandled, reply_for
from bot.slack.metered import MeteredWebClient
from bot.slack.middleware import Pipeline, SlackRequest, command_label, context_of
from bot.slack.users import UserZones
from bot.timeparse import parse_eta, utcnow
from bot.views.blocks import fit, summary_text
from bot.views.maint import CHECK_ACTION, MODE_ACTION
from bot.views.model import Reply
from bot.views.mrkdwn import from_slack
from commands.base import Context
from commands.incident import OpenRequest, open_incident, resolve_incident, update_incident
from commands.parsing import normalise, whole_number
from commands.router import COMMANDS, redacted

if TYPE_CHECKING:

    from bot.app import Opsbot

PROGRESS_MESSAGES = 2  # news of a long action per command
log = logging.getLogger("opsbot.slack")
SHORTCUT = "add_to_timeline"
PLAN_ID = re.compile(r"p-[0-9a-f]{6}")
NOT_YOURS = "This form was not opened for you by opsbot (or was already submitted); open it again."
ENV_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,62}")
NOTE_MAX = 3000


class StartupAuthorization(AsyncAuthorize):
    """The bot's identity (auth.test) asked once, at start-up (`warm_up`), instead of on the first request —
    which otherwise waits one more round trip to Slack. If Slack cannot be reached at start, the first request
    asks, as Bolt's own single-workspace authorization would."""

    def __init__(self, client: MeteredWebClient):
        super().__init__()
        self.client = client

    async def __call__(self, *, context, enterprise_id, team_id, user_id, **actor: Any) -> AuthorizeResult | None:
        return AuthorizeResult.from_auth_test_response(auth_test_response=await self.client.identity(),
                                                       bot_token=self.client.token)


class SkipTokenNotice(logging.Filter):
    """Bolt reads SLACK_BOT_TOKEN by itself and warns that our client's token wins — on every normal start."""

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        # Also: with our own authorize (auth.test at start-up), Bolt says the token it read will be ignored.
        return "`token` will be unused" not in message and "will be ignored" not in message


async def warm_up(app: AsyncApp) -> None:
    """What start-up does before the first request: auth.test (see StartupAuthorization). Not fatal: if Slack
    cannot be reached now, the first request asks."""
    if isinstance(app.client, MeteredWebClient):
        try:
            await app.client.identity()
        except Exception as error:  # noqa: BLE001
            log.warning("auth.test at start-up failed (%r); the first request will try again", error)


def pipeline_for(opsbot: Opsbot, slack: SlackSettings) -> Pipeline:
    return Pipeline(opsbot.store.remember_delivery, slack.opsbot_slack_workers, opsbot.store.claim_delivery,
                    metrics=opsbot.metrics, max_waiting=slack.opsbot_slack_queue)


ZONED_COMMANDS = frozenset({"/oncall"})  # the replies that show times in the asker's zone (one users.info)


def _opens_modal(body: dict) -> bool:
    return body.get("command") == "/incident" and normalise(body.get("text", "")).lower() == "open"


class SlackHandlers:
    def __init__(self, opsbot: Opsbot, conversations: SlackConversations, pipeline: Pipeline):
        self.router = opsbot.router
        self.metrics = opsbot.metrics
        self.services = opsbot.services
        self.catalog = opsbot.catalog
        self.conversations = conversations
        self.pipeline = pipeline
        self.zones = UserZones()

    def register(self, app: AsyncApp) -> None:
        listen = self.pipeline.listener
        for command in COMMANDS:
            app.command(command)(listen(self.on_command, queued=lambda body: not _opens_modal(body)))
        app.action("incident_ack")(listen(partial(self.on_button, "/incident", "ack INC-{value}", self.incident_number)))
        app.action("ops_confirm")(listen(partial(self.on_button, "/ops", "confirm {value}", self.plan_id)))
        app.action(MODE_ACTION)(listen(partial(self.on_button, "/ops", "maintenance on {value}", self.environment)))
        app.action(CHECK_ACTION)(listen(self.on_checklist))
        # These open a modal, so they are not queued: a trigger_id expires in 3 seconds.
        app.action("incident_update")(listen(partial(self.on_text_modal_button, modals.UPDATE_MODAL),
                                             queued=lambda body: False))
        app.action("incident_resolve")(listen(partial(self.on_text_modal_button, modals.RESOLVE_MODAL),
                                              queued=lambda body: False))
        # Modal submissions do their work before the ack, so they can answer with field errors.
        app.view(modals.OPEN_MODAL)(self.on_open_modal)
        app.view(modals.UPDATE_MODAL)(self.on_update_modal)
        app.view(modals.RESOLVE_MODAL)(self.on_resolve_modal)
        # A message shortcut only: a global shortcut of that id has no message (Bolt answers it as unhandled).
        app.shortcut({"type": "message_action", "callback_id": SHORTCUT})(listen(self.on_add_to_timeline))
        app.event("reaction_added")(listen(self.on_reaction))
        app.event("file_shared")(listen(self.on_file_shared))
        app.error(on_unhandled)

    # --- replies -----------------------------------------------------------------------
    async def deliver(self, reply: Reply, request: SlackRequest, **extra) -> None:
        """Send a reply, then carry out what it changed (a new channel, an edited summary)."""
        await request.reply(reply, **extra)
        if reply.file is not None and request.ctx.channel:
            try:
                if reply.file.path:  # a file on disk (an evidence bundle), uploaded as it is
                    await request.client.files_upload_v2(channel=request.ctx.channel, filename=reply.file.filename,
                                                         title=reply.file.title, file=reply.file.path)
                else:
                    await request.client.files_upload_v2(channel=request.ctx.channel, filename=reply.file.filename,
                                                         title=reply.file.title, content=reply.file.content)
            except SlackApiError as error:
                await request.respond(text=f"Could not upload {reply.file.filename} "
                                           f"({error.response.get('error')}).", response_type="ephemeral")
        warnings = await self.carry_out(reply.effects)
        if warnings:
            await request.respond(text="\n".join(warnings), response_type="ephemeral")

    @staticmethod
    def incident_number(value: str) -> int | None:
        return whole_number(value)

    @staticmethod
    def plan_id(value: str) -> str | None:
        return value if PLAN_ID.fullmatch(value) else None

    @staticmethod
    def environment(value: str) -> str | None:
        """One word of a name's characters; whether it exists is the command's to say."""
        return value if ENV_NAME.fullmatch(value) else None

    async def run_command(self, command: str, text: str, request: SlackRequest) -> Reply:
        ctx = replace(request.ctx, say=self._progress(request))
        if command in ZONED_COMMANDS and ctx.user:  # times on the asker's own clock too
            ctx = replace(ctx, zone=await self.zones.zone(request.client, ctx.user))
        reply = fit(await asyncio.to_thread(self.router.handle, command, text, ctx))  # Slack's 50 blocks
        outcome = "ok" if reply.ok else "error"
        self.metrics.command(command_label(command, text), outcome)
        fields = REQUEST.get()
        if fields is not None:  # the pipeline's log line says how the command went, not only that it ran
            fields["outcome"] = outcome
        return reply

    # --- slash commands and buttons ----------------------------------------------------------
    async def on_command(self, request: SlackRequest) -> None:
        body = request.body
        if _opens_modal(body):
            opened = await request.client.views_open(trigger_id=body["trigger_id"],
                                                     view=modals.open_modal(self.catalog, request.ctx.channel or ""))
            await self.pipeline.opened_modal(opened["view"]["id"], request.ctx.user)
            return
        await self.deliver(await self.run_command(body["command"], body.get("text", ""), request), request)

    async def on_button(self, command: str, text: str, lookup, request: SlackRequest) -> None:
        """A button that stands for a command typed by whoever clicked it. Its value is looked up (an incident
        number, a plan id, an environment of the catalog), never pasted into the command line as it came."""
        value = lookup(str(request.body["actions"][0].get("value", "")))
        if value is None:
            raise UsageError("This button is no longer valid; use the command instead.")
        reply = await self.run_command(command, text.format(value=value), request)
        await self.deliver(reply, request, replace_original=False)

    async def on_checklist(self, request: SlackRequest) -> None:
        """A checkbox of a posted checklist: the selection is the new state; who changed what is recorded."""
        action = request.body["actions"][0]
        checklist_id = int(action["block_id"].split(":", 1)[1])
        checked = {int(option["value"]) for option in action.get("selected_options") or []}
        await asyncio.to_thread(self.services.maintenance.tick, request.ctx.user, checklist_id, checked)

    async def on_text_modal_button(self, callback_id: str, request: SlackRequest) -> None:
        number = int(request.body["actions"][0]["value"])
        incidents = self.services.incidents  # a private incident: only for who may see it
        viewer = incidents.viewer(request.ctx.user, request.ctx.channel)
        incident = await asyncio.to_thread(incidents.visible, number, viewer)
        opened = await request.client.views_open(trigger_id=request.body["trigger_id"], view=modals.text_modal_for(
            callback_id, incident))
        await self.pipeline.opened_modal(opened["view"]["id"], request.ctx.user)

    # --- modal submissions -------------------------------------------------------------------
    async def on_open_modal(self, ack, body: dict, view: dict) -> None:
        values = modals.modal_values(view)
        eta = None
        if (values.get("eta") or "").strip():
            try:
                eta = parse_eta(str(values["eta"]), utcnow())
            except ValueError as exc:
                await ack(response_action="errors", errors={"eta": str(exc)})
                return
        request = OpenRequest(severity=values.get("severity") or "", title=(values.get("title") or "").strip(),
                              impact=values.get("impact") or None, service=values.get("service") or None,
                              env=values.get("env") or None, type=values.get("type") or None,
                              # Unticked: as the type or severity says (`--private` can only make it private).
                              private=True if values.get("private") == "private" else None, eta=eta)
        # The channel the modal was opened from: where an ephemeral message can reach the user.
        ctx = replace(context_of(body), channel=view.get("private_metadata") or None)
        missing = {name: message for name, value, message in (
            ("severity", request.severity, "Choose a severity."), ("title", request.title, "Give the incident a title."))
            if not value}
        if missing:
            await ack(response_action="errors", errors=missing)
            return
        if not await self.pipeline.first_delivery(body):
            await ack()
            return
        if not await self.pipeline.claim_modal(str(view.get("id")), ctx.user):
            await ack(response_action="errors", errors={"title": NOT_YOURS})
            return
        try:  # the same path as `/incident open`: one validation, in the service
            reply = redacted(await asyncio.to_thread(open_incident, self.services, ctx, request))
        except UsageError as error:
            if error.field in ("severity", "title", "impact", "service", "env", "type", "eta"):
                await self.pipeline.opened_modal(str(view.get("id")), ctx.user)  # still theirs to correct
                await ack(response_action="errors", errors={error.field: str(error)})
                return
            await ack()
            await self.tell(ctx, reply_for(error).text)
            return
        except Exception as error:  # noqa: BLE001 — the store is down, say; the user hears it, not a timeout
            await ack()
            await self.tell(ctx, reply_for(error, "the incident form").text)
            return
        await ack()
        async with self.pipeline.slots:
            warnings = await self.carry_out(reply.effects)
        if warnings:
            await self.tell(ctx, "\n".join(warnings))

    async def on_update_modal(self, ack, body: dict, view: dict) -> None:
        await self._text_modal(update_incident, ack, body, view)

    async def on_resolve_modal(self, ack, body: dict, view: dict) -> None:
        await self._text_modal(resolve_incident, ack, body, view)

    async def _text_modal(self, change, ack, body: dict, view: dict) -> None:
        text = (modals.modal_values(view).get("text") or "").strip()
        if not text:
            await ack(response_action="errors", errors={"text": "This cannot be empty."})
            return
        if not await self.pipeline.first_delivery(body):
            await ack()
            return
        number, ctx = whole_number(view.get("private_metadata") or ""), context_of(body)
        if number is None or not await self.pipeline.claim_modal(str(view.get("id")), ctx.user):
            await ack(response_action="errors", errors={"text": NOT_YOURS})
            return
        try:  # the text is taken as typed in the form: no command-line parsing or typography changes
            reply = redacted(await asyncio.to_thread(change, self.services, ctx, number, text))
        except Exception as error:  # noqa: BLE001 — shown next to the field, through the one presenter
            await self.pipeline.opened_modal(str(view.get("id")), ctx.user)  # still theirs to correct
            await ack(response_action="errors", errors={"text": reply_for(error, "the incident form").text})
            return
        await ack()
        incident = await asyncio.to_thread(self.services.incidents.get, number)
        if incident.channel:
            await self.conversations.client.chat_postMessage(channel=incident.channel, text=summary_text(reply),
                                                             blocks=reply.blocks)
        await self.carry_out(reply.effects)

    @staticmethod
    def _progress(request: SlackRequest):
        """How a long action goes (a rollout), told to the asker while the command runs in its thread."""
        loop = asyncio.get_running_loop()
        told = 0

        def say(text: str) -> None:
            nonlocal told
            if told >= PROGRESS_MESSAGES:  # a response_url takes 5 messages: the reply and its warnings come after
                return
            told += 1
            posted = asyncio.run_coroutine_threadsafe(request.respond(text=f"⏳ {text}", response_type="ephemeral"), loop)
            try:
                posted.result(timeout=5)  # in order, and never holding the action up for long
            except Exception:
                log.info("a progress message could not be sent", exc_info=True)

        return say

    async def carry_out(self, effects: list[Effect]) -> list[str]:
        return await self.conversations.carry_out(effects)

    async def tell(self, ctx: Context, text: str) -> None:
        """A message only this user sees: ephemeral where they are, else (a DM, a channel the bot is not in) a DM."""
        client = self.conversations.client
        if ctx.channel:
            try:
                await client.chat_postEphemeral(channel=ctx.channel, user=ctx.user, text=text)
                return
            except SlackApiError as error:
                log.info("ephemeral message to %s failed (%s); sending a DM", ctx.channel, error.response.get("error"))
        await client.chat_postMessage(channel=ctx.user, text=text)

    # --- adding messages to the timeline ----------------------------------------------------
    async def on_add_to_timeline(self, request: SlackRequest) -> None:
        await self._add_message(request, request.body["message"])

    async def on_reaction(self, request: SlackRequest) -> None:
        event = request.body["event"]
        item = event.get("item", {})
        if event.get("reaction") != "pushpin" or item.get("type") != "message":
            return
        history = await request.client.conversations_history(channel=item["channel"], latest=item["ts"],
                                                             inclusive=True, limit=1)
        messages = history.get("messages") or []
        if messages:
            await self._add_message(request, messages[0])
            await self._keep_files(request, [file["id"] for file in messages[0].get("files") or [] if file.get("id")])

    async def on_file_shared(self, request: SlackRequest) -> None:
        """A file shared in an incident channel is evidence (not the bot's own uploads: the bundles themselves)."""
        event = request.body["event"]
        own = {grant.get("user_id") for grant in request.body.get("authorizations") or [] if grant.get("is_bot")}
        if event.get("user_id") in own or not event.get("file_id"):
            return
        await self._keep_files(request, [event["file_id"]], quiet_elsewhere=True)

    async def _keep_files(self, request: SlackRequest, file_ids: list[str], quiet_elsewhere: bool = False) -> None:
        if not file_ids:
            return
        incident = await asyncio.to_thread(self.services.incidents.for_channel, request.ctx.channel or "")
        if incident is None:
            if not quiet_elsewhere:
                await self.tell(request.ctx, "This channel is not an incident channel; no file was kept.")
            return
        actor = Actor(user=request.ctx.user, channel=request.ctx.channel, command="file shared in the channel",
                      surface="slack")
        for file_id in file_ids:
            bundle = await asyncio.to_thread(self.services.evidence.add_file, actor, incident.number, file_id)
            (item,) = bundle.items
            await self.tell(request.ctx, f"Kept {item.name} as evidence {bundle.ref} of {incident.id} "
                                         f"(sha256 {item.sha256[:12]}…).")

    async def _add_message(self, request: SlackRequest, message: dict) -> None:
        channel, user, client = request.ctx.channel or "", request.ctx.user, request.client
        incident = await asyncio.to_thread(self.services.incidents.for_channel, channel)
        if incident is None:
            await self.tell(request.ctx, "This channel is not an incident channel; nothing was added.")
            return
        link = await client.chat_getPermalink(channel=channel, message_ts=message["ts"])
        author = message.get("user") or message.get("bot_id") or "unknown"
        text = f"Message from @{author}: {from_slack(message.get('text', ''))}"
        try:
            await asyncio.to_thread(self.services.incidents.add_note, incident.number, user, text[:NOTE_MAX],
                                    {"author": author, "permalink": link.get("permalink"), "ts": message["ts"]})
        except Exception as error:  # noqa: BLE001 — shown where the user is, through the one presenter
            await self.tell(request.ctx, reply_for(error).text)
            return
        await self.tell(request.ctx, f"Added to the timeline of {incident.id}.")
