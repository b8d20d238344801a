"""GET /metrics of the served app: what each figure counts, after real signed Slack requests."""
from __future__ import annotations

import sys
import time
from datetime import timedelta

import pytest
from prometheus_client.parser import text_string_to_metric_families

from bot.app import build
from bot.config import Catalog, Settings
from bot.core.reminders import Reminder
from bot.errors import BackendError
from bot.metrics import StoreFigures
from bot.timeparse import utcnow
from tests.integration.conftest import free_port


def scrape(slack) -> dict[tuple[str, tuple], float]:
    response = slack.http.get("/metrics")
    assert response.status_code == 200 and response.headers["content-type"].startswith("text/plain")
    return {(sample.name, tuple(sorted(sample.labels.items()))): sample.value
            for family in text_string_to_metric_families(response.text) for sample in family.samples}


def scraped_until(slack, condition, timeout: float = 15.0):
    """Scrape until `condition(samples)` holds: replies run after the ack, concurrently."""
    deadline = time.monotonic() + timeout
    while True:
        samples = scrape(slack)
        if condition(samples) or time.monotonic() > deadline:
            return samples
        time.sleep(0.05)


def value(samples, name: str, **labels) -> float:
    return samples.get((name, tuple(sorted(labels.items()))), 0.0)


def test_metrics_count_commands_latency_slack_calls_incidents_ops_and_checks(slack):
    slack.opsbot.services.ops.catalog = Catalog.model_validate({"environments": {"dev": {
        "checks": [{"name": "gone", "kind": "tcp", "host": "127.0.0.1", "port": free_port(), "timeout_s": 2}],
        "runbook": {"hello": {"argv": [sys.executable, "-c", "print('hi')"]}}}}})
    slack.fake.fail_next("conversations.setTopic", "missing_scope")
    slack.command("open p1 Checkout is down")
    slack.fake.wait_for("pins.add")
    slack.command("ack INC-1")
    slack.command("resolve INC-1 rolled back")
    slack.command("frobnicate now")  # not a sub-command: an error reply, labelled by the command alone
    slack.command("health dev", command="/ops")
    slack.command("run hello dev", command="/ops")
    # The store's figures follow a moment after the change (read by their own thread, off the scrape's path).
    samples = scraped_until(slack, lambda found: value(found, "opsbot_reply_seconds_count") == 6 and
                            value(found, "opsbot_audit_records") == slack.opsbot.store.audit_head().seq and
                            ("opsbot_incidents_open", (("severity", "P1"),)) in found)
    assert value(samples, "opsbot_commands_total", command="/incident open", outcome="ok") == 1
    assert value(samples, "opsbot_commands_total", command="/incident", outcome="error") == 1
    assert value(samples, "opsbot_commands_total", command="/ops run", outcome="ok") == 1
    assert value(samples, "opsbot_ack_seconds_count") == 6 and value(samples, "opsbot_reply_seconds_count") == 6
    assert value(samples, "opsbot_slack_api_calls_total", method="conversations.create") == 1
    assert value(samples, "opsbot_slack_api_errors_total", method="conversations.setTopic", error="missing_scope") == 1
    assert value(samples, "opsbot_incident_mtta_seconds_count", severity="P1") == 1
    assert value(samples, "opsbot_incident_mttr_seconds_count", severity="P1") == 1
    assert value(samples, "opsbot_incidents_open", severity="P1") == 0  # resolved: no longer open
    assert value(samples, "opsbot_ops_actions_total", action="run", env="dev", outcome="succeeded") == 1
    assert value(samples, "opsbot_check_results_total", kind="tcp", level="crit") == 1
    assert value(samples, "opsbot_audit_records") == slack.opsbot.store.audit_head().seq > 0
    assert value(samples, "opsbot_scheduler_leader") == 0  # no scheduler in this process
    assert value(samples, "opsbot_reminders_total", outcome="sent") == 0


def open_by_severity(samples) -> dict[str, float | None]:
    return {sev: value(samples, "opsbot_incidents_open", severity=sev) for sev in ("P0", "P1", "P2")}


