"""The Slack app manifest, built from the router's command list (so it cannot drift from what opsbot answers).

`manifest.yml` at the top of the repository is its rendering with a placeholder URL (a test keeps the two
equal); `opsbot manifest --url https://ops.example.com` fills in the request URLs, `--socket` leaves them out.
"""
from __future__ import annotations

import yaml

from commands.router import COMMAND_SETS

PLACEHOLDER = "https://opsbot.example.com"
HEADER = """\
# Slack app manifest for opsbot. `opsbot manifest --url https://ops.example.com` prints it with the request
# URLs filled in; `opsbot manifest --socket` prints the Socket Mode variant (no request URLs).
# Generated from the command declarations (bot/slack/manifest.py); tests/test_architecture.py keeps it current.
"""
SCOPES = ["commands", "chat:write", "chat:write.public", "channels:manage", "channels:join", "channels:read",
          "channels:history", "channels:write.invites", "channels:write.topic", "pins:write", "files:write",
          "files:read", "reactions:read", "users:read", "usergroups:read", "usergroups:write",
          # private incident channels (--private, or a type or severity that defaults to it)
          "groups:write", "groups:write.invites", "groups:write.topic", "groups:read", "groups:history"]


def manifest(url: str | None = None, socket: bool = False) -> dict:
    events_url = (url or PLACEHOLDER).rstrip("/") + "/slack/events"
    request_url = {} if socket else {"request_url": events_url}
    return {
        "display_information": {"name": "opsbot", "description": "Incidents, timelines and post-mortems for on-call teams",
                                "background_color": "#1d1f21"},
        "features": {
            "bot_user": {"display_name": "opsbot", "always_online": True},
            "slash_commands": [{"command": command.name, **({} if socket else {"url": events_url}),
                                "description": command.description, "usage_hint": command.hint, "should_escape": True}
                               for command in COMMAND_SETS],
            "shortcuts": [{"name": "Add to incident timeline", "type": "message", "callback_id": "add_to_timeline",
                           "description": "Add this message to the timeline of the channel's incident"}],
        },
        "oauth_config": {"scopes": {"bot": list(SCOPES)}},
        "settings": {
            "event_subscriptions": {**request_url, "bot_events": ["reaction_added", "file_shared"]},
            "interactivity": {"is_enabled": True, **request_url},
            "org_deploy_enabled": False,
            "socket_mode_enabled": socket,
            "token_rotation_enabled": False,
        },
    }


def render_manifest(url: str | None = None, socket: bool = False) -> str:
    return HEADER + yaml.safe_dump(manifest(url, socket), sort_keys=False, allow_unicode=True, width=120)


def manifest_commands() -> list[str]:
    return [command["command"] for command in manifest()["features"]["slash_commands"]]
