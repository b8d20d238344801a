"""Slack modals: declaring an incident, posting an update, resolving; and reading what was submitted."""
from __future__ import annotations

from bot.config import Catalog
from bot.core.models import Incident
from bot.core.plain_text import printable
from bot.views.blocks import clip, section
from bot.views.incidents import title_line

OPEN_MODAL = "incident_open_modal"
UPDATE_MODAL = "incident_update_modal"
RESOLVE_MODAL = "incident_resolve_modal"


def _text_input(block_id: str, label: str, multiline: bool = False, optional: bool = False,
                max_length: int = 3000) -> dict:
    return {"type": "input", "block_id": block_id, "optional": optional, "label": {"type": "plain_text", "text": label},
            "element": {"type": "plain_text_input", "action_id": "value", "multiline": multiline,
                        "max_length": max_length}}


def _select(block_id: str, label: str, choices: list[tuple[str, str]], optional: bool = True) -> dict:
    """A drop-down of (value, label) choices; Slack shows at most 100."""
    options = [{"text": {"type": "plain_text", "text": clip(text, 75)}, "value": value} for value, text in choices[:100]]
    return {"type": "input", "block_id": block_id, "optional": optional, "label": {"type": "plain_text", "text": label},
            "element": {"type": "static_select", "action_id": "value", "options": options}}


def open_modal(catalog: Catalog, channel: str) -> dict:
    """The form behind a bare `/incident open`: what `/incident open` takes (severity, title, --impact, --service,
    --env, --type, --private); the environment and type fields only when the catalog has some."""
    blocks = [
        _select("severity", "Severity", [(key, f"{key} — {sev.name}") for key, sev in catalog.severities.items()],
                optional=False),
        _text_input("title", "Title", max_length=catalog.limits.title_max),
        _text_input("impact", "User impact", multiline=True, optional=True),
        _text_input("service", "Service", optional=True, max_length=80),
        _text_input("eta", "ETA (30m, 14:30 UTC or an ISO time)", optional=True, max_length=40),
    ]
    if catalog.environments:
        blocks.append(_select("env", "Environment", [(name, name) for name in catalog.environments]))
    if catalog.incident_types:
        blocks.append(_select("type", "Type", [(name, name + (" (private channel)" if kind.private else ""))
                                               for name, kind in catalog.incident_types.items()]))
    blocks.append({"type": "input", "block_id": "private", "optional": True,
                   "label": {"type": "plain_text", "text": "Visibility"},
                   "element": {"type": "checkboxes", "action_id": "value", "options": [
                       {"text": {"type": "plain_text", "text": "Private channel"}, "value": "private",
                        "description": {"type": "plain_text", "text": "Only invited people see it" + (
                            "" if catalog.announce_private_titles else "; announcements leave out the title")}}]}})
    return {
        "type": "modal", "callback_id": OPEN_MODAL, "private_metadata": channel,
        "title": {"type": "plain_text", "text": "Declare an incident"},
        "submit": {"type": "plain_text", "text": "Declare"},
        "blocks": blocks,
    }


def text_modal(callback_id: str, incident: Incident, title: str, label: str, submit: str) -> dict:
    return {
        "type": "modal", "callback_id": callback_id, "private_metadata": str(incident.number),
        "title": {"type": "plain_text", "text": title}, "submit": {"type": "plain_text", "text": submit},
        "blocks": [section(f"*{clip(title_line(incident), 2900)}*"), _text_input("text", label, multiline=True)],
    }


def text_modal_for(callback_id: str, incident: Incident) -> dict:
    """The Update status / Resolve modals behind the summary's buttons."""
    if callback_id == RESOLVE_MODAL:
        return text_modal(RESOLVE_MODAL, incident, "Resolve incident", "What fixed it?", "Resolve")
    return text_modal(UPDATE_MODAL, incident, "Status update", "What should stakeholders know?", "Post update")


def modal_values(view: dict) -> dict[str, str | None]:
    """{block_id: value} from a submitted view's state (checkboxes: their values joined by commas)."""
    values: dict[str, str | None] = {}
    for block_id, actions in view["state"]["values"].items():
        element = actions.get("value", {})
        if "selected_options" in element:
            values[block_id] = ",".join(str(option.get("value")) for option in element["selected_options"] or [])
        elif "selected_option" in element:
            values[block_id] = (element["selected_option"] or {}).get("value")
        else:
            values[block_id] = printable(element.get("value") or "")  # as typed commands are (commands/parsing.py)
    return values
