"""The ops part of opsbot.yml: environments, their platform, services, checks, runbook actions, roles.

Each platform kind's and check kind's settings live beside its code (bot/platforms/settings.py,
bot/checks/settings.py); an environment takes them as discriminated unions (`kind` picks the model).
Secrets never live here: checks name the environment variable that holds a DSN or URL (`*_env`).
"""
from __future__ import annotations

import string
from enum import IntEnum
from typing import Literal

import re2
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
    "switch": Role.OPERATOR, "deploy": Role.OPERATOR, "delete-pod": Role.OPERATOR, "describe": Role.VIEWER,
    "config": Role.OPERATOR, "secret": Role.OPERATOR, "resources": Role.OPERATOR,
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


Dashboards = dict[str, str]  # name → https URL (the runbooks' Grafana links)


def _dashboard_urls(value: Dashboards) -> Dashboards:
    for name, url in value.items():
        if not url.startswith(("https://", "http://")) or any(c.isspace() for c in url):
            raise ValueError(f"dashboard {name!r}: {url[:80]!r} is not an http(s) URL")
    return value


class ServiceConfig(Strict):
    """`/ops config`: the keys people may change — in a ConfigMap (Kubernetes), or the containers' environment
    (Docker, recreated faithfully). A key naming a secret is never set from chat (`/ops secret rotate`)."""

    configmap: str | None = None  # Kubernetes: its ConfigMap; pods read it at start, so a change offers --restart
    keys: list[str] = Field(min_length=1)

    @field_validator("keys")
    @classmethod
    def _plain(cls, value: list[str]) -> list[str]:
        bad = [key for key in value if not re2.fullmatch(r"[A-Za-z_][A-Za-z0-9_.-]{0,127}", key)]
        if bad:
            raise ValueError(f"{bad[0]!r} is not a configuration key (letters, digits, _ . -)")
        return value


class SecretSpec(Strict):
    """`/ops secret rotate <name>`: opsbot makes the value, writes it, restarts the services that read it, and never
    shows, logs, audits or stores it (the audit keeps a fingerprint). Kubernetes: a key of a Secret; Docker: an
    environment variable of the `restart` services' containers."""

    key: str
    kubernetes_secret: str | None = None
    length: int = Field(48, ge=16, le=256)
    restart: list[str] = Field(default_factory=list)


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
    dashboards: Dashboards = Field(default_factory=dict)  # shown in /ops status and the incident summary
    config: ServiceConfig | None = None  # /ops config: the keys that may be changed
    max_memory: str | None = None  # /ops resources: the largest memory limit allowed ("4Gi")
    max_cpu: str | None = None  # … and CPU limit ("2", "500m")
    # /ops deploy: the image repository (the version becomes its tag) and the versions allowed (RE2, the whole
    # version); or, where there is no image (SSH hosts), a runbook action run with {version}. `verify`: names of
    # the environment's checks run after the deploy; a failure offers the rollback, or performs it (on_failure).
    image: str | None = None
    versions: str = r"[A-Za-z0-9][A-Za-z0-9._-]{0,127}"
    deploy_timeout_s: float = Field(600, gt=0)  # how long a rollout may take
    deploy_runbook: str | None = None
    pre_deploy: list[str] = Field(default_factory=list)  # checklist items a deploy needs ticked (--checked)
    verify: list[str] = Field(default_factory=list)
    on_failure: Literal["offer", "rollback"] = "offer"

    @field_validator("versions")
    @classmethod
    def _versions(cls, value: str) -> str:
        try:
            re2.compile(value)
        except re2.error as exc:
            raise ValueError(f"versions {value!r} is not a valid pattern ({exc})") from exc
        return value

    @field_validator("dashboards")
    @classmethod
    def _dashboards(cls, value: Dashboards) -> Dashboards:
        return _dashboard_urls(value)


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


class ExecIn(Strict):
    service: str  # inside this service's (first running) container or pod


