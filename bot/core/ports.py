"""What the core expects of the world: the store, platforms, checks, runbook scripts, chat, the clock.

The core talks to nothing else. Adapters (bot/store, bot/platforms, bot/checks, bot/slack, the console)
implement these protocols; the composition root (bot/app.py) plugs them in. Importing this module loads no
driver, SDK or client.
"""
from __future__ import annotations

from collections.abc import Callable, Collection, Iterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Literal, Protocol

from bot.config.environments import Environment, RunbookAction, SecretSpec

if TYPE_CHECKING:
    from bot.core.audit import AuditRecord, Head, StoredAudit
    from bot.core.audit_signing import Checkpoint
    from bot.core.effects import Effect
    from bot.core.grep import LineFilter
    from bot.core.insights import IncidentTimes
    from bot.core.models import Event, Incident, Status
    from bot.core.plans import Plan
    from bot.core.reminders import Checklist, Reminder, Tick, Window
    from bot.core.search_text import Filters, Match, SearchHit
    from bot.core.status_models import ComponentState, HistoryEntry, PublicIncident, StatusSnapshot

# --- the clock ------------------------------------------------------------------------------
Clock = Callable[[], datetime]  # timezone-aware UTC now


# --- the store, by domain ---------------------------------------------------------------------
class StaleWrite(Exception):
    """The incident changed since it was read; the caller re-reads and retries."""


class IncidentStore(Protocol):
    def create_incident(self, incident: Incident, events: list[Event]) -> Incident: ...
    # With `audit`: the record is appended in the same transaction, and the events carry its seq.
    def save_incident(self, incident: Incident, events: list[Event], audit: AuditRecord | None = None) -> Incident: ...
    def append_events(self, number: int, events: list[Event]) -> None: ...
    def get_incident(self, number: int) -> Incident: ...
    def list_incidents(self, include_closed: bool = False, limit: int = 50,
                       statuses: tuple[Status, ...] | None = None) -> list[Incident]: ...
    def open_by_severity(self) -> dict[str, int]: ...
    def incident_for_channel(self, channel: str) -> Incident | None: ...
    def incidents_with_timers(self) -> list[Incident]: ...
    def forget_timers(self, incident: Incident) -> None: ...
    def timeline(self, number: int) -> list[Event]: ...
    def timeline_part(self, number: int, kinds: tuple[str, ...] = (), offset: int = 0,
                      limit: int | None = None) -> list[Event]: ...
    def timeline_length(self, number: int) -> int: ...
    def event_times(self, kind: str, since: datetime) -> dict[int, list[datetime]]: ...
    def change_mark(self) -> tuple: ...
    def incident_times(self, since: datetime) -> list[IncidentTimes]: ...
    def audit_outcomes(self, since: datetime, envs: Collection[str] | None = None) -> dict[str, int]: ...
    def incidents_where(self, statuses: tuple[Status, ...] | None = None, severity: str | None = None,
                        service: str | None = None, env: str | None = None, since: datetime | None = None,
                        until: datetime | None = None, batch: int = 200) -> Iterator[Incident]: ...


class AuditStore(Protocol):
    def append_audit(self, record: AuditRecord, timeline: tuple[int, Event] | None = None) -> AuditRecord: ...
    def audit_records(self, since: datetime | None = None) -> list[AuditRecord]: ...
    def audit_newest(self, since: datetime | None = None, until: datetime | None = None, seq: int | None = None,
                     batch: int = 2000) -> Iterator[AuditRecord]: ...
    def iter_audit(self, batch: int = 2000, after: int = 0) -> Iterator[StoredAudit]: ...
    def audit_head(self) -> Head | None: ...


class ArchiveStore(Protocol):
    """Incidents brought in from another store (`opsbot incident import`): written whole, in one transaction, under
    their own number; the audit records that came with them are kept beside them (the target's own audit log is
    never spliced), with one record of the import appended to that log."""

    def import_incident(self, incident: Incident, events: list[Event], archived: list[AuditRecord],
                        source_sha256: str, record: AuditRecord) -> Incident: ...
    def archived_audit(self, number: int) -> list[AuditRecord]: ...


# Where audit checkpoints go (a witness file, an audit channel): outside the database, so a log cut short or
# rewritten there no longer reaches a checkpoint it once had.
Witness = Callable[["Checkpoint"], None]


class LeaseStore(Protocol):
    def acquire_lease(self, key: str, holder: str, attempt: str, until: datetime, now: datetime) -> str | None: ...
    def renew_lease(self, key: str, attempt: str, until: datetime) -> bool: ...
    def release_lease(self, key: str, attempt: str) -> None: ...


