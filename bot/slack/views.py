"""Slack-only views: the pinned incident summary with buttons, the alert, and the modals."""
from __future__ import annotations

from bot.blocks import button, clip, context, section
from bot.config import Catalog
from bot.core.models import Incident
from commands.views import incident_card, title_line

OPEN_MODAL = "incident_open_modal"
UPDATE_MODAL = "incident_update_modal"
RESOLVE_MODAL = "incident_resolve_modal"


def summary_blocks(incident: Incident, catalog: Catalog) -> list[dict]:
    blocks = incident_card(incident, catalog).blocks
    value = str(incident.number)
    buttons = []
    if incident.status.value in ("declared",):
        buttons.append(button("Acknowledge", "incident_ack", value, "primary"))
    if incident.is_open:
        buttons.append(button("Update status", "incident_update", value))
        buttons.append(button("Resolve", "incident_resolve", value, "danger"))
    if buttons:
        blocks.append({"type": "actions", "block_id": "incident_actions", "elements": buttons})
    blocks.append(context("This summary is kept up to date by opsbot · `/incident help` for commands"))
    return blocks


def topic(incident: Incident) -> str:
    commander = f"<@{incident.commander}>" if incident.commander else "—"
    return clip(f"{incident.severity} · {incident.status.value} · commander {commander} · {incident.title}", 250)


def alert_text(incident: Incident, catalog: Catalog, channel_id: str) -> str:
    """The runbooks' INCIDENT ALERT message."""
    severity = catalog.severities[incident.severity]
    every = int(severity.update_every.total_seconds() // 60)
    return (
        f"*INCIDENT ALERT - {incident.severity} ({severity.name})*\n"
        f"*Service:* {incident.service or catalog.service_name}\n"
        f"*Issue:* {incident.title}\n"
        f"*Impact:* {incident.impact or 'being assessed'}\n"
        f"*Status:* Investigating\n"
        f"*Commander:* <@{incident.commander}>\n"
        f"*Channel:* <#{channel_id}>\n"
        f"*Updates:* every {every} minutes"
    )


def _text_input(block_id: str, label: str, multiline: bool = False, optional: bool = False,
                max_length: int = 3000) -> dict:
    return {"type": "input", "block_id": block_id, "optional": optional, "label": {"type": "plain_text", "text": label},
            "element": {"type": "plain_text_input", "action_id": "value", "multiline": multiline,
                        "max_length": max_length}}


def open_modal(catalog: Catalog, channel: str) -> dict:
    options = [{"text": {"type": "plain_text", "text": f"{key} — {sev.name}"}, "value": key}
               for key, sev in catalog.severities.items()]
    return {
        "type": "modal", "callback_id": OPEN_MODAL, "private_metadata": channel,
        "title": {"type": "plain_text", "text": "Declare an incident"},
        "submit": {"type": "plain_text", "text": "Declare"},
        "blocks": [
            {"type": "input", "block_id": "severity", "label": {"type": "plain_text", "text": "Severity"},
             "element": {"type": "static_select", "action_id": "value", "options": options}},
            _text_input("title", "Title", max_length=catalog.limits.title_max),
            _text_input("impact", "User impact", multiline=True, optional=True),
            _text_input("service", "Service", optional=True, max_length=80),
        ],
    }


def text_modal(callback_id: str, incident: Incident, title: str, label: str, submit: str) -> dict:
    return {
        "type": "modal", "callback_id": callback_id, "private_metadata": str(incident.number),
        "title": {"type": "plain_text", "text": title}, "submit": {"type": "plain_text", "text": submit},
        "blocks": [section(f"*{clip(title_line(incident), 2900)}*"), _text_input("text", label, multiline=True)],
    }


def modal_values(view: dict) -> dict[str, str]:
    """{block_id: value} from a submitted view's state."""
    values = {}
    for block_id, actions in view["state"]["values"].items():
        element = actions.get("value", {})
        selected = element.get("selected_option")
        values[block_id] = (selected or {}).get("value") if "selected_option" in element else (element.get("value") or "")
    return values
