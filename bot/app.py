"""The composition root: the one place that builds stores, adapters, services and the router from settings.

Surfaces (the console, `opsbot serve`, the CLI) call `build()`; the Slack adapter and the scheduler are built
here too (`slack_app`, `scheduler_for`), so nothing else constructs services or clients.
"""
from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, cast

from bot.config import Catalog, Settings, config_path, from_environment, load_catalog
from bot.core.alerts import AlertService
from bot.core.audit import AuditKey
from bot.core.flows import EvidenceFlows, IncidentFlows
from bot.core.incidents import IncidentService
from bot.core.maintenance import MaintenanceService
from bot.core.ops import OpsService
from bot.core.ports import CheckResult, Clock, GroupsOf, PlatformFor, Schedules, Store, Witness
from bot.core.records import Records
from bot.errors import ConfigError
from bot.metrics import MeteredStore, Metrics
from bot.timeparse import utcnow
from commands.base import Services
from commands.router import Router

log = logging.getLogger("opsbot")

if TYPE_CHECKING:
    from bot.config import SlackSettings
    from bot.core.evidence import SharedFiles
    from bot.core.ports import Notifier
    from bot.scheduler.runner import SchedulerRunner


@dataclass
class Opsbot:
    settings: Settings
    catalog: Catalog
    store: Store
    services: Services
    router: Router
    metrics: Metrics
    catalog_path: Path | None = None  # None: the built-in defaults
    alerts: AlertService = field(init=False)  # alert groups → incidents (POST /alerts/… in `opsbot serve`)

    def __post_init__(self) -> None:
        self.alerts = AlertService(self.store, self.catalog, self.services.flows)

    def close(self) -> None:
        self.store.close()


def build_services(store: Store, catalog: Catalog, clock: Clock = utcnow, platform_for: PlatformFor | None = None,
                   groups_of: GroupsOf | None = None, next_fire: Schedules | None = None,
                   witnesses: Sequence[Witness] = (), evidence_dir: Path | None = None,
                   shared_files: SharedFiles | None = None,
                   on_check: Callable[[CheckResult], None] | None = None) -> Services:
    """The services over one store; tests pass their own clock, platforms or group directory."""
    from bot.checks.runner import CheckRunner
    from bot.platforms import Platforms
    from bot.platforms.script import ScriptRunner
    from bot.scheduler.triggers import next_fire as cron_next_fire

    platforms = platform_for or Platforms(store)
    checks, scripts = CheckRunner(platforms, on_check), ScriptRunner()  # one of each, shared
    ops = OpsService(store, catalog, platforms, checks, scripts, clock=clock, groups_of=groups_of,
                     witnesses=witnesses)
    from bot.core.evidence import EvidenceService
    from bot.evidence.collectors import InfraCollectors
    from bot.evidence.storage import DirectoryStorage

    incidents = IncidentService(store, catalog, clock=clock)
    collectors = InfraCollectors(platforms, checks, scripts)
    evidence = EvidenceService(incidents, ops, catalog, collectors, DirectoryStorage(evidence_dir or Path("evidence")),
                               clock=clock, files=shared_files)
    return Services(
        incidents=incidents,
        ops=ops,
        maintenance=MaintenanceService(store, catalog, ops, next_fire or cron_next_fire, clock=clock),
        evidence=evidence,
        flows=IncidentFlows(incidents),
        evidence_flows=EvidenceFlows(evidence),
        records=Records(store, catalog, evidence, clock),
    )


def build(config: str | Path | None = None, settings: Settings | None = None,
          slack: SlackSettings | None = None) -> Opsbot:
    """Raises ConfigError for a bad opsbot.yml and BackendError for an unreachable store. With Slack settings,
    role grants to Slack user groups are resolved through Slack (usergroups.users.list)."""
    from bot.store import open_store

    settings = settings or from_environment(Settings)
    path = config_path(str(config) if config else None, settings)
    catalog = load_catalog(path)
    groups_of, witnesses, shared_files = None, audit_witnesses(settings), None
    if slack is not None:
        from bot.slack.files import SlackFiles
        from bot.slack.notifier import SlackWitness
        from bot.slack.usergroups import group_directory

        groups_of = group_directory(slack, catalog.roles)
        shared_files = SlackFiles(slack)
        if catalog.audit_channel:
            witnesses.append(SlackWitness(slack, catalog.audit_channel))
    raw_store = open_store(settings.database_url, audit_key(settings))
    # Metrics on a registry of their own; the services see the store through MeteredStore, which counts.
    metrics = Metrics()
    metrics.collect_from(raw_store, severities=list(catalog.severities))
    store = cast(Store, MeteredStore(raw_store, metrics))
    services = build_services(store, catalog, groups_of=groups_of, witnesses=witnesses,
                              evidence_dir=settings.evidence_root(), shared_files=shared_files,
                              on_check=metrics.check_result)
    return Opsbot(settings=settings, catalog=catalog, store=store, services=services, router=Router(services),
                  metrics=metrics, catalog_path=path)


def audit_key(settings: Settings) -> AuditKey | None:
    if settings.audit_key is None:
        return None
    try:
        return AuditKey(settings.audit_key.get_secret_value())
    except ValueError as exc:
        raise ConfigError([f"OPSBOT_AUDIT_KEY: {exc}"]) from exc


def audit_witnesses(settings: Settings) -> list[Witness]:
    from bot.store.witness import FileWitness

    return [FileWitness(settings.audit_witness)] if settings.audit_witness else []


def serve_slack(opsbot: Opsbot, slack: SlackSettings, host: str, socket: bool, scheduler: bool) -> None:
    """`opsbot serve`: the Slack app, and (unless another replica sends them) the reminder scheduler."""
    from bot import version
    from bot.slack.notifier import SlackNotifier
    from bot.slack.server import serve
    from bot.store import hide_password

    runner = scheduler_for(opsbot, SlackNotifier(slack)) if scheduler else None
    # The one start-up line (INFO): enough to tell from the log which build serves what, never a secret.
    log.info("opsbot %s serving: mode=%s port=%s store=%s catalog=%s scheduler=%s", version(),
             "socket" if socket else "http", slack.port,
             hide_password(opsbot.settings.database_url), opsbot.catalog_path or "built-in",
             "on" if runner else "off")
    serve(opsbot, slack, host=host, socket=socket, scheduler=runner)


def scheduler_for(opsbot: Opsbot, notifier: Notifier) -> SchedulerRunner:
    """The reminder scheduler of one process; it sends only while it holds the database's leader lock."""
    from bot.scheduler.engine import ReminderEngine
    from bot.scheduler.leader import leader_lock_for
    from bot.scheduler.runner import SchedulerRunner

    engine = ReminderEngine(opsbot.store, opsbot.catalog, opsbot.services.incidents, notifier,
                            checkpoint=opsbot.services.ops.checkpoint, ops=opsbot.services.ops)
    return SchedulerRunner(engine, leader_lock_for(opsbot.settings.database_url))