class WebTokenStore(Protocol):
    """Sign-in links and web sessions, kept by the SHA-256 of their tokens (bot/core/web_auth.py)."""

    def add_web_token(self, digest: str, kind: str, user: str, expires_at: datetime, now: datetime) -> None: ...
    def spend_web_token(self, digest: str, kind: str, now: datetime) -> str | None: ...
    def web_token_user(self, digest: str, kind: str, now: datetime) -> str | None: ...


class PlanStore(Protocol):
    def save_plan(self, plan: Plan) -> None: ...
    def get_plan(self, plan_id: str) -> Plan: ...
    def update_plan(self, plan: Plan, expected: Plan) -> bool: ...
    def pending_plans(self, now: datetime) -> list[Plan]: ...


class MaintenanceStore(Protocol):
    def create_window(self, window: Window, reminders: list[Reminder], audit: AuditRecord | None = None) -> Window: ...
    def get_window(self, window_id: int) -> Window: ...
    def list_windows(self, ending_after: datetime | None = None) -> list[Window]: ...
    def change_window(self, window: Window, drop_prefix: str, reminders: list[Reminder],
                      audit: AuditRecord | None = None) -> None: ...
    def add_reminder(self, reminder: Reminder) -> bool: ...
    def due_reminders(self, now: datetime) -> list[Reminder]: ...
    def settle_reminder(self, reminder: Reminder, expected: str = "pending") -> bool: ...
    def reminders(self, prefix: str = "") -> list[Reminder]: ...
    def sent_reminders(self, prefix: str, start: datetime, end: datetime) -> list[Reminder]: ...
    def schedule_cursor(self, name: str) -> datetime | None: ...
    def set_schedule_cursor(self, name: str, at: datetime) -> None: ...
    def create_checklist(self, checklist: Checklist) -> Checklist: ...
    def get_checklist(self, checklist_id: int) -> Checklist: ...
    def add_ticks(self, checklist_id: int, ticks: list[Tick]) -> None: ...


class PlatformMemory(Protocol):
    """What a platform adapter keeps between actions, per key (a JSON-able document): a Docker service's spec
    after scale 0, the images a rollback went between. In the store, so a restart or another replica knows it."""

    def recall(self, key: str) -> dict | None: ...
    def remember(self, key: str, doc: dict) -> None: ...


@dataclass
class SeenAlert:
    """One alert state a delivery brings: recorded once per incident by its key (an alert firing since a time, an
    alert resolved, the whole group resolved)."""

    key: str
    name: str  # the alert's name (alertname): what the incident's counts are kept by ("" for the group's own keys)
    firing: bool


@dataclass
class StormOpening:
    """The alert-storm rule for a delivery that needs a new incident: when `max_new` groups already needed one since
    `since`, the group joins the current storm incident (or opens `incident`, the storm's, when none is open)."""

    max_new: int
    since: datetime
    at: datetime
    incident: Incident  # the storm incident to open when a storm starts
    opening_events: list[Event]
    join_events: list[Event]  # on the storm incident: this group joined it


@dataclass
class AlertDelivery:
    """What one alert delivery may change, prepared by the core; the store decides inside one transaction which
    of it applies (see AlertStore)."""

    delivery_key: str  # the queued delivery (AlertStore.queue_alerts), taken out of the inbox as it is applied
    group_key: str  # at most one open incident per group key
    incident: Incident | None  # opened when the group has no open incident (None: nothing is firing)
    opening_events: list[Event]
    seen: list[SeenAlert]  # each seen key is recorded once per incident
    # The events of the seen alerts new on the incident (their indexes in `seen`, in order): the core writes them
    # (the first few in full, the rest summarised), the store appends them in the same transaction.
    events_for: Callable[[list[int]], list[Event]]
    audit: AuditRecord  # appended (target: the incident) when anything changed
    storm: StormOpening | None = None  # None: no storm rule (every new group opens its own incident)


@dataclass
class AlertRecorded:
    number: int | None  # the group's incident (None: none was open and none opened)
    opened: bool = False  # `number` was opened now (the group's own incident, or a storm's)
    duplicate: bool = False
    new_keys: list[str] = field(default_factory=list)  # the seen keys recorded now (their events appended)
    joined_storm: bool = False  # the group needed a new incident and joined (or opened) the storm incident


