"""The ops part of opsbot.yml: environments, their platform, services, checks, runbook actions, roles.

Secrets never live here: checks name the environment variable that holds a DSN or URL (`*_env`).
"""
from __future__ import annotations

from enum import IntEnum
from typing import Literal

from pydantic import ConfigDict, Field, field_validator, model_validator

from bot.config.fields import Strict, problems


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


class Platform(Strict):
    kind: Literal["docker", "kubernetes", "ssh"]
    project: str | None = None  # docker: the Compose project
    host: str | None = None  # docker: engine URL; default $DOCKER_HOST or the local socket
    namespace: str = "default"  # kubernetes
    context: str | None = None  # kubernetes: kubeconfig context
    api_url: str | None = None  # kubernetes: talk to this API URL directly instead of using a kubeconfig
    # ssh: each host is "address" or "address:port" (IPv6: "[::1]:2222"); `port` is the default port. The private
    # key's text is in the environment variable `key_env`; host keys are checked against `known_hosts` (required).
    hosts: list[str] = Field(default_factory=list)
    user: str | None = None
    port: int = Field(22, gt=0, lt=65536)
    key_env: str | None = None
    known_hosts: str | None = None
    timeout_s: float = Field(15.0, gt=0)  # per host: connecting, and each command

    @model_validator(mode="after")
    def _docker_needs_project(self) -> Platform:
        if self.kind == "docker" and not self.project:
            raise ValueError("a docker platform needs `project` (the Compose project name)")
        if self.kind == "ssh":
            missing = [name for name in ("hosts", "user", "key_env", "known_hosts") if not getattr(self, name)]
            if missing:
                raise ValueError(f"an ssh platform needs {', '.join(missing)} (known_hosts is required: host keys "
                                 "are always verified)")
            for host in self.hosts:
                ssh_address(host, self.port)
            if len(set(self.hosts)) != len(self.hosts):
                raise ValueError("ssh hosts must be unique")
        return self


def ssh_address(host: str, default_port: int = 22) -> tuple[str, int]:
    """"web-1", "web-1:2222", "[::1]:2222" → (address, port)."""
    address, port = host, str(default_port)
    if host.startswith("["):
        address, _, rest = host[1:].partition("]")
        if rest:
            port = rest.removeprefix(":")
    elif host.count(":") == 1:
        address, port = host.split(":")
    if not address or not port.isdigit() or not 0 < int(port) < 65536:
        raise ValueError(f"'{host}' is not a host: write address or address:port")
    return address, int(port)


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


class Check(Strict):
    name: str
    kind: Literal["http", "postgres", "redis", "tls", "tcp", "docker", "kubernetes", "prometheus",
                  "disk", "load", "memory", "pm2"]
    timeout_s: float = Field(5.0, gt=0)
    # http
    url: str | None = None
    expect_status: int = 200
    warn_ms: float | None = Field(None, gt=0)
    crit_ms: float | None = Field(None, gt=0)
    json_fields: dict[str, object] | None = Field(None, alias="json")
    # postgres / redis: the DSN or URL comes from this environment variable
    dsn_env: str | None = None
    url_env: str | None = None
    warn_pct: float | None = None
    crit_pct: float | None = None
    long_query_s: float = Field(60.0, gt=0)
    # tls / tcp
    host: str | None = None
    port: int | None = Field(None, gt=0, lt=65536)
    warn_days: int = Field(30, ge=0)
    crit_days: int = Field(7, ge=0)
    ca_file: str | None = None  # tls: a private CA bundle; default: the system's
    # docker / kubernetes
    service: str | None = None
    selector: str | None = None
    # prometheus: an instant query against the server whose base URL is in $url_env; `warn`/`crit` are in the
    # query's own units ("%": the query returns a ratio, 0.05, shown as 5%); `direction: below` for values that
    # are bad when low (free disk, success rate).
    query: str | None = None
    warn: float | None = None
    crit: float | None = None
    unit: str = ""
    direction: Literal["above", "below"] = "above"
    # disk / memory / load / pm2 over SSH, on every host of an ssh platform (or `hosts`). disk and memory: free %
    # below warn_pct/crit_pct is bad (defaults 20/10); load: the 1-minute load per CPU above warn/crit (1/2);
    # pm2: a process not online is bad, and so are restarts above `max_restarts` or memory above `max_memory_mb`.
    path: str = "/"  # disk: the filesystem holding this path
    hosts: list[str] | None = None
    max_restarts: int | None = Field(None, ge=0)
    max_memory_mb: float | None = Field(None, gt=0)

    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    @model_validator(mode="after")
    def _required_fields(self) -> Check:
        needs = {"http": ["url"], "postgres": ["dsn_env"], "redis": ["url_env"], "tls": ["host"],
                 "tcp": ["host", "port"], "docker": ["service"], "kubernetes": ["selector"],
                 "prometheus": ["url_env", "query"], "disk": [], "load": [], "memory": [], "pm2": []}[self.kind]
        found = []
        missing = [name for name in needs if getattr(self, name) in (None, "")]
        if missing:
            hint = " (the environment variable holding the Prometheus base URL, e.g. PROM_URL)" \
                if self.kind == "prometheus" and "url_env" in missing else ""
            found.append(f"a {self.kind} check needs {', '.join(missing)}{hint}")
        if self.kind == "prometheus":
            found.extend(self._prometheus_thresholds())
        found.extend(self._thresholds_in_order())
        problems(found)
        return self

    def _thresholds_in_order(self) -> list[str]:
        """warn must come before crit on the way to bad: the lower one where high is bad, the higher one where
        low is bad (free space, days to expiry). Swapped, a check would never warn or would be critical early."""
        def order(warn: str, crit: str, high_is_bad: bool, what: str) -> list[str]:
            low, high = getattr(self, warn), getattr(self, crit)
            if low is None or high is None or (low <= high if high_is_bad else low >= high):
                return []
            side = "lower" if high_is_bad else "higher"
            return [f"a {self.kind} check's {warn} ({low:g}) must be {side} than its {crit} ({high:g}): {what}"]

        if self.kind == "http":
            return order("warn_ms", "crit_ms", True, "a response slower than warn_ms warns, slower than crit_ms "
                                                     "is critical")
        if self.kind in ("postgres", "redis"):
            return order("warn_pct", "crit_pct", True, "use above warn_pct % warns, above crit_pct % is critical")
        if self.kind == "tls":
            return order("warn_days", "crit_days", False, "fewer days to expiry than warn_days warns, fewer than "
                                                          "crit_days is critical")
        if self.kind in ("disk", "memory"):
            return order("warn_pct", "crit_pct", False, "free % below warn_pct warns, below crit_pct is critical")
        if self.kind == "load":
            return order("warn", "crit", True, "load per CPU above warn warns, above crit is critical")
        return []  # prometheus: its direction decides (_prometheus_thresholds)

    def _prometheus_thresholds(self) -> list[str]:
        warn, crit = self.warn, self.crit
        if warn is None and crit is None:
            return ["a prometheus check needs warn or crit (or both)"]
        found = []
        if warn is not None and crit is not None:
            if self.direction == "above" and warn > crit:
                found.append(f"warn ({warn:g}) is above crit ({crit:g}): with direction above (high is bad) "
                             "warn must be the lower threshold; use direction: below if low values are bad")
            if self.direction == "below" and warn < crit:
                found.append(f"warn ({warn:g}) is below crit ({crit:g}): with direction below (low is bad) "
                             "warn must be the higher threshold")
        if self.unit == "%" and any(value is not None and not 0 <= value <= 1 for value in (warn, crit)):
            found.append("with unit '%' the query returns a ratio and warn/crit are ratios too: write 0.05 for 5%")
        return found


