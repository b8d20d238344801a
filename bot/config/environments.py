"""The ops part of opsbot.yml: environments, their platform, services, checks, runbook actions, roles.

Each platform kind's and check kind's settings live beside its code (bot/platforms/settings.py,
bot/checks/settings.py); an environment takes them as discriminated unions (`kind` picks the model).
Secrets never live here: checks name the environment variable that holds a DSN or URL (`*_env`).
"""
from __future__ import annotations

import string
from enum import IntEnum
from typing import Literal

from pydantic import Field, ValidationInfo, field_validator, model_validator

from bot.checks.settings import AnyCheck, HostCheck, Pm2Check
from bot.config.fields import Strict, dropped, problems
from bot.platforms.settings import AnyPlatform, KubernetesSettings, SshSettings, ssh_address  # noqa: F401


class Role(IntEnum):
    NONE = 0
    VIEWER = 1
    RESPONDER = 2
    OPERATOR = 3
    ADMIN = 4

    @classmethod
    def parse(cls, text: str) -> Role:
        try:
            return cls[text.upper()]
        except KeyError as exc:
            raise ValueError(f"'{text}' is not a role; use viewer, responder, operator or admin") from exc


# The minimum role each action needs, unless an environment overrides it.
DEFAULT_MIN_ROLES = {
    "health": Role.VIEWER, "status": Role.VIEWER, "logs": Role.VIEWER, "audit": Role.VIEWER,
    "restart": Role.OPERATOR, "scale": Role.OPERATOR, "maintenance": Role.OPERATOR,
    "rollback": Role.OPERATOR, "stop": Role.OPERATOR, "start": Role.OPERATOR, "run": Role.OPERATOR,
    "switch": Role.OPERATOR,
    "evidence": Role.RESPONDER,
}
# What evidence collection gathers, by default all of it (the runbooks' "preserve evidence" list).
CollectorName = Literal["logs", "status", "health", "db", "cache", "audit", "timeline"]
COLLECTORS: tuple[CollectorName, ...] = ("logs", "status", "health", "db", "cache", "audit", "timeline")


class Slot(Strict):
    deployment: str  # the Deployment that runs this slot's pods


class Slots(Strict):
    """Blue/green on Kubernetes: two Deployments behind one Service; the Service's selector[selector_key] names
    the live slot ("blue" or "green"), and `/ops switch` patches it."""

    blue: Slot
    green: Slot
    selector_key: str = "slot"
    service: str  # the Kubernetes Service whose selector picks the slot

    def names(self) -> list[str]:
        return ["blue", "green"]

    def deployment(self, slot: str) -> str:
        return self.blue.deployment if slot == "blue" else self.green.deployment


class Service(Strict):
    docker_service: str | None = None
    deployment: str | None = None
    selector: str | None = None
    max_replicas: int = Field(20, ge=0)
    # ssh: who runs the service on the hosts; pm2 `process` and systemd `unit` default to the service's name
    manager: Literal["pm2", "systemd"] | None = None
    process: str | None = None  # pm2: the process name (as in `pm2 jlist`)
    reload: bool = False  # pm2: restart with `pm2 reload` (zero-downtime in cluster mode)
    unit: str | None = None  # systemd: the unit
    sudo: bool = False  # systemd: run systemctl/journalctl through `sudo -n`
    hosts: list[str] | None = None  # ssh: only these of the platform's hosts (default: all)
    slots: Slots | None = None  # kubernetes: blue/green Deployments behind one Service (see Slots)


class Maintenance(Strict):
    configmap: str | None = None  # kubernetes: the ConfigMap holding the flag
    key: str = "MAINTENANCE_MODE"
    restart: list[str] = Field(default_factory=list)  # services to restart after flipping the flag


class Param(Strict):
    type: Literal["str", "int", "bool", "choice", "path"] = "str"
    choices: list[str] = Field(default_factory=list)
    required: bool = False
    default: str | int | bool | None = None
    flag: bool = False  # the value may start with "-" (it is meant as an option of the command)
    absolute: bool = False  # a path may be absolute (never "..": a path stays below where the action works)
    min: int = 0  # an int's range: negative numbers only where the catalog allows them
    max: int | None = None

    @model_validator(mode="after")
    def _range(self) -> Param:
        if self.max is not None and self.max < self.min:
            raise ValueError(f"max ({self.max}) is below min ({self.min})")
        return self


class RunbookAction(Strict):
    argv: list[str] = Field(min_length=1)
    timeout_s: float = Field(300, gt=0)
    params: dict[str, Param] = Field(default_factory=dict)
    min_role: str | None = None  # default: viewer for a read-only action, operator for any other
    cwd: str | None = None
    # A diagnostic (pg_stat_activity, pm2 status): runs at once, without a plan or confirmation, still audited.
    read_only: bool = False
    scheduled: bool = False  # a recurring reminder may run it (read-only actions may always be scheduled)

    @field_validator("min_role")
    @classmethod
    def _role(cls, value: str | None) -> str | None:
        if value is not None:
            Role.parse(value)
        return value

    @model_validator(mode="after")
    def _placeholders_are_params(self) -> RunbookAction:
        """Every `{name}` in argv is a declared parameter (an undeclared one could never be filled);
        `{{` and `}}` are literal braces."""
        found = []
        for item in self.argv:
            try:
                names = [name for _, name, _, _ in string.Formatter().parse(item) if name is not None]
            except ValueError as exc:
                found.append(f"argv item '{item}': {exc} (write {{{{ and }}}} for literal braces)")
                continue
            for name in names:
                if name not in self.params:
                    found.append(f"argv item '{item}': {{{name}}} is not a declared parameter; params: "
                                 f"{', '.join(self.params) or 'none'} (write {{{{ and }}}} for literal braces)")
        problems(found)
        return self

    @property
    def role(self) -> Role:
        return Role.parse(self.min_role or ("viewer" if self.read_only else "operator"))


