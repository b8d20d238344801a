"""Neutral stored text → Slack mrkdwn.

The store keeps plain text in which people are written `@U123` (user-group IDs `@S123`) and the IDs involved
are listed in structured fields. Only views turn them into Slack mentions, and only for the IDs the record
names, so text a user typed can never ping anyone; everything else is escaped (`&`, `<`, `>`).
"""
from __future__ import annotations

import re
from collections.abc import Iterable

_USER = re.compile(r"^[UW][A-Z0-9_]{2,}$")
_GROUP = re.compile(r"^S[A-Z0-9_]{2,}$")
_CHANNEL = re.compile(r"^[CG][A-Z0-9_]{2,}$")


def escape(text: str) -> str:
    """User text echoed into mrkdwn: no injected mentions, links or @channel pings."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def mention(who: str) -> str:
    """A user ID or user-group ID as a Slack mention; anything else (a name) escaped as it is."""
    if _USER.match(who):
        return f"<@{who}>"
    if _GROUP.match(who):
        return f"<!subteam^{who}>"
    return escape(who)


def render(text: str, ids: Iterable[str | None] = ()) -> str:
    """Escape `text`, then turn `@ID` (people, groups) and `#ID` (channels) into mentions, for the IDs in `ids`."""
    text = escape(text)
    for who in {i for i in ids if i}:
        if _USER.match(who) or _GROUP.match(who):
            text = re.sub(rf"@{re.escape(who)}(?![A-Za-z0-9_])", mention(who), text)
        if _CHANNEL.match(who):
            text = re.sub(rf"#{re.escape(who)}(?![A-Za-z0-9_])", f"<#{who}>", text)
    return text


_LEGACY = re.compile(r"<(?:@|!subteam\^)([A-Z0-9_]+)(?:\|[^>]*)?>")


def from_slack(text: str) -> str:
    """Slack's mention markup in typed text (`<@U123|bob>`) back to the neutral `@U123`."""
    return _LEGACY.sub(r"@\1", text)
