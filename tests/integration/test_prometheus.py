"""Against a real Prometheus (Debian's package, started per test session on loopback, scraping every second):
the `prometheus` check kind reads values a local exporter sets, and opsbot's own GET /metrics is scraped."""
from __future__ import annotations

import asyncio
import math
import shutil
import subprocess
import time

import httpx
import pytest
from prometheus_client import CollectorRegistry, Gauge, start_http_server

from bot.checks.runner import CheckRunner
from bot.config.environments import Environment
from bot.core.ports import CheckResult, HealthReport
from bot.platforms import Platforms
from bot.timeparse import utcnow
from bot.views.blocks import mrkdwn
from bot.views.ops import health
from bot.views.text import to_text
from tests.integration.conftest import free_port
from tests.poll import wait_until

OPSBOT_PORT = free_port()  # where the opsbot scraped below listens: Prometheus' config is written before it starts


class Exporter:
    """A prometheus_client HTTP server in the test process; tests set its values."""

    def __init__(self):
        self.registry = CollectorRegistry()
        self.error_ratio = Gauge("test_error_ratio", "", registry=self.registry)
        self.free_ratio = Gauge("test_free_ratio", "", registry=self.registry)
        self.latency = Gauge("test_latency_seconds", "", ["instance_name"], registry=self.registry)
        self.port = free_port()
        self.server, self.thread = start_http_server(self.port, addr="127.0.0.1", registry=self.registry)

    def stop(self):
        self.server.shutdown()
        self.server.server_close()


class Prometheus:
    def __init__(self, base: str):
        self.base = base
        self.http = httpx.Client(base_url=base, timeout=5)

    def query(self, expr: str) -> list[dict]:
        return self.http.get("/api/v1/query", params={"query": expr}).json()["data"]["result"]

    def wait_for(self, expr: str, expected: float, timeout: float = 15.0) -> None:
        """Until Prometheus has scraped the value the test set."""
        def seen() -> bool:
            result = self.query(expr)
            return bool(result) and math.isclose(float(result[0]["value"][1]), expected, rel_tol=1e-9)

        wait_until(seen, timeout=timeout, what=f"Prometheus to see {expr} == {expected}", interval=0.1)


@pytest.fixture(scope="module")
def exporter():
    exporter = Exporter()
    yield exporter
    exporter.stop()


