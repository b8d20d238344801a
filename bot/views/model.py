"""The neutral reply: what a command answers, with no surface's markup in it.

A reply is a one-line summary (the notification; the fallback text) and parts — a headline, paragraphs, lines,
fields, notes, preformatted text, buttons. Inline text is a tuple of spans: plain strings (anybody's text,
escaped by each renderer for its surface), and `Strong`, `Em`, `Code`, `Mention` and `Link`. Renderers turn a
reply into Block Kit and mrkdwn (blocks.py), plain text (text.py) and, next, HTML.
"""
from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field

from bot.core.effects import Effect


@dataclass(frozen=True)
class Strong:
    text: str


@dataclass(frozen=True)
class Em:
    text: str


@dataclass(frozen=True)
class Code:
    text: str


@dataclass(frozen=True)
class Mention:
    """A person, user group or channel by its Slack ID; anything else (a name) is shown as it is."""

    id: str


@dataclass(frozen=True)
class Link:
    url: str
    label: str


Span = str | Strong | Em | Code | Mention | Link
Line = tuple[Span, ...]
Inline = Span | Line | list | None


def line(*parts: Inline) -> Line:
    """Spans, nested lines and lists flattened into one line; None and "" are left out."""
    out: list[Span] = []
    for part in parts:
        if part is None or part == "":
            continue
        if isinstance(part, (tuple, list)):
            out.extend(line(*part))
        else:
            out.append(part)
    return tuple(out)


def joined(lines: Iterable[Inline], separator: str = ", ") -> Line:
    result: list[Inline] = []
    for index, item in enumerate(lines):
        if index:
            result.append(separator)
        result.append(item)
    return line(*result)


_USER = re.compile(r"^[UW][A-Z0-9_]{2,}$")
_GROUP = re.compile(r"^S[A-Z0-9_]{2,}$")
_CHANNEL = re.compile(r"^[CG][A-Z0-9_]{2,}$")
# An ID as Slack makes them: upper case with at least one digit (tests' IDs: an underscore). `@UTC` is a word.
_TYPED_ID = re.compile(r"(?<![\w@#])([@#])([UWSCG][A-Z0-9_]*[0-9_][A-Z0-9_]*)(?![A-Za-z0-9_])")


def is_person(who: str) -> bool:
    return bool(_USER.match(who) or _GROUP.match(who))


def is_channel(target: str) -> bool:
    return bool(_CHANNEL.match(target))


def who(user: str | None) -> Span:
    """Someone by ID (a mention), or "—" for nobody."""
    return Mention(user) if user else "—"


def neutral(text: str, ids: Iterable[str | None] = ()) -> Line:
    """Stored neutral text as spans: `@ID` and `#ID` become mentions (Slack-shaped IDs, and the ones in `ids`,
    which a record names in its fields); the rest stays text, escaped by each renderer."""
    known = {i for i in ids if i}
    names = "|".join(re.escape(i) for i in sorted(known, key=len, reverse=True))
    pattern = _TYPED_ID if not names else re.compile(
        rf"{_TYPED_ID.pattern}|(?<![\w@#])([@#])({names})(?![A-Za-z0-9_])")
    spans: list[Span] = []
    position = 0
    for match in pattern.finditer(text):
        sign = match.group(1) or match.group(3)
        target = match.group(2) or match.group(4)
        if sign == "#" and not _CHANNEL.match(target) or sign == "@" and not is_person(target):
            continue
        spans += [text[position:match.start()], Mention(target)]
        position = match.end()
    spans.append(text[position:])
    return line(*spans)


# --- parts -------------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Headline:
    text: str  # plain: shown as a title, never parsed as markup


@dataclass(frozen=True)
class Paragraph:
    text: Line


@dataclass(frozen=True)
class Lines:
    """A list of one-line items (a timeline, a list of incidents): packed into as few blocks as fit."""

    lines: tuple[Line, ...]


@dataclass(frozen=True)
class Fields:
    pairs: tuple[tuple[str, Line], ...]


@dataclass(frozen=True)
class Note:
    """Small print: context under a reply."""

    text: Line


@dataclass(frozen=True)
class Preformatted:
    text: str  # output, logs: shown as it is, monospaced


@dataclass(frozen=True)
class Button:
    label: str
    action: str  # what the surface runs when it is pressed (a Slack action_id)
    value: str
    style: str | None = None  # primary | danger
    confirm: str | None = None  # ask "Run this?" with this text first


@dataclass(frozen=True)
class Buttons:
    buttons: tuple[Button, ...]
    id: str | None = None


Part = Headline | Paragraph | Lines | Fields | Note | Preformatted | Buttons


@dataclass
class Attachment:
    filename: str
    content: str
    title: str
    path: str | None = None  # a file on disk to upload as it is (a bundle); `content` is then its description


@dataclass
class Reply:
    summary: Line
    parts: list[Part] = field(default_factory=list)
    ephemeral: bool = True
    file: Attachment | None = None
    ok: bool = True
    effects: list[Effect] = field(default_factory=list)  # what the change set off, for the surface to carry out
    cut: bool = False  # longer than a message holds: the full text is in `file`

    @property
    def text(self) -> str:
        """The summary as plain text (logs, notifications, tests)."""
        from bot.views.text import plain

        return plain(self.summary)

    @property
    def blocks(self) -> list[dict]:
        """The reply as Slack shows it."""
        from bot.views.blocks import to_blocks

        return to_blocks(self)


def reply(summary: Inline, *parts: Part, **options) -> Reply:
    return Reply(line(summary), list(parts), **options)


def paragraph(*parts: Inline) -> Paragraph:
    return Paragraph(line(*parts))


def note(*parts: Inline) -> Note:
    return Note(line(*parts))


def lines(items: Iterable[Inline]) -> Lines:
    return Lines(tuple(line(item) for item in items))


def fields(pairs: Iterable[tuple[str, Inline]]) -> Fields:
    return Fields(tuple((name, line(value)) for name, value in pairs))