class AlertStore(Protocol):
    def queue_alerts(self, deliveries: list[tuple[str, str]]) -> list[bool]: ...
    def pending_alerts(self, limit: int = 100) -> list[tuple[str, str]]: ...
    def drop_alert(self, key: str) -> None: ...
    def record_alerts(self, delivery: AlertDelivery) -> AlertRecorded: ...
    def append_audit(self, record: AuditRecord, timeline: tuple[int, Event] | None = None) -> AuditRecord: ...


@dataclass
class StatusWrite:
    """One change of the public status page, written in one transaction: a public incident (new or changed), the
    components whose state changed with their history, and the internal incident's events and audit record."""

    incident: PublicIncident | None = None
    components: list[ComponentState] = field(default_factory=list)
    history: list[HistoryEntry] = field(default_factory=list)
    audit: AuditRecord | None = None
    timeline: tuple[int, list[Event]] | None = None  # (incident number, events): they carry the audit record's seq


class StatusStore(Protocol):
    """The status page's state. Every write moves the page's version on (StaleWrite when it moved since `expected`),
    which is also how every replica learns that the page changed."""

    def status_version(self) -> int: ...
    def status_snapshot(self) -> StatusSnapshot: ...
    def public_incident(self, public_id: str) -> PublicIncident | None: ...
    def public_incident_for(self, number: int) -> PublicIncident | None: ...
    def public_incidents(self, limit: int = 50, since: datetime | None = None) -> list[PublicIncident]: ...
    def component_history(self, since: datetime) -> list[HistoryEntry]: ...
    def write_status(self, expected: int, write: StatusWrite) -> int: ...


# Texts to unit vectors (float32 bytes): the optional semantic ranking (bot/semantic.py).
Embed = Callable[[list[str]], list[bytes]]


class SearchStore(Protocol):
    """The full-text index of incidents, kept current in the transaction of every change (bot/store/sql_search.py):
    best first, on the backend's own ranking; `reindex_search` rebuilds it from the records."""

    def search_incidents(self, match: Match, filters: Filters, limit: int = 10, offset: int = 0,
                         texts: bool = False) -> list[SearchHit]: ...
    def count_matches(self, words: list[str], cap: int) -> dict[str, int]: ...
    def search_vectors(self, numbers: list[int]) -> dict[int, bytes]: ...
    def use_embedder(self, embed: Embed | None) -> None: ...
    def reindex_search(self) -> int: ...


class Store(IncidentStore, AuditStore, PlanStore, LeaseStore, MaintenanceStore, PlatformMemory, ArchiveStore,
            AlertStore, StatusStore, SearchStore, WebTokenStore, Protocol):
    """Everything opsbot keeps; SQLite and PostgreSQL pass one contract suite (tests/contract)."""

    url: str

    def migrate(self) -> None: ...
    def remember_delivery(self, key: str) -> bool: ...
    def claim_delivery(self, key: str) -> bool: ...
    def forget_deliveries(self, before: datetime) -> int: ...
    def ping(self) -> bool: ...  # reachable now? (GET /healthz)
    def close(self) -> None: ...


# --- platforms, checks, scripts -----------------------------------------------------------------
Level = Literal["ok", "warn", "crit"]
LEVEL_ORDER = {"ok": 0, "warn": 1, "crit": 2}


