"""opsbot's own metrics (`GET /metrics`), on a registry of their own: one `Metrics` per built app, so tests and
several apps in one process never share counters.

What is counted where:
- commands, ack/reply latency, Slack API calls: the Slack surface (bot/slack) calls the `Metrics` methods;
- check results: the check runner's observer;
- ops actions (audit outcomes), MTTA/MTTR, reminders, store errors: `MeteredStore`, the store as the services
  see it, so the core needs no hook and knows nothing of Prometheus;
- incidents open by severity, audit records: read from the database (`StoreCollector`), so the figures are right
  across replicas; `opsbot serve` reads them in a thread of their own (`StoreFigures`) — at once after this
  process changes an incident, and every few seconds for what other replicas change — so a scrape never waits
  for the database nor for a thread: under load, a hop to a thread costs more than the whole exposition;
- scheduler leader: asked of the scheduler at scrape time.
"""
from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
)
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector

from bot.core.audit import OUTCOMES
from bot.core.models import EventKind, Status
from bot.errors import BackendError

if TYPE_CHECKING:
    from prometheus_client.metrics_core import Metric

    from bot.core.audit import AuditRecord
    from bot.core.models import Event, Incident
    from bot.core.ports import CheckResult, Store
    from bot.core.reminders import Reminder

log = logging.getLogger("opsbot.metrics")
# Slack wants an ack within 3 s; replies may take longer (a health fan-out, an evidence bundle).
ACK_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.0, 3.0, 5.0)
REPLY_BUCKETS = (0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 300.0)
# Incident response targets run from 15 minutes (P0) to a business day; resolution from minutes to days.
MTTA_BUCKETS = (60, 300, 900, 1800, 3600, 4 * 3600, 8 * 3600, 24 * 3600, 72 * 3600)
MTTR_BUCKETS = (300, 900, 1800, 3600, 4 * 3600, 8 * 3600, 24 * 3600, 72 * 3600, 7 * 24 * 3600)


