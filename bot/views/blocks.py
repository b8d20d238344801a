"""The neutral reply as Slack shows it: Block Kit and mrkdwn, with Slack's limits enforced in one place.

Everybody's text is escaped here, so typed text can never inject a link or an @channel ping; IDs become mentions.
Content too long for a message goes into the reply's file (`fit`), which Slack uploads.
"""
from __future__ import annotations

from bot.views.model import (
    Attachment,
    Buttons,
    Code,
    Em,
    Fields,
    Headline,
    Line,
    Lines,
    Link,
    Mention,
    Note,
    Paragraph,
    Part,
    Preformatted,
    Reply,
    Strong,
)
from bot.views.mrkdwn import escape, mention
from bot.views.text import to_text

MAX_BLOCKS = 50
MAX_SECTION = 3000
MAX_HEADER = 150
MAX_BUTTON = 75
MAX_FIELDS = 10
MAX_FIELD = 2000
MAX_CONTEXT = 2000


def mrkdwn(text: Line) -> str:
    out = []
    for span in text:
        if isinstance(span, str):
            out.append(escape(span))
        elif isinstance(span, Strong):
            out.append(f"*{escape(span.text)}*")
        elif isinstance(span, Em):
            out.append(f"_{escape(span.text)}_")
        elif isinstance(span, Code):
            out.append(f"`{escape(span.text)}`")
        elif isinstance(span, Mention):
            out.append(mention(span.id))
        elif isinstance(span, Link):
            out.append(f"<{escape(span.url).replace('|', '%7C')}|{escape(span.label)}>")
    return "".join(out)


def clip(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def header(text: str) -> dict:
    return {"type": "header", "text": {"type": "plain_text", "text": clip(text, MAX_HEADER), "emoji": True}}


def section(text: str) -> dict:
    return {"type": "section", "text": {"type": "mrkdwn", "text": clip(text, MAX_SECTION)}}


def context(text: str) -> dict:
    return {"type": "context", "elements": [{"type": "mrkdwn", "text": clip(text, MAX_CONTEXT)}]}


def button(label: str, action_id: str, value: str, style: str | None = None) -> dict:
    element = {"type": "button", "text": {"type": "plain_text", "text": clip(label, MAX_BUTTON)},
               "action_id": action_id, "value": value}
    if style:
        element["style"] = style
    return element


def lines_to_sections(lines: list[str]) -> list[dict]:
    """Pack mrkdwn lines into as few sections as fit the per-section limit."""
    blocks, chunk = [], ""
    for text in lines:
        text = clip(text, MAX_SECTION)
        if chunk and len(chunk) + 1 + len(text) > MAX_SECTION:
            blocks.append(section(chunk))
            chunk = ""
        chunk = f"{chunk}\n{text}" if chunk else text
    if chunk:
        blocks.append(section(chunk))
    return blocks


def part_blocks(part: Part) -> list[dict]:
    if isinstance(part, Headline):
        return [header(part.text)]
    if isinstance(part, Paragraph):
        return [section(mrkdwn(part.text))]
    if isinstance(part, Lines):
        return lines_to_sections([mrkdwn(item) for item in part.lines])
    if isinstance(part, Fields):
        return [{"type": "section", "fields": [{"type": "mrkdwn", "text": clip(f"*{escape(name)}*\n{mrkdwn(value)}",
                                                                                 MAX_FIELD)}
                                               for name, value in part.pairs[:MAX_FIELDS]]}]
    if isinstance(part, Note):
        return [context(mrkdwn(part.text))]
    if isinstance(part, Preformatted):
        return [section(f"```{escape(part.text)}```")]
    if isinstance(part, Buttons):
        elements = []
        for item in part.buttons:
            element = button(item.label, item.action, item.value, item.style)
            if item.confirm is not None:
                element["confirm"] = {"title": {"type": "plain_text", "text": "Run this?"},
                                      "text": {"type": "mrkdwn", "text": clip(escape(item.confirm), 300)},
                                      "confirm": {"type": "plain_text", "text": "Run it"},
                                      "deny": {"type": "plain_text", "text": "Cancel"}}
            elements.append(element)
        return [{"type": "actions", **({"block_id": part.id} if part.id else {}), "elements": elements}]
    raise TypeError(f"no Block Kit for {part!r}")


def to_blocks(reply: Reply) -> list[dict]:
    blocks = [block for part in reply.parts for block in part_blocks(part)]
    if len(blocks) > MAX_BLOCKS:
        name = reply.file.filename if reply.file is not None else "the attached file"
        blocks = blocks[: MAX_BLOCKS - 1] + [context(f"Too long for one message: the full text is in {name}.")]
    return blocks


def summary_text(reply: Reply) -> str:
    """The notification and fallback text, as mrkdwn."""
    return mrkdwn(reply.summary)


def fit(reply: Reply, overflow_name: str = "reply.txt") -> Reply:
    """A reply longer than a message's 50 blocks carries its whole text as a file (Slack shows the first 49)."""
    if reply.file is None and sum(len(part_blocks(part)) for part in reply.parts) > MAX_BLOCKS:
        reply.file = Attachment(overflow_name, to_text(reply), reply.text)
    return reply


__all__ = ["MAX_SECTION", "button", "clip", "context", "fit", "header", "mrkdwn", "section", "summary_text",
           "to_blocks", "to_text"]
