"""The neutral reply as HTML, for the web view: every text escaped, people shown by ID, no script, no style."""
from __future__ import annotations

from html import escape

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
    Part,
    Preformatted,
    Reply,
    Strong,
)

_SAFE_SCHEMES = ("https://", "http://")


def inline(text: Line) -> str:
    out = []
    for span in text:
        if isinstance(span, str):
            out.append(escape(span))
        elif isinstance(span, Strong):
            out.append(f"<strong>{escape(span.text)}</strong>")
        elif isinstance(span, Em):
            out.append(f"<em>{escape(span.text)}</em>")
        elif isinstance(span, Code):
            out.append(f"<code>{escape(span.text)}</code>")
        elif isinstance(span, Mention):
            out.append(f'<span class="mention">@{escape(span.id)}</span>')
        elif isinstance(span, Link):
            # Only web links become links: a `javascript:` URL is shown as text.
            if span.url.startswith(_SAFE_SCHEMES):
                out.append(f'<a href="{escape(span.url)}" rel="noopener noreferrer">{escape(span.label)}</a>')
            else:
                out.append(f"{escape(span.label)} ({escape(span.url)})")
    return "".join(out)


def part_html(part: Part) -> str:
    if isinstance(part, Headline):
        return f"<h2>{escape(part.text)}</h2>"
    if isinstance(part, Paragraph):
        return f"<p>{inline(part.text)}</p>".replace("\n", "<br>")
    if isinstance(part, Lines):
        return "<ul>" + "".join(f"<li>{inline(item)}</li>" for item in part.lines) + "</ul>"
    if isinstance(part, Fields):
        return "<dl>" + "".join(f"<dt>{escape(name)}</dt><dd>{inline(value)}</dd>" for name, value in part.pairs) + \
            "</dl>"
    if isinstance(part, Note):
        return f'<p class="note">{inline(part.text)}</p>'
    if isinstance(part, Preformatted):
        return f"<pre>{escape(part.text)}</pre>"
    if isinstance(part, Buttons):
        return ""  # actions are chat buttons; the web view is read-only
    raise TypeError(f"no HTML for {part!r}")


def to_html(reply: Reply) -> str:
    return "\n".join(html for html in (part_html(part) for part in reply.parts) if html) or \
        f"<p>{inline(reply.summary)}</p>"
