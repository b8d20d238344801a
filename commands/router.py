"""One router for Slack, the console, the scheduler's buttons and tests: command text in, a Reply out.

Errors become replies through `error_reply`, the one presenter of a command's errors; an OpsbotError is
logged with its cause, anything else with its traceback and a reference the user can quote.
"""
from __future__ import annotations

import logging
import uuid
from collections.abc import Callable

from bot.core.redact import redact
from bot.errors import BackendError, OpsbotError, UsageError
from bot.views.model import (
    Code,
    Em,
    Fields,
    Headline,
    Line,
    Lines,
    Link,
    Note,
    Paragraph,
    Part,
    Preformatted,
    Reply,
    Span,
    Strong,
    line,
    lines,
    note,
    paragraph,
    reply,
)
from commands import incident, maint, oncall, ops, opsbot, status
from commands.base import CommandSet, Context, Services
from commands.parsing import first_word, normalise

log = logging.getLogger("opsbot.commands")

COMMAND_SETS: tuple[CommandSet, ...] = (incident.COMMAND, ops.COMMAND, maint.COMMAND, status.COMMAND,
                                        oncall.COMMAND, opsbot.COMMAND)
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
            reply = unexpected_error_reply(described(command, text))
        return redacted(reply)

    def handle_line(self, line: str, ctx: Context) -> Reply:
        """A console line: '/incident open …', 'incident open …' or 'help'."""
        word, rest = first_word(normalise(line))
        if word.lower() in ("help", "/help", "?"):
            return overview()
        command = word if word.startswith("/") else f"/{word}"
        return self.handle(command, rest, ctx)


def redacted(answer: Reply) -> Reply:
    """The last check before anything is shown: whatever a command echoes (typed text, output, an error) is
    redacted, whichever surface shows it. The reply's texts are redacted in one pass (joined by a separator no
    text holds); should a match reach across one, each text is redacted on its own instead."""
    texts: list[str] = []

    def collect(text: str) -> str:
        texts.append(text)
        return text

    _map_texts(answer, collect)
    pieces = redact(_SEPARATOR.join(texts)).split(_SEPARATOR)
    if len(pieces) != len(texts) or any(_SEPARATOR in text for text in texts):
        pieces = [redact(text) for text in texts]
    shown = iter(pieces)
    _map_texts(answer, lambda _: next(shown))
    if answer.file is not None:
        answer.file.content = redact(answer.file.content)
    return answer


_SEPARATOR = "\n\x1f\n"  # a line of its own: rules anchored to a line's start or end still see one


def _map_texts(answer: Reply, fix: Callable[[str], str]) -> None:
    def line_of(text: Line) -> Line:
        return tuple(span_of(span) for span in text)

    def span_of(span: Span) -> Span:
        if isinstance(span, str):
            return fix(span)
        if isinstance(span, Link):
            return Link(fix(span.url), fix(span.label))
        if isinstance(span, (Strong, Em, Code)):
            return type(span)(fix(span.text))
        return span  # a mention: an ID

    def part_of(part: Part) -> Part:
        if isinstance(part, Preformatted):
            return Preformatted(fix(part.text))
        if isinstance(part, (Paragraph, Note)):
            return type(part)(line_of(part.text))
        if isinstance(part, Lines):
            return Lines(tuple(line_of(item) for item in part.lines))
        if isinstance(part, Fields):
            return Fields(tuple((name, line_of(value)) for name, value in part.pairs))
        if isinstance(part, Headline):
            return Headline(fix(part.text))
        return part

    answer.summary = line_of(answer.summary)
    answer.parts = [part_of(part) for part in answer.parts]


def described(command: str, text: str) -> str:
    """A command for the log: its sub-command when it is one and how many words followed, never the words (a
    search's text, a note or an impact is the user's to keep out of logs)."""
    declared = COMMANDS.get(command)
    word, rest = first_word(normalise(text))
    if declared is None or word.lower() not in {sub.name for sub in declared.subcommands}:
        return f"{command} ({len(text.split())} words)"
    return f"{command} {word.lower()} ({len(rest.split())} words)"


def overview() -> Reply:
    """The top-level help, built from the same declarations as each command's own help."""
    return reply(
        "opsbot commands", Headline("opsbot"), lines(line(Code(f"{name} help")) for name in COMMANDS),
        *(lines(line(Code(sub.usage)) for sub in command.subcommands) for command in COMMAND_SETS),
        note("Times are shown in UTC with their date. People are identified by Slack user ID."),
    )


def error_reply(error: OpsbotError) -> Reply:
    """How a user sees an OpsbotError (one sentence, and the syntax line when there is one); logged with its cause."""
    if isinstance(error, BackendError):  # something outside failed: keep the cause's traceback for the operator
        log.warning("backend error: %s", error, exc_info=error)
    else:
        log.info("refused: %s", error)
    message = str(error)
    answer = reply(message, paragraph(f"⚠️ {message}"), ok=False)
    if error.usage:
        answer.parts.append(note("Usage: ", Code(error.usage)))
    return answer


def unexpected_error_reply(what: str, error: BaseException | None = None) -> Reply:
    """A bug: the traceback goes to the log under a reference; the user gets the reference, never the traceback."""
    ref = uuid.uuid4().hex[:8]
    log.error("failed (ref %s): %s", ref, what, exc_info=error or True)
    return reply(f"Something went wrong (ref {ref}); nothing was changed. The details are in the log.", ok=False)