class Metrics:
    """Every metric opsbot exports. The methods are what the rest of opsbot calls; no caller touches a label."""

    content_type = CONTENT_TYPE_LATEST  # of the exposition

    def __init__(self) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        r = self.registry
        self.commands = Counter("opsbot_commands", "Commands handled, by command and outcome (ok, refused, error)",
                                ["command", "outcome"], registry=r)
        self.ack_seconds = Histogram("opsbot_ack_seconds", "From the listener receiving a delivery to its ack",
                                     buckets=ACK_BUCKETS, registry=r)
        self.reply_seconds = Histogram("opsbot_reply_seconds", "From the listener receiving a delivery to the end "
                                       "of its work (reply sent)", buckets=REPLY_BUCKETS, registry=r)
        self.slack_calls = Counter("opsbot_slack_api_calls", "Slack Web API calls, by method", ["method"], registry=r)
        self.slack_errors = Counter("opsbot_slack_api_errors", "Slack Web API calls that failed, by method and error",
                                    ["method", "error"], registry=r)
        self.ops_actions = Counter("opsbot_ops_actions", "Ops actions by action, environment and outcome (the audit "
                                   "log's final phases)", ["action", "env", "outcome"], registry=r)
        self.checks = Counter("opsbot_check_results", "Health check results, by kind and level",
                              ["kind", "level"], registry=r)
        self.mtta = Histogram("opsbot_incident_mtta_seconds", "Time from declaring an incident to acknowledging it",
                              ["severity"], buckets=MTTA_BUCKETS, registry=r)
        self.mttr = Histogram("opsbot_incident_mttr_seconds", "Time from declaring an incident to resolving it",
                              ["severity"], buckets=MTTR_BUCKETS, registry=r)
        self.reminders = Counter("opsbot_reminders", "Reminders settled, by outcome (sent, missed, failed)",
                                 ["outcome"], registry=r)
        self.store_errors = Counter("opsbot_store_errors", "Store calls that failed (database unreachable, ...)",
                                    ["operation"], registry=r)
        self.alerts = Counter("opsbot_alerts_received", "Alert deliveries, by source and outcome (opened, joined a storm, updated, "
                              "resolved, noted, unchanged, ignored, duplicate, malformed, unauthenticated, ...)",
                              ["source", "outcome"], registry=r)
        self.busy = Counter("opsbot_busy_refusals", "Slack deliveries refused at once because too many acked ones "
                            "were waiting for a worker (OPSBOT_SLACK_QUEUE)", registry=r)
        for outcome in ("sent", "missed", "failed"):  # present at 0 from the start: rate() needs the series
            self.reminders.labels(outcome)
        self._leader: Callable[[], bool] = lambda: False
        self.store_figures: StoreFigures | None = None
        Gauge("opsbot_scheduler_leader", "1 while this process is the scheduler leader", registry=r) \
            .set_function(lambda: 1.0 if self._leader() else 0.0)

    # --- what the surfaces and adapters report -------------------------------------------------------------
    def command(self, command: str, outcome: str) -> None:
        self.commands.labels(command, outcome).inc()

    def acked(self, seconds: float) -> None:
        self.ack_seconds.observe(seconds)

    def replied(self, seconds: float) -> None:
        self.reply_seconds.observe(seconds)

    def slack_call(self, method: str, error: str | None = None) -> None:
        self.slack_calls.labels(method).inc()
        if error is not None:
            self.slack_errors.labels(method, error).inc()

    def refused_busy(self) -> None:
        self.busy.inc()

    def alert(self, source: str, outcome: str) -> None:
        self.alerts.labels(source, outcome).inc()

    def check_result(self, result: CheckResult) -> None:
        self.checks.labels(result.kind, result.level).inc()

    def watch_leader(self, is_leader: Callable[[], bool]) -> None:
        """The scheduler of `opsbot serve` says whether it leads (read at each scrape)."""
        self._leader = is_leader

    def collect_from(self, store: Store, severities: Sequence[str] = ()) -> None:
        """`severities`: the catalog's, each exported even at 0 open (an absent series reads as "no data")."""
        self.store_figures = StoreFigures(store, self.store_errors)
        self.registry.register(StoreCollector(self.store_figures, severities))

    def store_changed(self) -> None:
        """This process changed what the store-read figures count: refresh them now (if they are kept fresh)."""
        if self.store_figures is not None:
            self.store_figures.changed.set()

    def exposition(self) -> bytes:
        """The text format Prometheus scrapes."""
        return generate_latest(self.registry)


@dataclass(frozen=True)
class Figures:
    open_by_severity: dict[str, int]
    audit_records: int