def test_open_incidents_by_severity_follow_this_process_changes_at_once(slack):
    slack.command("open p0 Everything is down")
    slack.command("open p2 One page is slow")
    slack.command("open p2 Another page is slow")
    started = time.monotonic()
    scraped_until(slack, lambda found: value(found, "opsbot_reply_seconds_count") == 3)
    # Read by the figures' thread when this process changed an incident, not on the scrape's path.
    samples = scraped_until(slack, lambda found: open_by_severity(found) == {"P0": 1, "P1": 0, "P2": 2}, timeout=3)
    assert open_by_severity(samples) == {"P0": 1, "P1": 0, "P2": 2}
    assert time.monotonic() - started < StoreFigures.REFRESH_EVERY  # not merely the periodic refresh


def test_open_incidents_changed_by_another_replica_show_within_the_refresh_period(slack):
    figures = slack.opsbot.metrics.store_figures
    scraped_until(slack, lambda found: open_by_severity(found)["P1"] == 0)
    other_replica = build(settings=Settings(database_url=slack.opsbot.settings.database_url))
    try:
        other_replica.services.incidents.open("U_BOB", "p1", "Opened on the other replica")
    finally:
        other_replica.close()
    samples = scraped_until(slack, lambda found: open_by_severity(found)["P1"] == 1,
                            timeout=figures.REFRESH_EVERY + 3)
    assert open_by_severity(samples) == {"P0": 0, "P1": 1, "P2": 0}


def test_malformed_requests_to_metrics_get_no_500(slack):
    assert slack.http.post("/metrics", content=b"\xff" * 100).status_code == 404
    assert slack.http.get("/metrics?%%%=&x", headers={"Accept": "*/*;;q=x"}).status_code == 200  # odd, ignored
    # A control character in a header is refused by the HTTP parser itself (httptools): a 400, never a 500.
    assert slack.http.get("/metrics", headers={"Accept": "\x01garbage"}).status_code == 400
    assert slack.http.request("DELETE", "/metrics").status_code == 404


def test_settled_reminders_are_counted_by_outcome(sqlite_url):
    opsbot = build(settings=Settings(database_url=sqlite_url))
    try:
        now = utcnow()
        for key in ("a", "b", "c"):
            opsbot.store.add_reminder(Reminder(key=key, kind="recurring", due_at=now - timedelta(minutes=1),
                                               channel="ops", text="x"))
        [a, b, c] = opsbot.store.reminders()
        assert opsbot.store.settle_reminder(a.model_copy(update={"status": "sent"}))
        assert opsbot.store.settle_reminder(b.model_copy(update={"status": "missed"}))
        assert not opsbot.store.settle_reminder(b.model_copy(update={"status": "sent"}))  # lost the race: not sent
        assert opsbot.store.settle_reminder(c.model_copy(update={"status": "sent"}))
        assert opsbot.store.settle_reminder(c.model_copy(update={"status": "failed"}), expected="sent")
        text = opsbot.metrics.exposition().decode()
        assert 'opsbot_reminders_total{outcome="sent"} 2.0' in text
        assert 'opsbot_reminders_total{outcome="missed"} 1.0' in text
        assert 'opsbot_reminders_total{outcome="failed"} 1.0' in text
    finally:
        opsbot.close()


def test_store_errors_are_counted_and_the_scrape_still_answers(pg_url, pg_server):
    import psycopg

    opsbot = build(settings=Settings(database_url=pg_url))
    try:
        name = pg_url.rsplit("/", 1)[1]
        with psycopg.connect(pg_server, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE "{name}" WITH (FORCE)')
        with pytest.raises(BackendError):
            opsbot.store.list_incidents()
        opsbot.metrics.exposition()
        text = opsbot.metrics.exposition().decode()  # a failed scrape shows in the next one
        assert 'opsbot_store_errors_total{operation="list_incidents"} 1.0' in text
        assert 'opsbot_store_errors_total{operation="scrape"} 1.0' in text
        assert "opsbot_incidents_open{" not in text  # no figure rather than a wrong one
    finally:
        opsbot.close()

