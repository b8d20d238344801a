"""What every command handler receives."""
from __future__ import annotations

from dataclasses import dataclass

from bot.core.incidents import IncidentService
from bot.core.maintenance import MaintenanceService
from bot.core.ops import OpsService


@dataclass(frozen=True)
class Context:
    """Who is asking, and where. `user` is always a Slack user ID (or a console-given ID)."""

    user: str
    channel: str | None = None
    source: str = "console"


@dataclass
class Services:
    incidents: IncidentService
    ops: OpsService
    maintenance: MaintenanceService
