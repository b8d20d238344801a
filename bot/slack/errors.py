"""The one way an error reaches a Slack user: an ephemeral message, logged once with its cause.

An OpsbotError is shown as its sentence (and usage line); anything else is a bug, shown as a reference to the
log entry holding its traceback. Listeners never build error messages themselves.
"""
from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from typing import Any

from bot.errors import OpsbotError
from bot.views.blocks import summary_text
from commands.router import error_reply, unexpected_error_reply

log = logging.getLogger("opsbot.slack")
Respond = Callable[..., Awaitable[None]]


def reply_for(error: Exception, what: str = "a Slack request"):
    """The reply for an error (the logging happens here, once)."""
    if isinstance(error, OpsbotError):
        return error_reply(error)
    return unexpected_error_reply(what, error)


async def present(error: Exception, respond: Respond | None, what: str = "a Slack request") -> None:
    reply = reply_for(error, what)
    if respond is None:
        return
    try:
        await respond(text=summary_text(reply), blocks=reply.blocks, response_type="ephemeral", replace_original=False)
    except Exception:
        log.warning("could not show an error to the user", exc_info=True)


async def on_unhandled(error: Exception, body: dict, respond: Any = None) -> None:
    """Bolt's `app.error`: an error Bolt caught outside our pipeline (e.g. a modal submission)."""
    await present(error, respond, f"{body.get('type', 'request')}")
