"""The composition root: the one place that builds stores, adapters, services and the router from settings.

Surfaces (the console, `opsbot serve`, the CLI) call `build()`. What `opsbot serve` runs is built here too
(`served`): the one metered Slack client and everything that uses it (the conversations adapter, the Bolt app,
the alert effects, Socket Mode), the HTTP app and the scheduler — with Slack or without it. Nothing else
constructs services, clients, the HTTP app or the scheduler (tests/test_architecture.py checks it).
"""
from __future__ import annotations

import logging
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Literal, cast

from bot.config import Catalog, Settings, config_path, from_environment, load_catalog
from bot.core.alerts import AlertService
from bot.core.audit import AuditKey
from bot.core.audit_signing import SigningKey, VerifyKey
from bot.core.export_signing import DocumentKeys
from bot.core.flows import EvidenceFlows, IncidentFlows
from bot.core.incidents import IncidentService
from bot.core.maintenance import MaintenanceService
from bot.core.ops import OpsService
from bot.core.ports import CheckResult, Clock, Embed, GroupsOf, PlatformFor, Schedules, Store, Witness
from bot.core.records import Records
from bot.core.search import SearchService
from bot.core.status_page import StatusPageService
from bot.core.web_auth import WebAuth, WebLogin
from bot.errors import ConfigError, UsageError
from bot.metrics import MeteredStore, Metrics
from bot.timeparse import utcnow
from commands.base import Services
from commands.router import Router

log = logging.getLogger("opsbot")

if TYPE_CHECKING:
    from slack_sdk import WebClient
    from starlette.applications import Starlette

    from bot.alerts.endpoint import AlertEndpoint
    from bot.config import SlackSettings
    from bot.core.evidence import SharedFiles
    from bot.core.ports import Notifier
    from bot.http.status import StatusSite
    from bot.http.web import WebSite
    from bot.scheduler.runner import SchedulerRunner
    from bot.slack.surface import SlackSurface
    from bot.static_site import Publisher

Mode = Literal["off", "http", "socket"]  # how `opsbot serve` takes Slack's deliveries; "off": it runs without Slack


@dataclass
class Opsbot:
    settings: Settings
    catalog: Catalog
    store: Store
    services: Services
    router: Router
    metrics: Metrics
    catalog_path: Path | None = None  # None: the built-in defaults
    # With Slack: the synchronous client of the Slack uses that run in threads (user groups, shared files, the
    # audit channel witness, the scheduler's reminders); Slack's async SDK client cannot be called from there.
    slack_client: WebClient | None = None
    alerts: AlertService = field(init=False)  # alert groups → incidents (POST /alerts/… in `opsbot serve`)

    def __post_init__(self) -> None:
        self.alerts = AlertService(self.store, self.catalog, self.services.flows)

    def close(self) -> None:
        self.store.close()


