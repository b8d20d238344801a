"""Neutral text ↔ Slack mrkdwn.

The store keeps plain text: people written `@U123` (user groups `@S123`), channels `#C123`, links as their URL,
`&`, `<` and `>` as themselves. `from_slack` turns what Slack sends into that; `render` turns it back into
mrkdwn for Slack: everything escaped, so typed text can never inject a link or an @channel ping, then Slack IDs
made into mentions again.
"""
from __future__ import annotations

import re
from collections.abc import Iterable

from bot.views.model import Mention, is_channel, is_person, neutral

_INCIDENT_ID = re.compile(r"\b(INC-\d+)\b")


def escape(text: str) -> str:
    """User text echoed into mrkdwn: no injected mentions, links or @channel pings."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def mention(who: str) -> str:
    """A user, user-group or channel ID as a Slack mention; anything else (a name) escaped as it is."""
    if is_channel(who):
        return f"<#{who}>"
    if who[:1] == "S" and is_person(who):
        return f"<!subteam^{who}>"
    if is_person(who):
        return f"<@{who}>"
    return escape(who)


def render(text: str, ids: Iterable[str | None] = ()) -> str:
    """Neutral text as mrkdwn: escaped, then `@ID` and `#ID` made mentions (Slack-shaped IDs, and the ones in
    `ids`, which a record names in its fields)."""
    return "".join(mention(span.id) if isinstance(span, Mention) else escape(str(span)) for span in neutral(text, ids))


def bold_incident_ids(text: str) -> str:
    """INC-n in bold so it stands out in a busy channel, except inside `code` (a command to copy)."""
    parts = text.split("`")
    return "`".join(_INCIDENT_ID.sub(r"*\1*", part) if index % 2 == 0 else part for index, part in enumerate(parts))


def clipped(text: str, limit: int) -> str:
    """Escaped text within `limit` characters, cut before escaping so no entity is split."""
    shown = escape(text)
    if len(shown) <= limit:
        return shown
    pieces, length = [], 0
    for char in text:
        piece = escape(char)
        if length + len(piece) > limit - 1:
            break
        pieces.append(piece)
        length += len(piece)
    return "".join(pieces) + "…"


_INBOUND = re.compile(r"<([@#!][^<>|]*|[a-zA-Z][a-zA-Z0-9+.-]*:[^<>|\s]*)(?:\|([^<>]*))?>")


def from_slack(text: str) -> str:
    """What Slack sends (mentions `<@U123|bob>`, channels `<#C123|general>`, links `<https://x|label>`, special
    mentions `<!here>`, and `&amp; &lt; &gt;`) as neutral text."""
    def one(match: re.Match) -> str:
        target, label = match.group(1), match.group(2)
        if target.startswith("@"):
            return target
        if target.startswith("#"):
            return target
        if target.startswith("!subteam^"):
            return "@" + target.removeprefix("!subteam^")
        if target.startswith("!"):
            return "@" + target[1:].split("^")[0]  # <!here> → @here: plain text, it pings nobody when shown
        return f"{label} ({target})" if label and label != target else target

    text = _INBOUND.sub(one, text)
    return text.replace("&lt;", "<").replace("&gt;", ">").replace("&amp;", "&")
