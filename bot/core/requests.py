"""Typed requests: what every surface (slash command, button, modal, console, web form, schedule) hands the core.

Surfaces parse their input into these; the core validates each one in full against the catalog, whoever sent it.
"""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from enum import StrEnum

from bot.core.effects import Effect
from bot.core.plans import Plan
from bot.errors import UsageError


class Action(StrEnum):
    """The changing actions: each has a plan (describe) and an execution (run)."""

    RESTART = "restart"
    SCALE = "scale"
    ROLLBACK = "rollback"
    MAINTENANCE = "maintenance"
    STOP = "stop"  # the runbooks' "stop the app to prevent data corruption"
    START = "start"
    RUN = "run"  # a runbook action from the catalog; its name is the target
    SWITCH = "switch"  # blue/green: the Service's selector to the other slot (args: slot, or none for --back)
    DEPLOY = "deploy"  # a version of the service's image (args: version), or its deploy runbook
    CONFIG = "config"  # keys the catalog allows (args: changes {KEY: value or None to unset}, restart)
    SECRET = "secret"  # rotate a catalog secret (target: its name); the value is opsbot's, never shown
    RESOURCES = "resources"  # memory/CPU limits (args: memory, cpu) within the catalog's maxima
    DELETE_POD = "delete-pod"  # Kubernetes: one pod of a catalog service, for its ReplicaSet to replace (target: pod)


SERVICE_ACTIONS = frozenset({Action.RESTART, Action.SCALE, Action.ROLLBACK, Action.STOP, Action.START,
                             Action.SWITCH, Action.DEPLOY, Action.CONFIG, Action.RESOURCES})


def action_of(name: Action | str) -> Action:
    try:
        return Action(name)
    except ValueError as exc:
        raise UsageError(f"Unknown action {name}; use one of {', '.join(Action)}.") from exc


@dataclass(frozen=True)
class Capabilities:
    """What a surface can do, which decides how a rule is carried out there — never the surface's name."""

    # It opens a channel per incident (else the channel a command is typed in becomes the incident's).
    opens_channels: bool = False
    # It shows a plan with a Confirm button to its requester: `--yes` never skips that confirmation.
    confirms_plans: bool = False
    # Many incidents' people type in the same rooms: outside an incident's channel a command must name it.
    shared_rooms: bool = False


SURFACES = {
    "console": Capabilities(),
    "slack": Capabilities(opens_channels=True, confirms_plans=True, shared_rooms=True),
    "scheduler": Capabilities(),
    "web": Capabilities(confirms_plans=True, shared_rooms=True),
}


def capabilities(surface: str) -> Capabilities:
    return SURFACES.get(surface, Capabilities(confirms_plans=True, shared_rooms=True))  # unknown: the careful ones


@dataclass(frozen=True)
class Actor:
    """Who asks, where, and what they typed (for the audit log)."""

    user: str
    channel: str | None
    command: str
    surface: str = "console"  # which surface: its name in logs, its capabilities (SURFACES) in the rules
    incident: int | None = None  # the incident this is done for (its channel, or --incident): lands on its timeline
    progress: Callable[[str], None] | None = field(default=None, compare=False, repr=False)  # a long action's news

    @property
    def can(self) -> Capabilities:
        return capabilities(self.surface)


@dataclass(frozen=True)
class ActionRequest:
    """A changing ops action, as any surface sends it. `args`: replicas (scale), slot (switch), on (maintenance),
    a runbook action's parameters (run)."""

    action: Action | str
    env: str
    target: str | None = None
    args: dict = field(default_factory=dict)
    dry_run: bool = False
    confirmed: bool = False  # `--yes` outside chat: run a protected environment's plan without asking again


@dataclass
class Outcome:
    """What happened to a request: planned (waiting), dry-run, done, or failed."""

    kind: str  # "planned" | "dry_run" | "done" | "awaiting_approval" | "awaiting_confirmation"
    summary: str
    plan: Plan | None = None
    output: str = ""
    effects: list[Effect] = field(default_factory=list)  # a plan waiting for its requester: the surface offers it