class Param(Strict):
    type: Literal["str", "int", "bool", "choice", "path"] = "str"
    choices: list[str] = Field(default_factory=list)
    required: bool = False
    default: str | int | bool | None = None
    flag: bool = False  # the value may start with "-" (it is meant as an option of the command)
    absolute: bool = False  # a path may be absolute (never "..": a path stays below where the action works)


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
    platform: Platform | None = None
    services: dict[str, Service] = Field(default_factory=dict)
    maintenance: Maintenance | None = None
    checks: list[Check] = Field(default_factory=list)
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
    def _cross_references(self) -> Environment:
        """What the environment's parts name must exist here; every problem at once."""
        found = []
        unknown = [name for name in self.evidence.runbook if name not in self.runbook]
        if unknown:
            found.append(f"evidence.runbook names unknown runbook actions: {', '.join(unknown)}")
        strangers = [name for name in self.evidence.services if name not in self.services]
        if strangers:
            found.append(f"evidence.services names unknown services: {', '.join(strangers)} "
                         f"(services: {', '.join(self.services) or 'none'})")
        restart = [name for name in (self.maintenance.restart if self.maintenance else []) if name not in self.services]
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
        ssh = self.platform is not None and self.platform.kind == "ssh"
        hosts = self.platform.hosts if self.platform is not None else []
        found = []
        for name, service in self.services.items():
            if ssh and service.manager is None:
                found.append(f"service {name}: an ssh platform needs `manager` (pm2 or systemd)")
            if not ssh and (service.manager or service.hosts):
                found.append(f"service {name}: manager and hosts are for ssh platforms")
            if service.slots is not None and (self.platform is None or self.platform.kind != "kubernetes"):
                # Switching patches a Kubernetes Service's selector; Docker and ssh have nothing to switch.
                found.append(f"service {name}: slots (blue/green) are for kubernetes platforms")
            found.extend(_known_hosts(f"service {name}", service.hosts, hosts))
        for check in self.checks:
            if check.kind in HOST_CHECKS and not ssh:
                found.append(f"check {check.name}: a {check.kind} check runs over SSH and needs an ssh platform")
            if check.kind == "pm2" and check.service is not None and (
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


HOST_CHECKS = ("disk", "load", "memory", "pm2")


def _known_hosts(where: str, named: list[str] | None, hosts: list[str]) -> list[str]:
    unknown = [host for host in named or [] if host not in hosts]
    if unknown:
        return [f"{where}: unknown host {', '.join(unknown)}; the platform's hosts: {', '.join(hosts) or 'none'}"]
    return []


# roles: {environment name or "*": {role: [Slack user IDs, user-group IDs or "*"]}}
Roles = dict[str, dict[str, list[str]]]
