"""The composition root: the one place that builds the store, services and router from settings."""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from bot.config import Catalog, Settings, config_path, from_environment, load_catalog
from bot.core.incidents import IncidentService
from bot.core.maintenance import MaintenanceService
from bot.core.ops import OpsService
from bot.ops.checks import CheckRunner
from bot.ops.platforms import platform_for
from bot.ops.platforms.script import ScriptRunner
from bot.store import Store, open_store
from commands.base import Services
from commands.router import Router

if TYPE_CHECKING:
    from bot.core.reminders import Notifier
    from bot.scheduler.runner import SchedulerRunner


@dataclass
class Opsbot:
    settings: Settings
    catalog: Catalog
    store: Store
    services: Services
    router: Router

    def close(self) -> None:
        self.store.close()


def build(config: str | Path | None = None, settings: Settings | None = None) -> Opsbot:
    """Raises ConfigError for a bad opsbot.yml and BackendError for an unreachable store."""
    settings = settings or from_environment(Settings)
    catalog = load_catalog(config_path(str(config) if config else None, settings))
    store = open_store(settings.database_url)
    ops = OpsService(store, catalog, platform_for, CheckRunner(platform_for), ScriptRunner())
    services = Services(
        incidents=IncidentService(store, catalog),
        ops=ops,
        maintenance=MaintenanceService(store, catalog, ops),
    )
    return Opsbot(settings=settings, catalog=catalog, store=store, services=services, router=Router(services))


def scheduler_for(opsbot: Opsbot, notifier: Notifier) -> SchedulerRunner:
    """The reminder scheduler of one process; it sends only while it holds the database's leader lock."""
    from bot.scheduler.engine import ReminderEngine
    from bot.scheduler.leader import leader_lock_for
    from bot.scheduler.runner import SchedulerRunner

    engine = ReminderEngine(opsbot.store, opsbot.catalog, opsbot.services.incidents, notifier)
    return SchedulerRunner(engine, leader_lock_for(opsbot.settings.database_url))
