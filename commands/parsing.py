"""Turning the text after a slash command into typed pieces.

Free text (titles, notes) is taken raw so apostrophes need no quoting; only option values and
quoted action-item texts have their surrounding quotes removed.
"""
from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

from bot.core.plain_text import printable
from bot.errors import BackendError, NotFound, OpsbotError, UsageError
from bot.views.mrkdwn import from_slack

_INCIDENT_ID = re.compile(r"^(?:inc-)?#?([0-9]+)$", re.IGNORECASE)
_STRICT_ID = re.compile(r"^inc-([0-9]+)$", re.IGNORECASE)
MAX_ID = 10**12  # any id beyond is a typo, not an incident
_USER = re.compile(r"^<?@([UW][A-Z0-9_]+)(?:\|[^>]*)?>?$")
OPTION = re.compile(r"(?:^|\s)--([a-z][a-z-]*)(?=\s|$)")


def normalise(text: str) -> str:
    """Undo Slack's typography (— back to --, curly quotes back to straight ones) and its mention markup
    (`<@U123|bob>` back to the neutral `@U123` the store keeps); drop control characters (bot/core/plain_text.py)."""
    text = printable(from_slack(text))
    text = text.replace("\u2014", "--").replace("\u2013", "--")
    for curly, straight in (("\u201c", '"'), ("\u201d", '"'), ("\u2018", "'"), ("\u2019", "'")):
        text = text.replace(curly, straight)
    return text.strip()


def unquote(text: str) -> str:
    text = text.strip()
    if len(text) >= 2 and text[0] == text[-1] and text[0] in "\"'":
        return text[1:-1].strip()
    return text


@dataclass
class Parsed:
    positional: str
    options: dict[str, str | bool]


def split_options(text: str, allowed: dict[str, bool], usage: str) -> Parsed:
    """Split 'words --flag --key value …'. `allowed` maps option name -> takes a value."""
    matches = list(OPTION.finditer(text))
    positional = text[: matches[0].start()] if matches else text
    options: dict[str, str | bool] = {}
    for index, match in enumerate(matches):
        name = match.group(1)
        if name not in allowed:
            known = ", ".join(f"--{option}" for option in allowed) or "none"
            raise UsageError(f"Unknown option --{name} (options here: {known}).", usage)
        end = matches[index + 1].start() if index + 1 < len(matches) else len(text)
        value = unquote(text[match.end():end])
        if allowed[name]:
            if not value:
                raise UsageError(f"--{name} needs a value.", usage)
            options[name] = value
        else:
            if value:
                raise UsageError(f"--{name} takes no value.", usage)
            options[name] = True
    return Parsed(positional.strip(), options)


def first_word(text: str) -> tuple[str, str]:
    parts = text.strip().split(None, 1)
    if not parts:
        return "", ""
    return parts[0], parts[1] if len(parts) > 1 else ""


@contextmanager
def usage_on_error(line: str) -> Iterator[None]:
    """Errors raised inside are shown with this syntax line, unless they already carry one — or something outside
    failed (BackendError: the command was fine, its syntax would only distract)."""
    try:
        yield
    except OpsbotError as error:
        if not isinstance(error, BackendError):
            error.usage = error.usage or line
        raise


def take_incident_id(text: str) -> tuple[int | None, str]:
    """A leading INC-<n> (any case) is the target; the rest is returned."""
    word, rest = first_word(text)
    match = _STRICT_ID.match(word)
    if match:
        number = int(match.group(1))
        if not 0 < number < MAX_ID:
            raise NotFound(f"There is no incident {word.upper()}.")
        return number, rest
    return None, text.strip()


def parse_incident_id(word: str) -> int | None:
    match = _INCIDENT_ID.match(word.strip())
    return int(match.group(1)) if match and 0 < int(match.group(1)) < MAX_ID else None


def whole_number(word: str) -> int | None:
    """A whole number written with ASCII digits (not `٣`, not `+3`, not 40 digits long), else None."""
    word = word.strip()
    return int(word) if word.isascii() and word.isdigit() and len(word) <= 12 else None


def parse_user(word: str, usage: str) -> str:
    """Slack user ID from <@U123|name>, <@U123> or @U123. Display names are refused."""
    match = _USER.match(word.strip())
    if not match:
        raise UsageError(
            f"'{word}' is not a Slack user; mention them (@name in Slack) or give their ID like @U012ABCDEF.",
            usage,
        )
    return match.group(1)


def is_user(word: str) -> bool:
    return bool(_USER.match(word.strip()))
