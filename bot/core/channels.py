"""Which incident a channel belongs to, whether it is given by its ID (Slack's `C…`, or the name a console was
started with) or by its name as Slack shows it: `inc-3-payment-api-returns-502`, with or without `#`.

opsbot names every incident channel `inc-<n>[-slug]`, so a name says its incident's number; a name is that
incident's only if the incident has that name, or has no Slack channel name at all (an incident opened at the
console) — a name that points at an incident whose channel is called something else is refused, never guessed.
"""
from __future__ import annotations

import re

from bot.core.models import Incident
from bot.core.ports import Store
from bot.errors import NotFound, UsageError

NAME = re.compile(r"inc-(\d{1,9})(?:-[a-z0-9_-]*)?")


def named_like_incident(channel: str) -> bool:
    """`#anything` or `inc-<n>…`: a name that can only mean an existing incident channel."""
    return channel.startswith("#") or NAME.fullmatch(channel) is not None


def incident_in(store: Store, channel: str) -> Incident | None:
    """The incident bound to `channel` (an ID or a name), None for a channel no incident names (a console may
    open one there). A name that says INC-n of an incident that does not exist, or whose channel is named
    otherwise, is refused with what is true."""
    bound = store.incident_for_channel(channel)
    name = channel.removeprefix("#").strip()
    if bound is None and name != channel:
        bound = store.incident_for_channel(name)
    if bound is not None:
        return bound
    match = NAME.fullmatch(name)
    if match is None:
        return None
    try:
        incident = store.get_incident(int(match[1]))
    except NotFound as exc:
        raise NotFound(f"No incident channel is named #{name}: there is no INC-{match[1]}.") from exc
    if incident.channel_name in (None, name):
        return incident
    raise UsageError(f"#{name} is not INC-{match[1]}'s channel: that is #{incident.channel_name}.")
