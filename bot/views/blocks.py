"""Replies as Block Kit, with Slack's limits enforced in one place, and their plain-text form.

Slack renders the blocks; the console prints `to_text(reply)`. Content too long for a message
goes into `Reply.file`, which Slack uploads and the console prints in full.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field

from bot.core.effects import Effect

MAX_BLOCKS = 50
MAX_SECTION = 3000
MAX_HEADER = 150
MAX_BUTTON = 75
MAX_FIELDS = 10
MAX_FIELD = 2000
MAX_CONTEXT = 2000


@dataclass
class Attachment:
    filename: str
    content: str
    title: str
    path: str | None = None  # a file on disk to upload as it is (a bundle); `content` is then its description


@dataclass
class Reply:
    text: str  # notification / fallback text
    blocks: list[dict] = field(default_factory=list)
    ephemeral: bool = True
    file: Attachment | None = None
    ok: bool = True
    effects: list[Effect] = field(default_factory=list)  # what the command changed, for the surface to carry out


def clip(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def header(text: str) -> dict:
    return {"type": "header", "text": {"type": "plain_text", "text": clip(text, MAX_HEADER), "emoji": True}}


def section(text: str) -> dict:
    return {"type": "section", "text": {"type": "mrkdwn", "text": clip(text, MAX_SECTION)}}


def fields(pairs: list[tuple[str, str]]) -> dict:
    return {
        "type": "section",
        "fields": [{"type": "mrkdwn", "text": clip(f"*{name}*\n{value}", MAX_FIELD)}
                   for name, value in pairs[:MAX_FIELDS]],
    }


def context(text: str) -> dict:
    return {"type": "context", "elements": [{"type": "mrkdwn", "text": clip(text, MAX_CONTEXT)}]}


def divider() -> dict:
    return {"type": "divider"}


def button(label: str, action_id: str, value: str, style: str | None = None) -> dict:
    element = {"type": "button", "text": {"type": "plain_text", "text": clip(label, MAX_BUTTON)},
               "action_id": action_id, "value": value}
    if style:
        element["style"] = style
    return element


def lines_to_sections(lines: list[str]) -> list[dict]:
    """Pack lines into as few sections as fit the per-section limit."""
    blocks, chunk = [], ""
    for line in lines:
        line = clip(line, MAX_SECTION)
        if chunk and len(chunk) + 1 + len(line) > MAX_SECTION:
            blocks.append(section(chunk))
            chunk = ""
        chunk = f"{chunk}\n{line}" if chunk else line
    if chunk:
        blocks.append(section(chunk))
    return blocks


def fit(reply: Reply, overflow_name: str = "reply.txt") -> Reply:
    """Keep a reply within 50 blocks; what does not fit moves into a file."""
    if len(reply.blocks) <= MAX_BLOCKS:
        return reply
    kept = reply.blocks[: MAX_BLOCKS - 1]
    if reply.file is None:
        reply.file = Attachment(overflow_name, to_text(Reply(text=reply.text, blocks=reply.blocks)),
                                reply.text)
    kept.append(context(f"Too long for one message: the full text is in {reply.file.filename}."))
    reply.blocks = kept
    return reply


_MENTION = re.compile(r"<@([A-Z0-9_]+)(?:\|[^>]*)?>")
_LINK = re.compile(r"<(https?://[^|>]+)\|([^>]+)>")
_BOLD = re.compile(r"(?<![\w*])\*([^*\n]+)\*(?![\w*])")


def mrkdwn_to_text(text: str) -> str:
    text = _MENTION.sub(r"@\1", text)
    text = _LINK.sub(r"\2 (\1)", text)
    text = _BOLD.sub(r"\1", text)
    return text.replace("&lt;", "<").replace("&gt;", ">").replace("&amp;", "&")


def to_text(reply: Reply) -> str:
    """The same reply as plain readable text, for the console."""
    out: list[str] = []
    for block in reply.blocks:
        kind = block["type"]
        if kind == "header":
            title = block["text"]["text"]
            out += [title, "=" * min(len(title), 72)]
        elif kind == "section":
            if "text" in block:
                out.append(mrkdwn_to_text(block["text"]["text"]))
            for item in block.get("fields", []):
                name, _, value = item["text"].partition("\n")
                out.append(f"{mrkdwn_to_text(name)}: {mrkdwn_to_text(value)}")
        elif kind == "context":
            out += [mrkdwn_to_text(element.get("text", "")) for element in block["elements"]]
        elif kind == "divider":
            out.append("-" * 40)
        elif kind == "actions":
            labels = [element["text"]["text"] for element in block["elements"]]
            out.append("[" + "] [".join(labels) + "]")
    if not out:
        out.append(mrkdwn_to_text(reply.text))
    if reply.file is not None:
        out += ["", f"{reply.file.title}: {reply.file.path}" if reply.file.path else reply.file.content.rstrip("\n")]
    return "\n".join(out)
