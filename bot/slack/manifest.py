"""`opsbot manifest`: manifest.yml with the request URLs filled in, or its Socket Mode variant."""
from __future__ import annotations

from importlib import resources
from pathlib import Path

import yaml

PLACEHOLDER = "https://opsbot.example.com"


def load_manifest() -> dict:
    source = Path(__file__).resolve().parents[2] / "manifest.yml"
    text = source.read_text() if source.exists() else resources.files("bot").joinpath("manifest.yml").read_text()
    return yaml.safe_load(text)


def render_manifest(url: str | None = None, socket: bool = False) -> str:
    manifest = load_manifest()
    events_url = (url or PLACEHOLDER).rstrip("/") + "/slack/events"
    settings, features = manifest["settings"], manifest["features"]
    for command in features["slash_commands"]:
        if socket:
            command.pop("url", None)
        else:
            command["url"] = events_url
    if socket:
        settings["socket_mode_enabled"] = True
        settings["event_subscriptions"].pop("request_url", None)
        settings["interactivity"].pop("request_url", None)
    else:
        settings["event_subscriptions"]["request_url"] = events_url
        settings["interactivity"]["request_url"] = events_url
    return yaml.safe_dump(manifest, sort_keys=False, allow_unicode=True)


def manifest_commands() -> list[str]:
    return [command["command"] for command in load_manifest()["features"]["slash_commands"]]
