"""A status page that cannot quietly lie (bot/core/status_watch.py), from `/ops health` through the router: checks
that fail under a component the page calls operational are said once, with the command that would publish; a
public incident whose components' checks have all passed for 30 minutes is asked about monitoring, once. Nothing is
ever published by opsbot itself. The scheduler leader runs the same comparison every `status_page.watch_every`, when
nobody runs `/ops health`. Real TCP checks on loopback, on both stores; the Slack surface is
test_a_notice_reaches_the_announcement_channel_through_the_served_app."""
from __future__ import annotations

import socket
from datetime import UTC, datetime, timedelta

import pytest

from bot.app import build_services
from bot.config import Catalog
from bot.core.effects import StatusPageNotice
from bot.views.status import notice_text
from commands.base import Context
from commands.router import Router
from tests.poll import wait_until

OPS = Context(user="U_OPS", source="console")


@pytest.fixture
def listening():
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen()
    yield server.getsockname()[1]
    server.close()


def closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]  # nothing listens there once it is closed


def make(store, clock, port: int, **page):
    catalog = Catalog.model_validate({
        "environments": {"prod": {"services": {"api": {}}, "checks": [
            {"name": "api-up", "kind": "tcp", "host": "127.0.0.1", "port": port, "timeout_s": 1}]}},
        "roles": {"prod": {"operator": ["U_OPS"]}},
        "status_page": {"components": [{"name": "API", "services": ["prod/api"], "checks": ["prod/api-up"]},
                                       {"name": "Docs"}], **page}})
    services = build_services(store, catalog, clock=clock)
    return Router(services), services


class Said:
    """The scheduler's notifier (bot/core/ports.py Notifier): what it said, where."""

    def __init__(self):
        self.lines: list[tuple[str, str]] = []

    def say(self, channel: str, text: str) -> None:
        self.lines.append((channel, text))

    def post(self, reminder, checklist) -> None:
        pass

    def set_group(self, group, users) -> None:
        pass


def scheduled(store, clock, port: int, **page):
    """The router and the scheduler leader's engine over one catalog, as `opsbot serve` composes them."""
    from bot.app import status_watcher
    from bot.scheduler.engine import ReminderEngine

    router, services = make(store, clock, port, **page)
    said = Said()
    catalog = services.incidents.catalog
    engine = ReminderEngine(store, catalog, services.incidents, said,
                            watch_status=status_watcher(services, catalog, said))
    return router, engine, said


def notices(reply) -> list[str]:
    """What the channel is told (the effects the surfaces carry out, as they render them)."""
    return [notice_text(e) for e in reply.effects if isinstance(e, StatusPageNotice)]


def test_a_failing_component_the_page_calls_operational_is_said_once_and_nothing_is_published(store, clock):
    router, _ = make(store, clock, closed_port())
    first = router.handle("/ops", "health prod", OPS)
    (said,) = notices(first)
    assert "The status page says API is operational, but its checks fail (prod/api-up)" in said
    assert "`/incident publish INC-n PUBLIC TITLE --components API`" in said
    assert notices(router.handle("/ops", "health prod", OPS)) == []  # once per outage
    assert store.public_incidents() == [] and store.status_version() == 0  # never published by itself
    assert router.handle("/incident", "open p1 API down --env prod --service api", OPS).ok
    assert router.handle("/incident", "publish INC-1 API unavailable", OPS).ok
    assert notices(router.handle("/ops", "health prod", OPS)) == []  # a public incident names it now


def test_a_public_incident_healthy_for_30_minutes_is_asked_about_monitoring_once(store, clock, listening):
    router, _ = make(store, clock, listening)
    assert router.handle("/incident", "open p1 API errors --env prod --service api", OPS).ok
    assert router.handle("/incident", "publish INC-1 Elevated errors", OPS).ok
    assert notices(router.handle("/ops", "health prod", OPS)) == []  # healthy from now on
    clock.advance(minutes=29)
    assert notices(router.handle("/ops", "health prod", OPS)) == []
    clock.advance(minutes=2)
    (asked,) = notices(router.handle("/ops", "health prod", OPS))
    assert "Every check of INC-1's public components has passed for 31 minutes" in asked
    assert "`/incident update INC-1 WHAT YOU SEE --public --state monitoring`" in asked
    clock.advance(minutes=10)
    assert notices(router.handle("/ops", "health prod", OPS)) == []  # asked once
    assert store.public_incident_for(1).state.value == "investigating"  # a person decides


def test_a_failure_in_between_restarts_the_30_minutes(store, clock, listening):
    router, _ = make(store, clock, listening)
    assert router.handle("/incident", "open p1 API errors --env prod --service api", OPS).ok
    assert router.handle("/incident", "publish INC-1 Elevated errors", OPS).ok
    router.handle("/ops", "health prod", OPS)
    clock.advance(minutes=20)
    down, _ = make(store, clock, closed_port())
    assert notices(down.handle("/ops", "health prod", OPS)) == []  # failing, and the page already says so
    clock.advance(minutes=20)
    assert notices(router.handle("/ops", "health prod", OPS)) == []  # healthy again only from now
    clock.advance(minutes=31)
    assert len(notices(router.handle("/ops", "health prod", OPS))) == 1


