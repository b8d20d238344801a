"""What the ops core expects of its adapters: platforms (Docker, Kubernetes), checks, runbook scripts."""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import timedelta
from typing import Literal, Protocol

from bot.ops_config import Environment, RunbookAction

Level = Literal["ok", "warn", "crit"]
LEVEL_ORDER = {"ok": 0, "warn": 1, "crit": 2}
ICON = {"ok": "✅", "warn": "⚠️", "crit": "❌"}


@dataclass
class CheckResult:
    name: str
    kind: str
    level: Level
    value: str  # what was measured, e.g. "182 ms"
    threshold: str = ""  # e.g. "warn 500 ms / crit 1000 ms"
    detail: str = ""
    elapsed_ms: float = 0.0


@dataclass
class HealthReport:
    env: str
    results: list[CheckResult]
    elapsed_ms: float
    notes: list[str] = field(default_factory=list)

    @property
    def overall(self) -> Level:
        if not self.results:
            return "ok"
        return max((r.level for r in self.results), key=LEVEL_ORDER.__getitem__)


@dataclass
class ServiceState:
    name: str
    running: int
    desired: int
    image: str = ""
    detail: str = ""


@dataclass
class WorkloadHealth:
    running: int
    desired: int
    problems: list[str] = field(default_factory=list)


class Platform(Protocol):
    """One environment's runtime. Blocking calls; library errors become BackendError at the edge."""

    def status(self) -> list[ServiceState]: ...
    def replicas(self, service: str) -> int: ...
    def logs(self, service: str, since: timedelta | None, tail: int, grep: str | None) -> str: ...
    def restart(self, service: str) -> str: ...
    def scale(self, service: str, replicas: int) -> str: ...
    def rollback_plan(self, service: str) -> str: ...
    def rollback(self, service: str) -> str: ...
    def maintenance_state(self) -> bool | None: ...
    def set_maintenance(self, on: bool) -> str: ...
    def workload_health(self, target: str) -> WorkloadHealth: ...


class Checks(Protocol):
    async def run(self, env_name: str, env: Environment) -> list[CheckResult]: ...


class Scripts(Protocol):
    def run(self, action: RunbookAction, params: dict[str, str]) -> tuple[int, str]: ...
