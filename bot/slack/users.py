"""People's own time zones, from their Slack profile (users.info `tz`), so times can be shown on their clock.

Cached for an hour per user: a burst of commands costs one call per person. When Slack cannot say (no
`users:read`, an unknown user, Slack down), the zone is unknown and times show in UTC and the schedule's zone.
"""
from __future__ import annotations

import logging
import time

from slack_sdk.web.async_client import AsyncWebClient

log = logging.getLogger("opsbot.slack")
TTL = 3600.0


class UserZones:
    def __init__(self) -> None:
        self._known: dict[str, tuple[float, str | None]] = {}

    async def zone(self, client: AsyncWebClient, user: str) -> str | None:
        cached = self._known.get(user)
        if cached is not None and time.monotonic() - cached[0] < TTL:
            return cached[1]
        try:
            found = (await client.users_info(user=user)).get("user") or {}
            zone = found.get("tz") if isinstance(found.get("tz"), str) else None
        except Exception as error:  # noqa: BLE001 — a zone is a nicety: the reply goes out without it
            log.info("users.info for %s failed (%r): times in UTC and the schedule's zone", user, error)
            return None
        self._known[user] = (time.monotonic(), zone)
        return zone