class RunbookAction(Strict):
    argv: list[str] = Field(min_length=1)
    # Where it runs: opsbot's own machine (default), inside a service's container or pod (`exec`), or over SSH on
    # the ssh platform's hosts (`hosts`: names, or ["all"]) with its quoting and known_hosts rules.
    exec: ExecIn | None = None
    hosts: list[str] | None = None
    timeout_s: float = Field(300, gt=0)
    params: dict[str, Param] = Field(default_factory=dict)
    min_role: str | None = None  # default: viewer for a read-only action, operator for any other
    cwd: str | None = None
    # A diagnostic (pg_stat_activity, pm2 status): runs at once, without a plan or confirmation, still audited.
    read_only: bool = False
    scheduled: bool = False  # a recurring reminder may run it (read-only actions may always be scheduled)
    # Output matching one of these (RE2, per line) fails the run even when it exits 0: a restore that prints
    # "ERROR: duplicate key" and exits 0 has not succeeded.
    fail_on: list[str] = Field(default_factory=list)

    @field_validator("fail_on")
    @classmethod
    def _patterns(cls, value: list[str]) -> list[str]:
        for pattern in value:
            try:
                re2.compile(pattern)
            except re2.error as exc:
                raise ValueError(f"fail_on {pattern!r} is not a valid pattern ({exc})") from exc
        return value

    def argv_for(self, params: dict[str, str]) -> list[str]:
        """The argv as it runs: each item's `{name}` filled in, one argument whatever the value holds."""
        return [part.format_map(params) for part in self.argv]

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
    dashboards: Dashboards = Field(default_factory=dict)  # shown in health and status replies, incident summaries
    secrets: dict[str, SecretSpec] = Field(default_factory=dict)  # /ops secret rotate <name>

    @field_validator("dashboards")
    @classmethod
    def _dashboards(cls, value: Dashboards) -> Dashboards:
        return _dashboard_urls(value)

    def dashboards_for(self, service: str | None = None) -> list[tuple[str, str]]:
        """The environment's dashboards, then the service's (name, URL)."""
        found = list(self.dashboards.items())
        if service is not None and service in self.services:
            found += list(self.services[service].dashboards.items())
        return found

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
        found.extend(self._deploys())
        found.extend(self._runbook_places())
        for name, secret in self.secrets.items():
            unknown = [service for service in secret.restart if service not in self.services]
            if unknown:
                found.append(f"secret {name}: restart names unknown services: {', '.join(unknown)}")
        problems(found)
        return self

    def _runbook_places(self) -> list[str]:
        """`exec` names a service of this environment; `hosts` are the ssh platform's; not both."""
        found = []
        ssh_hosts = self.platform.hosts if isinstance(self.platform, SshSettings) else None
        for name, action in self.runbook.items():
            if action.exec is not None and action.hosts is not None:
                found.append(f"runbook {name}: exec and hosts are two places; choose one")
            if action.exec is not None and action.exec.service not in self.services:
                found.append(f"runbook {name}: exec names unknown service {action.exec.service!r} "
                             f"(services: {', '.join(self.services) or 'none'})")
            if action.hosts is not None:
                if ssh_hosts is None:
                    found.append(f"runbook {name}: hosts are for ssh platforms (this environment has no hosts)")
                elif action.hosts != ["all"]:
                    found.extend(_known_hosts(f"runbook {name}", action.hosts, ssh_hosts))
        return found

    def _deploys(self) -> list[str]:
        """A deploy runbook exists and takes {version}; verify names the environment's checks."""
        found, checks = [], {check.name for check in self.checks}
        for name, service in self.services.items():
            runbook = self.runbook.get(service.deploy_runbook or "")
            if service.deploy_runbook and runbook is None:
                found.append(f"service {name}: deploy_runbook {service.deploy_runbook!r} is not a runbook action here")
            elif runbook is not None and "version" not in runbook.params:
                found.append(f"service {name}: deploy_runbook {service.deploy_runbook!r} must declare a `version` "
                             "parameter")
            missing = [check for check in service.verify if check not in checks]
            if missing:
                found.append(f"service {name}: verify names unknown checks: {', '.join(missing)} "
                             f"(checks: {', '.join(sorted(checks)) or 'none'})")
        return found

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
