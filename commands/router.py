"""One router for Slack, the console and tests: command text in, Block Kit reply out.

Usage errors become replies; no exception or traceback ever reaches the user.
"""
from __future__ import annotations

import logging
import uuid

from bot.blocks import Reply, context, fit, section
from bot.errors import OpsbotError, UsageError
from commands import help as help_command
from commands import incident, maint, ops
from commands.base import Context, Services
from commands.parsing import first_word, normalise

log = logging.getLogger("opsbot.commands")

COMMANDS = {
    "/incident": incident.handle,
    "/ops": ops.handle,
    "/maint": maint.handle,
}


class Router:
    def __init__(self, services: Services):
        self.services = services

    def handle(self, command: str, text: str, ctx: Context) -> Reply:
        command = command.strip().lower()
        handler = COMMANDS.get(command)
        try:
            if handler is None:
                raise UsageError(f"Unknown command '{command}'. Commands: {', '.join(COMMANDS)}.", "help")
            reply = handler(self.services, ctx, normalise(text))
        except OpsbotError as error:
            return error_reply(error)
        except Exception:
            ref = uuid.uuid4().hex[:8]
            log.exception("command failed (ref %s): %s %s", ref, command, text)
            return Reply(text=f"Something went wrong (ref {ref}); nothing was changed. The details are in the log.",
                         ok=False)
        return fit(reply)

    def handle_line(self, line: str, ctx: Context) -> Reply:
        """A console line: '/incident open …', 'incident open …' or 'help'."""
        word, rest = first_word(normalise(line))
        if word.lower() in ("help", "/help", "?"):
            return help_command.overview(COMMANDS)
        command = word if word.startswith("/") else f"/{word}"
        return self.handle(command, rest, ctx)


def error_reply(error: OpsbotError) -> Reply:
    message = str(error)
    blocks = [section(f"⚠️ {message}")]
    usage = getattr(error, "usage", None)
    if usage:
        blocks.append(context(f"Usage: `{usage}`"))
    return Reply(text=message, blocks=blocks, ok=False)