@dataclass
class CheckResult:
    name: str
    kind: str
    level: Level
    value: str  # what was measured, e.g. "182 ms"
    threshold: str = ""  # e.g. "warn 500 ms / crit 1000 ms"
    detail: str = ""
    elapsed_ms: float = 0.0
    link: str = ""  # where to see more, e.g. the query's graph in Prometheus


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
    # the last `tail` lines of each pod/container/host kept by `grep`; previous: the crashed container's; slot: one
    # blue/green slot's pods only (both: Kubernetes)
    def logs(self, service: str, since: timedelta | None, tail: int, grep: LineFilter | None,
             previous: bool = False, slot: str | None = None) -> str: ...
    # (container or pod, its log since then as a stream of chunks read on demand): evidence never holds one whole
    def log_streams(self, service: str, since: datetime) -> list[tuple[str, Iterator[bytes]]]: ...
    def history(self, since: datetime) -> list[str]: ...  # what the platform recorded since: events, rollouts
    def restart(self, service: str) -> str: ...
    def scale_plan(self, service: str, replicas: int) -> str: ...  # "N → M replicas", or refused as scale would be
    def scale(self, service: str, replicas: int) -> str: ...
    def rollback_plan(self, service: str) -> str: ...
    def stop_plan(self, service: str) -> str: ...
    def stop(self, service: str) -> str: ...
    def start_plan(self, service: str) -> str: ...
    def start(self, service: str) -> str: ...
    def rollback(self, service: str) -> str: ...
    # a version of the service's image ("repository:tag"): refused when it already runs; `timeout_s` for a rollout
    def deploy_plan(self, service: str, image: str) -> str: ...
    def deploy(self, service: str, image: str, timeout_s: float,
               report: Callable[[str], None] | None = None) -> str: ...  # report: how the rollout goes
    # the service's pods or containers as `kubectl describe` summarises them: state, restarts, last exit, events
    def describe(self, service: str) -> str: ...
    def delete_pod_plan(self, pod: str) -> str: ...  # Kubernetes only: the others refuse with the reason
    def delete_pod(self, pod: str) -> str: ...
    # configuration: the values of these keys (None: not set); set or unset them (None), restarting if asked (a
    # container's environment is changed by recreating it, so Docker always restarts)
    def config_values(self, service: str, keys: list[str]) -> dict[str, str | None]: ...
    def set_config(self, service: str, changes: dict[str, str | None], restart: bool) -> str: ...
    # a secret: where it lives (said in the plan), and writing a new value there, then restarting what reads it;
    # neither ever returns or logs the value
    def secret_place(self, secret: SecretSpec) -> str: ...
    def set_secret(self, secret: SecretSpec, value: str) -> str: ...
    def resources_plan(self, service: str, memory: str | None, cpu: str | None) -> str: ...
    def set_resources(self, service: str, memory: str | None, cpu: str | None) -> str: ...
    # a runbook action's argv inside the service's first running container or pod: (exit status, output kept
    # bounded and redacted); and on the ssh platform's hosts (the others refuse)
    def exec_in(self, service: str, argv: list[str], timeout_s: float) -> tuple[int, str]: ...
    def on_hosts(self, argv: list[str], hosts: list[str] | None = None) -> list[HostResult]: ...
    def switch_plan(self, service: str, slot: str | None) -> str: ...  # slot None: back to the previous one
    def switch(self, service: str, slot: str | None) -> str: ...
    def maintenance_state(self) -> bool | None: ...
    def set_maintenance(self, on: bool) -> str: ...
    def workload_health(self, target: str) -> WorkloadHealth: ...
    # After opsbot stopped in the middle of an action on the service (killed, host rebooted), with the action's lease
    # held: bring what the action left half done to one consistent state, or say where the platform takes it by
    # itself. What was done, in a sentence; None when nothing was left half done.
    def reconcile(self, service: str) -> str | None: ...


PlatformFor = Callable[[str, Environment], Platform]


@dataclass
class HostResult:
    """One host's answer to a command: its exit status and output, or why it could not run (`error`)."""

    host: str
    status: int | None = None
    output: str = ""
    error: str | None = None


class HostShell(Protocol):
    """Platforms made of hosts (ssh): one command, as argv (never expanded by a remote shell), on each host at once.
    The host checks (disk, load, memory, pm2) read the hosts through it."""

    def on_hosts(self, argv: list[str], hosts: list[str] | None = None) -> list[HostResult]: ...


class Checks(Protocol):
    async def run(self, env_name: str, env: Environment) -> list[CheckResult]: ...


class Scripts(Protocol):
    def run(self, action: RunbookAction, params: dict[str, str]) -> tuple[int, str]: ...


GroupsOf = Callable[[str], list[str]]  # a user's group IDs (Slack user groups), for role grants


class Schedules(Protocol):
    """The scheduler's reading of a cron line (APScheduler lives behind this, in bot/scheduler)."""

    def __call__(self, expression: str, timezone: str, after: datetime) -> datetime | None: ...


# --- chat ---------------------------------------------------------------------------------------
class Conversations(Protocol):
    """A chat surface's side of what changed: in Slack an opened incident gets its channel (created, invited,
    topic, pinned summary, announcement) and a changed one has its summary and topic edited. Returns warnings
    for the user. The console has no channels and needs none."""

    async def carry_out(self, effects: list[Effect]) -> list[str]: ...


class Notifier(Protocol):
    """Where reminders go, and what the scheduler tells a channel: Slack in `opsbot serve`, a list in tests."""

    def post(self, reminder: Reminder, checklist: Checklist | None) -> None: ...
    def set_group(self, group: str, users: list[str]) -> None: ...  # a user group's members (on-call handoffs)
    def say(self, channel: str, text: str) -> None: ...