class EvidenceLimits(Strict):
    max_item_bytes: int = Field(default=100_000_000, gt=0)  # an item past this is cut, and says so
    max_bundle_bytes: int = Field(default=1_000_000_000, gt=0)  # so is every item written after the bundle is full
    time_budget_s: float = Field(default=120.0, gt=0)  # collectors still running then are failed (or cut) items
    concurrency: int = Field(default=4, gt=0, le=32)  # collectors run at once


class Evidence(EvidenceLimits):
    collectors: list[CollectorName] = Field(default_factory=lambda: list(COLLECTORS))
    services: list[str] = Field(default_factory=list)  # whose logs to take (the app, the proxy …); empty: every one
    runbook: list[str] = Field(default_factory=list)  # runbook actions run as collectors (no parameters, no shell)


class Environment(Strict):
    protected: bool = False
    approvals: int = Field(0, ge=0, le=5)  # how many authorised people besides the requester must approve
    platform: AnyPlatform | None = None
    services: dict[str, Service] = Field(default_factory=dict)
    maintenance: Maintenance | None = None
    checks: list[AnyCheck] = Field(default_factory=list)
    runbook: dict[str, RunbookAction] = Field(default_factory=dict)
    min_roles: dict[str, str] = Field(default_factory=dict)  # action -> role, overriding the defaults
    evidence: Evidence = Field(default_factory=lambda: Evidence())

    @field_validator("min_roles")
    @classmethod
    def _roles(cls, value: dict[str, str]) -> dict[str, str]:
        for action, role in value.items():
            if action not in DEFAULT_MIN_ROLES:
                raise ValueError(f"'{action}' is not an action; use one of {', '.join(DEFAULT_MIN_ROLES)}")
            Role.parse(role)
        return value

    @model_validator(mode="after")
    def _cross_references(self, info: ValidationInfo) -> Environment:
        """What the environment's parts name must exist here; every problem at once (none about a name set aside
        for a problem of its own)."""
        found = []
        unknown = [name for name in self.evidence.runbook if name not in self.runbook
                   and not dropped(info, "…", "runbook", name)]
        if unknown:
            found.append(f"evidence.runbook names unknown runbook actions: {', '.join(unknown)}")
        strangers = [name for name in self.evidence.services if name not in self.services
                     and not dropped(info, "…", "services", name)]
        if strangers:
            found.append(f"evidence.services names unknown services: {', '.join(strangers)} "
                         f"(services: {', '.join(self.services) or 'none'})")
        restart = [name for name in (self.maintenance.restart if self.maintenance else []) if name not in self.services
                   and not dropped(info, "…", "services", name)]
        if restart:
            found.append(f"maintenance.restart names unknown services: {', '.join(restart)} "
                         f"(services: {', '.join(self.services) or 'none'})")
        names = [check.name for check in self.checks]
        duplicates = sorted({name for name in names if names.count(name) > 1})
        if duplicates:
            found.append(f"check names must be unique; repeated: {', '.join(duplicates)}")
        found.extend(self._ssh_services_and_checks())
        problems(found)
        return self

    def _ssh_services_and_checks(self) -> list[str]:
        """Managers on ssh platforms only, and every host named is one of the platform's (listed if not)."""
        ssh = isinstance(self.platform, SshSettings)
        hosts = self.platform.hosts if isinstance(self.platform, SshSettings) else []
        found = []
        for name, service in self.services.items():
            if ssh and service.manager is None:
                found.append(f"service {name}: an ssh platform needs `manager` (pm2 or systemd)")
            if not ssh and (service.manager or service.hosts):
                found.append(f"service {name}: manager and hosts are for ssh platforms")
            if service.slots is not None and not isinstance(self.platform, KubernetesSettings):
                # Switching patches a Kubernetes Service's selector; Docker and ssh have nothing to switch.
                found.append(f"service {name}: slots (blue/green) are for kubernetes platforms")
            found.extend(_known_hosts(f"service {name}", service.hosts, hosts))
        for check in self.checks:
            if not isinstance(check, HostCheck):
                continue
            if not ssh:
                found.append(f"check {check.name}: a {check.kind} check runs over SSH and needs an ssh platform")
            if isinstance(check, Pm2Check) and check.service is not None and (
                    check.service not in self.services or self.services[check.service].manager != "pm2"):
                pm2 = [n for n, s in self.services.items() if s.manager == "pm2"]
                found.append(f"check {check.name}: '{check.service}' is not a pm2 service here; pm2 services: "
                             f"{', '.join(pm2) or 'none'}")
            found.extend(_known_hosts(f"check {check.name}", check.hosts, hosts))
        return found

    def min_role(self, action: str) -> Role:
        if action in self.min_roles:
            return Role.parse(self.min_roles[action])
        return DEFAULT_MIN_ROLES[action]


def _known_hosts(where: str, named: list[str] | None, hosts: list[str]) -> list[str]:
    unknown = [host for host in named or [] if host not in hosts]
    if unknown:
        return [f"{where}: unknown host {', '.join(unknown)}; the platform's hosts: {', '.join(hosts) or 'none'}"]
    return []


# roles: {environment name or "*": {role: [Slack user IDs, user-group IDs or "*"]}}
Roles = dict[str, dict[str, list[str]]]