def build_services(store: Store, catalog: Catalog, clock: Clock = utcnow, platform_for: PlatformFor | None = None,
                   groups_of: GroupsOf | None = None, next_fire: Schedules | None = None,
                   witnesses: Sequence[Witness] = (), keys: DocumentKeys | None = None,
                   evidence_dir: Path | None = None,
                   shared_files: SharedFiles | None = None,
                   on_check: Callable[[CheckResult], None] | None = None,
                   embed: Embed | None = None, web_url: str = "http://localhost:3000") -> Services:
    """The services over one store; tests pass their own clock, platforms or group directory."""
    from bot.checks.runner import CheckRunner
    from bot.platforms import Platforms
    from bot.platforms.script import ScriptRunner
    from bot.scheduler.triggers import next_fire as cron_next_fire

    platforms = platform_for or Platforms(store)
    checks, scripts = CheckRunner(platforms, on_check), ScriptRunner()  # one of each, shared
    ops = OpsService(store, catalog, platforms, checks, scripts, clock=clock, groups_of=groups_of,
                     witnesses=witnesses, signer=keys.signing if keys is not None else None)
    from bot.core.evidence import EvidenceService
    from bot.evidence.collectors import InfraCollectors
    from bot.evidence.storage import DirectoryStorage

    incidents = IncidentService(store, catalog, clock=clock, groups_of=groups_of)
    collectors = InfraCollectors(platforms, checks, scripts)
    evidence = EvidenceService(incidents, ops, catalog, collectors, DirectoryStorage(evidence_dir or Path("evidence")),
                               clock=clock, files=shared_files)
    ops.keep_output = evidence.add_output  # a runbook's whole output, kept with the incident it ran for
    status = StatusPageService(store, catalog, ops, clock=clock)
    search = SearchService(store, catalog, clock, embed)
    return Services(
        incidents=incidents,
        ops=ops,
        maintenance=MaintenanceService(store, catalog, ops, next_fire or cron_next_fire, clock=clock, status=status),
        evidence=evidence,
        flows=IncidentFlows(incidents, status),
        status=status,
        evidence_flows=EvidenceFlows(evidence),
        records=Records(store, catalog, evidence, clock, keys, search),
        search=search,
        web=WebLogin(WebAuth(store, clock), web_url),
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
    # Metrics on a registry of their own; the services see the store through MeteredStore, which counts.
    metrics = Metrics()
    slack_client = slack_thread_client(slack, metrics) if slack is not None else None
    if slack_client is not None:
        from bot.slack.files import SlackFiles
        from bot.slack.notifier import SlackWitness
        from bot.slack.usergroups import group_directory

        groups_of = group_directory(slack_client, catalog.roles)
        shared_files = SlackFiles(slack_client)
        if catalog.audit_channel:
            witnesses.append(SlackWitness(slack_client, catalog.audit_channel))
    raw_store = open_store(settings.database_url, audit_key(settings))
    metrics.collect_from(raw_store, severities=list(catalog.severities))
    store = cast(Store, MeteredStore(raw_store, metrics))
    from bot.semantic import load_embedder

    embedder = load_embedder()  # None without the extra opsbot[semantic]: full-text ranking alone
    services = build_services(store, catalog, groups_of=groups_of, witnesses=witnesses, keys=document_keys(settings),
                              web_url=settings.web_url,
                              evidence_dir=settings.evidence_root(), shared_files=shared_files,
                              on_check=metrics.check_result, embed=embedder.embed if embedder else None)
    return Opsbot(settings=settings, catalog=catalog, store=store, services=services, router=Router(services),
                  metrics=metrics, catalog_path=path, slack_client=slack_client)


def audit_key(settings: Settings) -> AuditKey | None:
    if settings.audit_key is None:
        return None
    try:
        return AuditKey(settings.audit_key.get_secret_value())
    except ValueError as exc:
        raise ConfigError([f"OPSBOT_AUDIT_KEY: {exc}"]) from exc


def document_keys(settings: Settings) -> DocumentKeys:
    """The keys of this store: HMAC for records, Ed25519 for checkpoints; both sign exports and check imports."""
    return DocumentKeys(hmac=audit_key(settings), signing=signing_key(settings),
                        public=public_key(settings) if settings.audit_pubkey else None)


def signing_key(settings: Settings) -> SigningKey | None:
    if settings.audit_signing_key is None:
        return None
    try:
        return SigningKey.from_text(settings.audit_signing_key.get_secret_value())
    except ValueError as exc:
        raise ConfigError([str(exc)]) from exc


def public_key(settings: Settings, given: str | None = None) -> VerifyKey | None:
    """The key checkpoints are verified with: given (--pubkey), OPSBOT_AUDIT_PUBKEY, or the signing key's own."""
    text = given or settings.audit_pubkey
    if text:
        try:
            return VerifyKey.from_text(text)
        except ValueError as exc:
            raise ConfigError([str(exc)]) from exc
    signer = signing_key(settings)
    return signer.public() if signer is not None else None


def audit_witnesses(settings: Settings) -> list[Witness]:
    from bot.store.witness import FileWitness

    return [FileWitness(settings.audit_witness)] if settings.audit_witness else []


def scheduler_for(opsbot: Opsbot, notifier: Notifier) -> SchedulerRunner:
    """The reminder scheduler of one process; it sends only while it holds the database's leader lock."""
    from bot.scheduler.engine import ReminderEngine
    from bot.scheduler.leader import leader_lock_for
    from bot.scheduler.runner import SchedulerRunner

    publish = opsbot.catalog.status_page.publish
    engine = ReminderEngine(opsbot.store, opsbot.catalog, opsbot.services.incidents, notifier,
                            ops=opsbot.services.ops,
                            publish_status=status_publisher(opsbot, publish.dir, swap=True).publish if publish else None,
                            settle_status=opsbot.services.status.settle_maintenance,
                            watch_status=status_watcher(opsbot.services, opsbot.catalog, notifier))
    return SchedulerRunner(engine, leader_lock_for(opsbot.settings.database_url))


def status_watcher(services: Services, catalog: Catalog, notifier: Notifier) -> Callable[[], None] | None:
    """The scheduler's comparison of the page with the checks its components name: each notice is said in the
    incident's channel (a public incident healthy again), else the announcement channel. None without checks."""
    from bot.core.status_watch import environments_watched
    from bot.views.status import notice_text

    if not environments_watched(catalog):
        return None

    def watch() -> None:
        for notice in services.status.watch(services.ops.health_scheduled):
            incident = services.incidents.get(notice.number) if notice.number else None
            channel = incident.channel if incident is not None and incident.channel else catalog.announce_channel
            notifier.say(channel, notice_text(notice))

    return watch


def status_publisher(opsbot: Opsbot, out: Path, swap: bool = False) -> Publisher:
    """The status page's static copy in `out`: the same files `opsbot serve` answers under /status/. `swap` (the
    published folder) makes `out` a link renamed to each whole new version (bot/static_site.py)."""
    from bot.static_site import Publisher
    from bot.views.status_site import render_site

    status = opsbot.services.status
    return Publisher(out, status.version, lambda: render_site(status.view()), swap=swap)


# --- `opsbot serve` ---------------------------------------------------------------------------------------------
def slack_mode(slack: SlackSettings, socket: bool = False) -> Mode:
    """How `opsbot serve` takes Slack's deliveries: "off" when no Slack credential is set (and Socket Mode is not
    asked for), else "socket" (SLACK_APP_TOKEN, or --socket) or "http". A partial configuration is refused,
    naming what is missing, before anything starts."""
    socket = socket or bool(slack.slack_app_token)
    if not (socket or slack.slack_bot_token or slack.slack_signing_secret):
        return "off"
    missing = []
    if not slack.slack_bot_token:
        missing.append("SLACK_BOT_TOKEN")
    if socket and not slack.slack_app_token:
        missing.append("SLACK_APP_TOKEN")
    if not socket and not slack.slack_signing_secret:
        missing.append("SLACK_SIGNING_SECRET")
    if missing:
        raise UsageError(f"opsbot serve needs {' and '.join(missing)} in the environment.")
    return "socket" if socket else "http"


@dataclass
class Served:
    """What `opsbot serve` runs, built: the HTTP app and the parts it was built from."""

    app: Starlette
    alerts: AlertEndpoint
    slack: SlackSurface | None = None
    scheduler: SchedulerRunner | None = None
    status: StatusSite | None = None  # served ahead of the app (bot/http/server.py StatusFirst)


def served(opsbot: Opsbot, slack: SlackSettings, mode: Mode = "http", scheduler: bool = False,
           alert_tokens: Mapping[str, str] | None = None) -> Served:
    """The HTTP app over `opsbot` and its parts. With Slack, one metered client serves Bolt, the conversations
    adapter (slash commands' and alerts' effects) and Socket Mode; without it, the alerts' effects and the
    scheduler's reminders are logged (bot/nochat.py). Alert tokens: OPSBOT_ALERT_TOKEN_<SOURCE> unless given."""
    from bot.alerts.endpoint import AlertEndpoint
    from bot.config.settings import alert_tokens as alert_tokens_from_environment
    from bot.http.app import create_app
    from bot.nochat import LoggedEffects, LoggedNotifier

    surface = None if mode == "off" else slack_surface(opsbot, slack, socket=mode == "socket")
    if surface is not None:
        from bot.slack.alerts import SlackAlertEffects
        from bot.slack.notifier import SlackNotifier

        carry_out = SlackAlertEffects(surface.conversations).carry_out
        notifier: Notifier = SlackNotifier(opsbot.slack_client or slack_thread_client(slack, opsbot.metrics))
    else:
        carry_out, notifier = LoggedEffects(opsbot.services.evidence.snapshot).carry_out, LoggedNotifier()
    tokens = alert_tokens_from_environment() if alert_tokens is None else alert_tokens
    alerts = AlertEndpoint(opsbot.alerts, tokens, carry_out, opsbot.metrics.alert)
    runner = scheduler_for(opsbot, notifier) if scheduler else None
    if surface is not None and runner is not None:
        surface.leader = lambda: runner.is_leader  # the leader reconciles incidents without a channel
        surface.conversations.on_opened = runner.poke  # a new incident's first page goes out at once
    status = status_site(opsbot)
    app = create_app(opsbot.metrics, opsbot.store.ping, alerts, scheduler=runner, slack=surface,
                     shutdown_timeout=slack.opsbot_shutdown_timeout, calendar=calendar_feed(opsbot),
                     status=status, web=web_site(opsbot))
    return Served(app=app, alerts=alerts, slack=surface, scheduler=runner, status=status)


def calendar_feed(opsbot: Opsbot) -> Callable[[str, str], bytes | None] | None:
    """The on-call calendars for GET /oncall/<schedule>.ics, when OPSBOT_CALENDAR_TOKEN is set: a week back and 90
    days ahead; None (a 404) for a wrong token or an unknown schedule."""
    import hmac

    from bot.core.oncall import shifts
    from bot.core.oncall_overrides import Overrides
    from bot.views.calendar import schedule_calendar

    if opsbot.settings.calendar_token is None:
        return None
    token = opsbot.settings.calendar_token.get_secret_value()

    def feed(name: str, given: str) -> bytes | None:
        schedule = opsbot.catalog.oncall.schedules.get(name)
        if not hmac.compare_digest(given.encode(), token.encode()) or schedule is None:
            return None
        now = utcnow()
        overrides = Overrides(opsbot.store, opsbot.catalog, utcnow).active(name)
        return schedule_calendar(name, schedule.zone, shifts(schedule, now - timedelta(days=7), now + timedelta(days=90),
                                                             overrides=overrides))

    return feed


def web_site(opsbot: Opsbot) -> WebSite:
    """The signed-in web view (/ui/): sign-in links and sessions (bot/core/web_auth.py), pages (bot/webui.py)."""
    from bot.core.web_auth import WebAuth
    from bot.http.web import WebAccess, WebSite
    from bot.timeparse import parse_duration
    from bot.webui import WebUI

    settings = opsbot.settings
    try:
        session = parse_duration(settings.web_session)
    except ValueError as exc:
        raise ConfigError([f"OPSBOT_WEB_SESSION: {exc}"]) from exc
    auth = WebAuth(opsbot.store, opsbot.services.incidents.clock, session)
    access = WebAccess(link_holder=auth.link_holder, sign_in=auth.sign_in, user_of=auth.user_of, sign_out=auth.sign_out,
                       session_s=int(session.total_seconds()), user_header=settings.web_user_header,
                       trusted_proxies=[p.strip() for p in settings.web_trusted_proxies.split(",") if p.strip()])
    key, witnesses = audit_key(settings), audit_witnesses(settings)

    def verify_chain():
        """As `opsbot audit verify` does it (the witnesses' checkpoints and their signatures), with the last one."""
        checkpoints = [checkpoint for witness in witnesses for checkpoint in witness.checkpoints()]
        result = opsbot.services.records.verify_audit(key, checkpoints, public_key=public_key(settings, None))
        return result, max(checkpoints, key=lambda c: c.head.seq, default=None)

    ui = WebUI(opsbot.services, verify_chain, user_zones(opsbot), slack_workspace(opsbot))
    return WebSite(access, ui.render)


def slack_workspace(opsbot: Opsbot) -> Callable[[], str | None]:
    """The workspace's address (auth.test's `url`, asked once), for links from the web view back to Slack."""
    known: list[str | None] = []

    def url() -> str | None:
        if opsbot.slack_client is None:
            return None
        if not known:
            try:
                known.append(opsbot.slack_client.auth_test().get("url"))
            except Exception:  # noqa: BLE001 — without it the pages simply have no Slack links
                return None
        return known[0]

    return url


def user_zones(opsbot: Opsbot) -> Callable[[str], str | None]:
    """A person's time zone from their Slack profile (users.info, cached an hour), when Slack is configured."""
    client = opsbot.slack_client
    known: dict[str, tuple[float, str | None]] = {}

    def zone_of(user: str) -> str | None:
        if client is None:
            return None
        import time

        cached = known.get(user)
        if cached is not None and time.monotonic() - cached[0] < 3600:
            return cached[1]
        try:
            found = client.users_info(user=user).get("user") or {}
            zone = found.get("tz") if isinstance(found.get("tz"), str) else None
        except Exception:  # noqa: BLE001 — a zone is a nicety: the page shows UTC
            zone = None
        known[user] = (time.monotonic(), zone)
        return zone

    return zone_of


def status_site(opsbot: Opsbot, check_every_s: float = 1.0) -> StatusSite:
    """The public status page of `opsbot serve`: rendered on each change of the store's page version."""
    from bot.http.status import StatusSite
    from bot.views.status_site import render_site

    status = opsbot.services.status
    return StatusSite(status.version, lambda: render_site(status.view()), check_every_s)


def slack_surface(opsbot: Opsbot, slack: SlackSettings, socket: bool = False) -> SlackSurface:
    """The Bolt app over one metered client (every Web API call counted by method and error), its listeners on
    the one pipeline, the conversations adapter, and Socket Mode's WebSocket when `socket`."""
    from slack_bolt.async_app import AsyncApp
    from slack_sdk.http_retry.builtin_async_handlers import AsyncRateLimitErrorRetryHandler

    from bot.slack.app import (
        SkipTokenNotice,
        SlackHandlers,
        StartupAuthorization,
        pipeline_for,
    )
    from bot.slack.conversations import SlackConversations
    from bot.slack.metered import MeteredWebClient
    from bot.slack.socket_mode import SocketMode
    from bot.slack.surface import SlackSurface

    bolt_log = logging.getLogger("slack_bolt.AsyncApp")
    if not any(isinstance(f, SkipTokenNotice) for f in bolt_log.filters):
        bolt_log.addFilter(SkipTokenNotice())
    client = MeteredWebClient(opsbot.metrics, token=slack.slack_bot_token, base_url=slack.opsbot_slack_api_url)
    client.retry_handlers.append(AsyncRateLimitErrorRetryHandler(max_retry_count=3))  # after Slack's Retry-After
    # Over HTTP the gate (bot/slack/gate.py) verifies every request before anything is parsed; Socket Mode needs no
    # signature. Bolt's own check would only repeat it (and refuse the gate's re-encoded slash-command bodies).
    bolt = AsyncApp(client=client, signing_secret=slack.slack_signing_secret, request_verification_enabled=False,
                    authorize=StartupAuthorization(client))  # type: ignore[arg-type]  # Bolt takes AsyncAuthorize
    conversations = SlackConversations(client, opsbot.services.incidents, opsbot.catalog,
                                       opsbot.services.evidence.snapshot, opsbot.services.search)
    pipeline = pipeline_for(opsbot, slack)
    SlackHandlers(opsbot, conversations, pipeline).register(bolt)
    socket_mode = SocketMode(bolt, slack.slack_app_token or "") if socket else None
    return SlackSurface(bolt, conversations, pipeline, slack.slack_signing_secret, socket_mode)


def slack_thread_client(slack: SlackSettings, metrics: Metrics) -> WebClient:
    """The synchronous client of the Slack uses that run in threads, metered like the async one; 429s are retried
    after Slack's Retry-After."""
    from slack_sdk.http_retry.builtin_handlers import RateLimitErrorRetryHandler

    from bot.slack.metered import MeteredSyncWebClient

    client = MeteredSyncWebClient(metrics, token=slack.slack_bot_token, base_url=slack.opsbot_slack_api_url, timeout=10)
    client.retry_handlers.append(RateLimitErrorRetryHandler(max_retry_count=3))
    return client


def serve(opsbot: Opsbot, slack: SlackSettings, mode: Mode, host: str = "0.0.0.0", scheduler: bool = True) -> None:
    """`opsbot serve` until SIGTERM: the HTTP app on PORT (health, metrics, alert intake, and Slack's events over
    HTTP unless Slack is off or in Socket Mode) and, unless another replica sends them, the scheduler — stopped
    on the way out, which releases its leader lock."""
    from bot import version
    from bot.http.server import run
    from bot.logs import START
    from bot.store import hide_password

    parts = served(opsbot, slack, mode, scheduler=scheduler)
    runner = parts.scheduler
    reminders = "" if runner is None else (" reminders=log" if mode == "off" else " reminders=slack")
    # The one start-up line (INFO, shown whatever OPSBOT_LOG_LEVEL): which build serves what, never a secret.
    logging.getLogger(START).info("opsbot %s serving: slack=%s port=%s store=%s catalog=%s scheduler=%s%s", version(),
             "off" if mode == "off" else f"on mode={mode}", slack.port, hide_password(opsbot.settings.database_url),
             opsbot.catalog_path or "built-in", "on" if runner else "off", reminders)
    if mode != "off" and "web_url" not in opsbot.settings.model_fields_set:
        # Slack hands out sign-in links (/opsbot login) to people on other machines: localhost is theirs, not ours.
        log.warning("OPSBOT_WEB_URL is not set: /opsbot login links point at %s, which opens only on this machine; "
                    "set it to the address people reach opsbot at", opsbot.settings.web_url)
    if runner is not None:
        opsbot.metrics.watch_leader(lambda: runner.is_leader)
        runner.start()
    try:
        run(parts.app, host, slack.port, slack.opsbot_shutdown_timeout,
            on_stop=parts.slack.stop_deliveries if parts.slack is not None else None,
            trusted_proxies=[p.strip() for p in opsbot.settings.web_trusted_proxies.split(",") if p.strip()],
            status=parts.status)
    finally:
        if runner is not None:
            runner.stop()  # releases the leader lock: a standby takes over on its next tick
            log.info("scheduler stopped; leader lock released")