def test_a_notice_reaches_the_announcement_channel_through_the_served_app(fake_slack, sqlite_url, tmp_path):
    """Slack: `/ops health prod` typed outside any incident channel; the notice goes to the announcement channel."""
    from tests.integration.conftest import serving

    config = tmp_path / "opsbot.yml"
    config.write_text(f"""
announce_channel: incidents
environments:
  prod:
    services: {{api: {{}}}}
    checks: [{{name: api-up, kind: tcp, host: 127.0.0.1, port: {closed_port()}, timeout_s: 1}}]
status_page:
  components: [{{name: API, services: [prod/api], checks: [prod/api-up]}}]
""")
    with serving(fake_slack, sqlite_url, config=config) as slack:
        slack.command("health prod", command="/ops")
        said = wait_until(lambda: next((c for c in fake_slack.calls_to("chat.postMessage")
                                        if "The status page says API is operational" in c.params.get("text", "")),
                                       None), timeout=10, what="the status page notice")
        assert said.params["channel"] == "incidents"
        assert "--components API" in said.params["text"]


def test_the_scheduler_compares_the_page_with_the_checks_when_nobody_runs_ops_health(store, clock):
    router, engine, said = scheduled(store, clock, closed_port())
    engine.watch_status_page(clock())  # taking the lead: the first comparison is one period later
    clock.advance(minutes=4)
    engine.watch_status_page(clock())
    assert said.lines == []
    clock.advance(minutes=1)
    engine.watch_status_page(clock())
    ((channel, text),) = said.lines
    assert channel == "incidents" and "The status page says API is operational, but its checks fail" in text
    assert "`/incident publish INC-n PUBLIC TITLE --components API`" in text
    clock.advance(minutes=5)
    engine.watch_status_page(clock())
    assert len(said.lines) == 1  # once per outage, whichever run saw it
    assert store.public_incidents() == [] and store.status_version() == 0  # never published by itself
    assert notices(router.handle("/ops", "health prod", OPS)) == []  # a person's run knows it was said


def test_the_scheduler_asks_about_monitoring_after_30_healthy_minutes_and_never_moves_the_incident(
        store, clock, listening):
    router, engine, said = scheduled(store, clock, listening)
    assert router.handle("/incident", "open p1 API errors --env prod --service api", OPS).ok
    assert router.handle("/incident", "publish INC-1 Elevated errors", OPS).ok
    for _ in range(8):  # 40 minutes of passing checks, nobody typing anything
        engine.watch_status_page(clock())
        clock.advance(minutes=5)
    engine.watch_status_page(clock())
    asks = [text for _, text in said.lines]
    assert len(asks) == 1 and "Every check of INC-1's public components has passed for 3" in asks[0]
    assert "`/incident update INC-1 WHAT YOU SEE --public --state monitoring`" in asks[0]
    assert store.public_incident_for(1).state.value == "investigating"  # a person decides


def test_watch_every_null_leaves_it_to_ops_health(store, clock):
    router, engine, said = scheduled(store, clock, closed_port(), watch_every=None)
    for _ in range(4):
        engine.watch_status_page(clock())
        clock.advance(minutes=10)
    assert said.lines == []
    assert len(notices(router.handle("/ops", "health prod", OPS))) == 1


class AlwaysLeader:
    """The leader lock (bot/scheduler/leader.py), held by this process throughout: leadership is not what is tested."""

    def try_acquire(self) -> bool:
        return True

    def held(self) -> bool:
        return True

    def release(self) -> None:
        pass


def test_checks_that_hang_never_hold_back_the_schedulers_tick(store, clock):
    """The scheduled comparison runs beside the tick, not in it: while a component's check hangs (up to its
    timeout in life; here until released), reminders, escalations and timers keep their 5-second tick."""
    import threading

    from bot.scheduler.runner import SchedulerRunner

    clock.now = datetime.now(UTC)  # APScheduler counts its first run from the clock's time: start from now
    _, engine, _ = scheduled(store, clock, closed_port())
    engine.settings = engine.settings.model_copy(update={"tick": timedelta(milliseconds=50)})
    hanging, release, ticks = threading.Event(), threading.Event(), []
    engine.watch_status = lambda: (hanging.set(), release.wait(30))
    real_tick = engine.tick
    engine.tick = lambda now: (ticks.append(now), real_tick(now))
    runner = SchedulerRunner(engine, AlwaysLeader(), clock=clock)
    runner.start()
    try:
        wait_until(lambda: ticks and engine._watched_at is not None, timeout=10, what="the first tick and watch")
        clock.advance(minutes=5)  # one watch period later: the next watch runs the (hanging) checks
        assert hanging.wait(10), "the scheduled comparison did not run"
        seen = len(ticks)
        wait_until(lambda: len(ticks) >= seen + 5, timeout=10, what="ticks while the checks hang")
    finally:
        release.set()
        runner.stop()
    assert runner.is_leader is False
