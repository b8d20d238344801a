"""The neutral reply as plain text, for the console (and summaries in logs)."""
from __future__ import annotations

from bot.views.model import (
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
    Preformatted,
    Reply,
    Strong,
)


def plain(text: Line) -> str:
    out = []
    for span in text:
        if isinstance(span, str):
            out.append(span)
        elif isinstance(span, (Strong, Em)):
            out.append(span.text)
        elif isinstance(span, Code):
            out.append(f"`{span.text}`")
        elif isinstance(span, Mention):
            out.append(f"@{span.id}")
        elif isinstance(span, Link):
            out.append(f"{span.label} ({span.url})")
    return "".join(out)


def to_text(reply: Reply) -> str:
    """The same reply as plain readable text."""
    out: list[str] = []
    for part in reply.parts:
        if isinstance(part, Headline):
            out += [part.text, "=" * min(len(part.text), 72)]
        elif isinstance(part, (Paragraph, Note)):
            out.append(plain(part.text))
        elif isinstance(part, Lines):
            out += [plain(item) for item in part.lines]
        elif isinstance(part, Fields):
            out += [f"{name}: {plain(value)}" for name, value in part.pairs]
        elif isinstance(part, Preformatted):
            out.append(part.text)
        elif isinstance(part, Buttons):
            out.append("[" + "] [".join(button.label for button in part.buttons) + "]")
    if not out:
        out.append(reply.text)
    if reply.file is not None:
        out += ["", f"{reply.file.title}: {reply.file.path}" if reply.file.path else reply.file.content.rstrip("\n")]
    return "\n".join(out)