@pytest.fixture(scope="module")
def prometheus(exporter, tmp_path_factory):
    """A real Prometheus. Missing or not starting is a failure, never a skip (scripts/test.sh installs it)."""
    binary = shutil.which("prometheus")
    if binary is None:
        pytest.fail("the prometheus binary is required (apt-get install prometheus; scripts/test.sh does it)")
    work = tmp_path_factory.mktemp("prometheus")
    (work / "prometheus.yml").write_text(f"""
global: {{scrape_interval: 1s, evaluation_interval: 1s}}
scrape_configs:
  - job_name: exporter
    static_configs: [{{targets: ["127.0.0.1:{exporter.port}"]}}]
  - job_name: opsbot
    static_configs: [{{targets: ["127.0.0.1:{OPSBOT_PORT}"]}}]
""")
    port = free_port()
    log = (work / "prometheus.log").open("w")
    process = subprocess.Popen([binary, f"--config.file={work / 'prometheus.yml'}", f"--storage.tsdb.path={work / 'data'}",
                                f"--web.listen-address=127.0.0.1:{port}"], stdout=log, stderr=subprocess.STDOUT)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            if process.poll() is not None:
                pytest.fail(f"prometheus exited ({process.returncode}): {(work / 'prometheus.log').read_text()[-2000:]}")
            try:
                if httpx.get(f"{base}/-/ready", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            time.sleep(0.1)
        else:
            pytest.fail(f"prometheus did not become ready: {(work / 'prometheus.log').read_text()[-2000:]}")
        yield Prometheus(base)
    finally:
        process.terminate()
        process.wait(10)
        log.close()


def run_checks(checks: list[dict]) -> list[CheckResult]:
    env = Environment.model_validate({"checks": checks})
    return asyncio.run(CheckRunner(Platforms()).run("prod", env))


def prom_check(name: str, query: str, **extra) -> dict:
    return {"name": name, "kind": "prometheus", "url_env": "PROM_URL", "query": query, "timeout_s": 5, **extra}


def test_error_rate_check_follows_the_exporter_through_ok_warn_and_crit(prometheus, exporter, monkeypatch):
    monkeypatch.setenv("PROM_URL", prometheus.base)
    check = prom_check("error-rate", "max(test_error_ratio)", warn=0.01, crit=0.05, unit="%")
    seen = []
    for value in (0.002, 0.03, 0.07):
        exporter.error_ratio.set(value)
        prometheus.wait_for("max(test_error_ratio)", value)
        [result] = run_checks([check])
        seen.append((result.level, result.value))
    assert seen == [("ok", "0.2%"), ("warn", "3%"), ("crit", "7%")]
    assert result.threshold == "warn > 1% / crit > 5%"
    assert result.link == f"{prometheus.base}/graph?g0.expr=max%28test_error_ratio%29&g0.tab=0"
    assert httpx.get(result.link, timeout=5, follow_redirects=True).status_code == 200  # the real graph page
    text = to_text(health(HealthReport("prod", [result], 10.0), utcnow()))
    assert "error-rate (prometheus) — 7%  [warn > 1% / crit > 5%]" in text and f"graph ({result.link})" in text
    shown = mrkdwn(health(HealthReport("prod", [result], 10.0), utcnow()).parts[1].lines[0])  # as Slack shows it
    assert "*error-rate* (prometheus) — 7%  _[warn &gt; 1% / crit &gt; 5%]_" in shown


def test_direction_below_and_the_worst_of_several_series(prometheus, exporter, monkeypatch):
    monkeypatch.setenv("PROM_URL", prometheus.base + "/")  # a trailing slash is fine
    exporter.free_ratio.set(0.15)
    exporter.latency.labels("a").set(0.3)
    exporter.latency.labels("b").set(2.5)
    prometheus.wait_for("test_free_ratio", 0.15)
    prometheus.wait_for('test_latency_seconds{instance_name="b"}', 2.5)
    free, latency = run_checks([
        prom_check("disk-free", "test_free_ratio", warn=0.2, crit=0.1, unit="%", direction="below"),
        prom_check("latency", "test_latency_seconds", warn=0.5, crit=2, unit="s")])
    assert (free.level, free.value, free.threshold) == ("warn", "15%", "warn < 20% / crit < 10%")
    assert (latency.level, latency.value, latency.detail) == ("crit", "2.5 s", "worst of 2 series")


@pytest.mark.parametrize(("query", "problem"), [
    ("sum(rate(test_error_ratio[5m]", "Prometheus rejected the query (bad_data): "),
    ("test_metric_nobody_exports", "the query returned no series (an empty vector)"),
    ("0/0", "the query returned NaN"),
    ('"just a string"', "the query returned a string result, not a number"),
    ("test_error_ratio[1m]", "the query returned a range vector"),
])
def test_a_query_that_gives_no_usable_number_is_a_failed_check_saying_why(prometheus, monkeypatch, query, problem):
    monkeypatch.setenv("PROM_URL", prometheus.base)
    [result] = run_checks([prom_check("q", query, crit=1)])
    assert result.level == "crit" and result.value == "no value"
    assert result.detail.startswith(problem), result.detail


def test_unreachable_unset_or_not_prometheus_is_a_failed_check_saying_why(exporter, monkeypatch):
    closed = free_port()
    monkeypatch.setenv("DOWN_URL", f"http://user:hunter2@127.0.0.1:{closed}")
    monkeypatch.setenv("NOT_PROM_URL", f"http://127.0.0.1:{exporter.port}")  # answers, but not the API
    monkeypatch.delenv("UNSET_PROM_URL", raising=False)
    down, unset, other = run_checks([
        {**prom_check("down", "up", crit=1), "url_env": "DOWN_URL"},
        {**prom_check("unset", "up", crit=1), "url_env": "UNSET_PROM_URL"},
        {**prom_check("other", "up", crit=1), "url_env": "NOT_PROM_URL"}])
    assert down.level == "crit" and down.detail == f"Prometheus at http://127.0.0.1:{closed} is unreachable (ConnectError)"
    assert "hunter2" not in down.link and down.link.startswith(f"http://127.0.0.1:{closed}/graph?")
    assert (unset.level, unset.detail) == ("crit", "$UNSET_PROM_URL is not set (the Prometheus base URL)")
    assert other.level == "crit" and "without JSON: is it a Prometheus server?" in other.detail


@pytest.mark.parametrize("slack", [{"port": OPSBOT_PORT}], indirect=True)
def test_opsbot_metrics_are_scraped_by_the_real_prometheus(prometheus, slack):
    slack.command("open p1 Checkout is down")
    slack.fake.wait_for("pins.add")
    slack.command("ack INC-1")
    slack.fake.wait_for_response(2)
    prometheus.wait_for('opsbot_commands_total{command="/incident open",outcome="ok"}', 1)
    prometheus.wait_for('opsbot_incidents_open{severity="P1"}', 1)
    prometheus.wait_for('sum(opsbot_incident_mtta_seconds_count)', 1)
    assert prometheus.query('opsbot_slack_api_calls_total{method="conversations.create"}')
    assert prometheus.query('up{job="opsbot"}')[0]["value"][1] == "1"
