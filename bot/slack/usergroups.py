"""Role grants may name Slack user groups (`S…` IDs): who is in them comes from usergroups.users.list.

Membership is cached for a few minutes so a burst of commands costs one call per group. If Slack cannot say
(missing `usergroups:read`, an unknown group, Slack down), the user is treated as not in the group: a
permission check never passes because of an error.
"""
from __future__ import annotations

import logging
import re
import threading
import time

from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError

log = logging.getLogger("opsbot.slack")
GROUP_ID = re.compile(r"^S[A-Z0-9]{2,}$")


def group_directory(client: WebClient, roles: dict[str, dict[str, list[str]]]) -> SlackGroupDirectory | None:
    """A directory of the user groups the catalog grants roles to, or None when it names none."""
    groups = group_ids(roles)
    if not groups:
        return None
    return SlackGroupDirectory(client, groups)


def group_ids(roles: dict[str, dict[str, list[str]]]) -> set[str]:
    return {member for grants in roles.values() for members in grants.values() for member in members
            if GROUP_ID.match(member)}


class SlackGroupDirectory:
    def __init__(self, client: WebClient, groups: set[str], ttl_s: float = 300.0):
        self.client = client
        self.groups = groups
        self.ttl_s = ttl_s
        self._members: dict[str, tuple[float, frozenset[str]]] = {}
        self._lock = threading.Lock()

    def __call__(self, user: str) -> list[str]:
        return [group for group in sorted(self.groups) if user in self._members_of(group)]

    def _members_of(self, group: str) -> frozenset[str]:
        with self._lock:
            cached = self._members.get(group)
            if cached and time.monotonic() - cached[0] < self.ttl_s:
                return cached[1]
        try:
            users = frozenset(self.client.usergroups_users_list(usergroup=group).get("users") or [])
        except SlackApiError as error:
            log.warning("cannot list user group %s: %s", group, error.response.get("error"))
            return frozenset()
        with self._lock:
            self._members[group] = (time.monotonic(), users)
        return users