class StoreFigures:
    """The figures read from the database. Without `start()` each scrape reads them (console, tests); once
    started, a thread of their own keeps `latest` current and a scrape only reads memory."""

    REFRESH_EVERY = 5.0  # seconds: how stale another replica's change may be (scrape intervals are 15 s and up)
    MIN_GAP = 0.2  # seconds between reads, so a burst of changes costs one read, not one each

    def __init__(self, store: Store, errors: Counter):
        self.store, self.errors = store, errors
        self.latest: Figures | None = None  # None: the last read failed (the scrape then leaves the figures out)
        self.changed = threading.Event()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def read(self) -> Figures | None:
        try:
            head = self.store.audit_head()
            return Figures(self.store.open_by_severity(), head.seq if head is not None else 0)
        except BackendError:  # the scrape still answers, with the store-error counter showing why figures lack
            self.errors.labels("scrape").inc()
            log.warning("metrics: the store is unreachable; the store's figures are left out")
            return None

    def current(self) -> Figures | None:
        return self.latest if self._thread is not None else self.read()

    def start(self) -> None:
        self._stop.clear()
        self.latest = self.read()
        self._thread = threading.Thread(target=self._keep_fresh, name="opsbot-metrics", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self.changed.set()
        if self._thread is not None:
            self._thread.join(5)
            self._thread = None

    def _keep_fresh(self) -> None:
        while not self._stop.is_set():
            self.changed.wait(self.REFRESH_EVERY)
            self.changed.clear()
            if self._stop.is_set():
                return
            try:
                self.latest = self.read()
            except Exception:  # a bug must not freeze the figures at their last values: leave them out, go on
                log.exception("metrics: reading the store's figures failed")
                self.latest = None
            self._stop.wait(self.MIN_GAP)


class StoreCollector(Collector):
    def __init__(self, figures: StoreFigures, severities: Sequence[str] = ()):
        self.figures = figures
        self.severities = severities

    def describe(self) -> list[Metric]:  # no store query when the collector is registered
        return [GaugeMetricFamily("opsbot_incidents_open", "", labels=["severity"]),
                GaugeMetricFamily("opsbot_audit_records", "")]

    def collect(self) -> Iterator[Metric]:
        figures = self.figures.current()
        if figures is None:
            return
        family = GaugeMetricFamily("opsbot_incidents_open", "Incidents not yet resolved, by severity",
                                   labels=["severity"])
        counts = dict.fromkeys(self.severities, 0) | figures.open_by_severity
        for severity, count in sorted(counts.items()):
            family.add_metric([severity], count)
        yield family
        yield GaugeMetricFamily("opsbot_audit_records", "Records in the audit log (the head's sequence number)",
                                value=figures.audit_records)


# Store calls (besides save_incident and append_audit below) that may open or close incidents or audit something.
CHANGE_FIGURES = frozenset({"create_incident", "import_incident", "record_alerts", "create_window", "change_window"})


class MeteredStore:
    """The store the services use, counting on the way: ops-action outcomes (audit records), time to acknowledge
    and resolve (status events), settled reminders and store errors. Everything else passes straight through."""

    def __init__(self, store: Store, metrics: Metrics):
        self._store = store
        self._metrics = metrics

    def __getattr__(self, name: str) -> Any:
        attr = getattr(self._store, name)
        if not callable(attr) or name.startswith("_"):
            return attr

        def call(*args: Any, **kwargs: Any) -> Any:
            try:
                result = attr(*args, **kwargs)
            except BackendError:
                self._metrics.store_errors.labels(name).inc()
                raise
            if name in CHANGE_FIGURES:
                self._metrics.store_changed()
            return result
        return call

    def append_audit(self, record: AuditRecord, timeline: tuple[int, Event] | None = None) -> AuditRecord:
        stored = self._call("append_audit", self._store.append_audit, record, timeline)
        self._metrics.store_changed()
        if record.phase in OUTCOMES and record.env is not None:
            self._metrics.ops_actions.labels(record.action, record.env, record.phase).inc()
        return stored

    def save_incident(self, incident: Incident, events: list[Event], audit: AuditRecord | None = None) -> Incident:
        saved = self._call("save_incident", self._store.save_incident, incident, events, audit)
        self._metrics.store_changed()
        self._lifecycle(saved, events)
        return saved

    def settle_reminder(self, reminder: Reminder, expected: str = "pending") -> bool:
        settled = self._call("settle_reminder", self._store.settle_reminder, reminder, expected)
        if settled and reminder.status in ("sent", "missed", "failed"):
            self._metrics.reminders.labels(reminder.status).inc()
        return settled

    def _call(self, name: str, method: Callable[..., Any], *args: Any) -> Any:
        try:
            return method(*args)
        except BackendError:
            self._metrics.store_errors.labels(name).inc()
            raise

    def _lifecycle(self, incident: Incident, events: list[Event]) -> None:
        # From the impact's start when known (an alert's startsAt), else from the declaration.
        start = incident.impact_started_at or incident.declared_at
        if incident.private:  # it exists only for its participants: not in figures anyone can scrape
            return
        for event in events:
            if event.kind != EventKind.STATUS:
                continue
            # Leaving "declared" acknowledges the incident (explicitly or implicitly).
            if event.data.get("from") == Status.DECLARED.value and incident.acknowledged_at is not None:
                self._metrics.mtta.labels(incident.severity).observe(
                    (incident.acknowledged_at - start).total_seconds())
            if event.data.get("to") == Status.RESOLVED.value and incident.resolved_at is not None:
                self._metrics.mttr.labels(incident.severity).observe(
                    (incident.resolved_at - start).total_seconds())


def elapsed_since(started: float) -> float:
    return time.perf_counter() - started
