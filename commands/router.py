"""One router for Slack, the console, the scheduler's buttons and tests: command text in, a Reply out.

Errors become replies through `error_reply`, the one presenter of a command's errors; an OpsbotError is
logged with its cause, anything else with its traceback and a reference the user can quote.
"""
from __future__ import annotations

import logging
import uuid

from bot.core.redact import redact
from bot.errors import BackendError, OpsbotError, UsageError
from bot.views.blocks import Reply, context, fit, header, section
from bot.views.mrkdwn import escape
from commands import incident, maint, ops
from commands.base import CommandSet, Context, Services
from commands.parsing import first_word, normalise

log = logging.getLogger("opsbot.commands")

COMMAND_SETS: tuple[CommandSet, ...] = (incident.COMMAND, ops.COMMAND, maint.COMMAND)
COMMANDS = {command.name: command for command in COMMAND_SETS}


class Router:
    def __init__(self, services: Services):
        self.services = services

    def handle(self, command: str, text: str, ctx: Context) -> Reply:
        command = command.strip().lower()
        try:
            if command not in COMMANDS:
                raise UsageError(f"Unknown command '{command}'. Commands: {', '.join(COMMANDS)}.", "help")
            reply = COMMANDS[command].handle(self.services, ctx, normalise(text))
        except OpsbotError as error:
            reply = error_reply(error)
        except Exception:  # noqa: BLE001 — a bug still gets a reply (with a log reference), never a traceback
            reply = unexpected_error_reply(f"{command} {text}")
        return redacted(fit(reply))

    def handle_line(self, line: str, ctx: Context) -> Reply:
        """A console line: '/incident open …', 'incident open …' or 'help'."""
        word, rest = first_word(normalise(line))
        if word.lower() in ("help", "/help", "?"):
            return overview()
        command = word if word.startswith("/") else f"/{word}"
        return self.handle(command, rest, ctx)


def redacted(reply: Reply) -> Reply:
    """The last check before anything is shown: whatever a command echoes (typed text, output, an error) is
    redacted, whichever surface shows it."""
    reply.text = redact(reply.text)
    reply.blocks = [_redact_block(block) for block in reply.blocks]
    if reply.file is not None:
        reply.file.content = redact(reply.file.content)
    return reply


def _redact_block(node):
    if isinstance(node, dict):
        return {key: redact(value) if key == "text" and isinstance(value, str) else _redact_block(value)
                for key, value in node.items()}
    if isinstance(node, list):
        return [_redact_block(value) for value in node]
    return node


def overview() -> Reply:
    """The top-level help, built from the same declarations as each command's own help."""
    return Reply(
        text="opsbot commands",
        blocks=[
            header("opsbot"),
            section("\n".join(f"`{name} help`" for name in COMMANDS)),
            *(section("\n".join(f"`{sub.usage}`" for sub in command.subcommands)) for command in COMMAND_SETS),
            context("Times are shown in UTC with their date. People are identified by Slack user ID."),
        ],
    )


def error_reply(error: OpsbotError) -> Reply:
    """How a user sees an OpsbotError (one sentence, and the syntax line when there is one); logged with its cause."""
    if isinstance(error, BackendError):  # something outside failed: keep the cause's traceback for the operator
        log.warning("backend error: %s", error, exc_info=error)
    else:
        log.info("refused: %s", error)
    message = str(error)
    blocks = [section(f"⚠️ {escape(message)}")]
    if error.usage:
        blocks.append(context(f"Usage: `{error.usage}`"))
    return Reply(text=message, blocks=blocks, ok=False)


def unexpected_error_reply(what: str, error: BaseException | None = None) -> Reply:
    """A bug: the traceback goes to the log under a reference; the user gets the reference, never the traceback."""
    ref = uuid.uuid4().hex[:8]
    log.error("failed (ref %s): %s", ref, what, exc_info=error or True)
    return Reply(text=f"Something went wrong (ref {ref}); nothing was changed. The details are in the log.", ok=False)
