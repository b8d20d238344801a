"""`opsbot serve` as a real process: its start-up log line, JSON logs, --version, and a graceful SIGTERM that
finishes acked work and releases the scheduler leader lock (HTTP and Socket Mode); without any Slack setting it
still serves health, metrics and alert intake."""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from urllib.parse import urlencode

import httpx
import psycopg
from slack_sdk.signature import SignatureVerifier

from bot.scheduler.leader import LEADER_LOCK_ID
from tests.integration.conftest import SECRET, free_port
from tests.poll import wait_until

ROOT = Path(__file__).resolve().parents[2]
OPSBOT = [sys.executable, "-m", "bot.cli"]


def test_version_prints_the_package_version():
    from importlib.metadata import version

    out = subprocess.run([*OPSBOT, "--version"], check=False, cwd=ROOT, capture_output=True, text=True, timeout=30)
    assert out.returncode == 0 and out.stdout.strip() == f"opsbot {version('opsbot')}"


def start_serve(tmp_path: Path, fake_slack, database_url: str, socket: bool,
                extra: dict[str, str] | None = None) -> tuple[subprocess.Popen, int]:
    port = free_port()
    env = {**(extra or {}), **os.environ, "OPSBOT_DATABASE_URL": database_url, "SLACK_BOT_TOKEN": "xoxb-test",
           "SLACK_SIGNING_SECRET": SECRET, "OPSBOT_SLACK_API_URL": fake_slack.api_url, "PORT": str(port),
           "OPSBOT_LOG_FORMAT": "json", "OPSBOT_LOG_LEVEL": "Info", "OPSBOT_SHUTDOWN_TIMEOUT": "20",
           "OPSBOT_WEB_URL": f"http://127.0.0.1:{port}"}  # as a deployment with Slack sets it (else a warning)
    env.pop("OPSBOT_CONFIG", None)
    if socket:
        env["SLACK_APP_TOKEN"] = "xapp-test"
    process = subprocess.Popen([*OPSBOT, "serve", "--host", "127.0.0.1"], cwd=tmp_path, env=env,
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    return process, port




def leader_lock_is_free(pg_url: str) -> bool:
    with psycopg.connect(pg_url, autocommit=True) as conn:
        got = conn.execute("SELECT pg_try_advisory_lock(%s)", (LEADER_LOCK_ID,)).fetchone()[0]
        if got:
            conn.execute("SELECT pg_advisory_unlock(%s)", (LEADER_LOCK_ID,))
        return bool(got)


def send_command(fake_slack, port: int, socket: bool, text: str) -> None:
    form = {"command": "/incident", "text": text, "user_id": "U_ALICE", "channel_id": "C_GENERAL",
            "team_id": "T0001", "trigger_id": f"trig-{time.monotonic_ns()}",
            "response_url": f"{fake_slack.base_url}/response/1"}
    if socket:
        fake_slack.send_envelope({"envelope_id": "env-1", "type": "slash_commands", "accepts_response_payload": True,
                                  "payload": form})
        wait_until(lambda: fake_slack.acks, what="the Socket Mode ack")
        return
    body = urlencode({**form, "token": "x", "api_app_id": "A1"})
    ts = str(int(time.time()))
    signature = SignatureVerifier(SECRET).generate_signature(timestamp=ts, body=body)
    response = httpx.post(f"http://127.0.0.1:{port}/slack/events", content=body, timeout=10, headers={
        "Content-Type": "application/x-www-form-urlencoded", "X-Slack-Request-Timestamp": ts,
        "X-Slack-Signature": signature})
    assert response.status_code == 200


def check_graceful_sigterm(tmp_path, fake_slack, pg_url, socket: bool):
    # A password in the URL (PostgreSQL here trusts local connections, so any password works): it must not be logged.
    url = pg_url.replace("postgresql://postgres@", "postgresql://postgres:Sup3rSecretPw@")
    process, port = start_serve(tmp_path, fake_slack, url, socket)
    try:
        if socket:
            fake_slack.wait_for("apps.connections.open", timeout=20)
        wait_until(lambda: _healthz(port) == "leader", timeout=20, what="GET /healthz says leader")
        wait_until(lambda: not leader_lock_is_free(pg_url), what="the scheduler leader lock is taken")
        fake_slack.hold_responses()  # the reply waits: the command is acked but its work is in flight
        send_command(fake_slack, port, socket, "list")
        wait_until(lambda: fake_slack.held == 1, what="the reply is in flight")
        process.send_signal(signal.SIGTERM)
        time.sleep(0.5)
        assert process.poll() is None, "exited with work in flight"
        fake_slack.release_responses()
        _, err = process.communicate(timeout=25)
    finally:
        if process.poll() is None:
            process.kill()
            process.communicate()
        fake_slack.release_responses()
    assert process.returncode == 0, err[-3000:]
    assert fake_slack.responses and "No open incidents" in json.dumps(fake_slack.responses[0])
    assert leader_lock_is_free(pg_url)
    lines = [json.loads(line) for line in err.splitlines() if line.strip()]  # every line is one JSON object
    assert "Sup3rSecretPw" not in err
    start = [line for line in lines if "serving" in line["message"]]
    assert len(start) == 1 and start[0]["level"] == "INFO"
    assert f"mode={'socket' if socket else 'http'}" in start[0]["message"]
    assert f"port={port}" in start[0]["message"]  # Socket Mode serves /healthz, /metrics and alerts too
    assert "postgres:***@" in start[0]["message"] and "catalog=built-in" in start[0]["message"]
    assert "opsbot 0." in start[0]["message"] or "opsbot " in start[0]["message"]
    before_stop = lines[:next(i for i, line in enumerate(lines) if "handled" in line["message"])]
    assert [line for line in before_stop if line["level"] in ("WARNING", "ERROR", "CRITICAL")] == []
    handled = next(line for line in lines if line["message"] == "handled /incident list")
    assert handled["user"] == "U_ALICE" and handled["command"] == "/incident list" and handled["outcome"] == "ok"
    assert len(handled["request_id"]) == 12 and handled["duration_ms"] >= 400  # it waited for the held reply
    assert any("leader lock released" in line["message"] for line in lines)


def _healthz(port: int) -> str | None:
    try:
        return httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=1).json().get("scheduler")
    except httpx.HTTPError:
        return None


def test_sigterm_over_http_finishes_acked_work_and_releases_the_leader_lock(tmp_path, fake_slack, pg_url):
    check_graceful_sigterm(tmp_path, fake_slack, pg_url, socket=False)


def test_sigterm_in_socket_mode_finishes_acked_work_and_releases_the_leader_lock(tmp_path, fake_slack, pg_url):
    check_graceful_sigterm(tmp_path, fake_slack, pg_url, socket=True)


def test_socket_mode_serves_health_metrics_and_alerts_over_http(tmp_path, fake_slack, sqlite_url):
    """Slack's deliveries come over the WebSocket; the operator's endpoints are still on PORT, and a signed-request
    endpoint is not (nothing would verify it)."""
    process, port = start_serve(tmp_path, fake_slack, sqlite_url, socket=True, extra={
        "OPSBOT_ALERT_TOKEN_UPTIME": "uptime-token"})
    base = f"http://127.0.0.1:{port}"
    try:
        fake_slack.wait_for("apps.connections.open", timeout=20)
        wait_until(lambda: _healthz(port) == "leader", timeout=20, what="GET /healthz says leader")
        wait_until(lambda: _health(port).get("socket_mode") == "connected", what="/healthz: Socket Mode connected")
        metrics = httpx.get(f"{base}/metrics", timeout=5)
        assert metrics.status_code == 200 and "opsbot_scheduler_leader 1.0" in metrics.text
        assert httpx.post(f"{base}/slack/events", content=b"command=/incident", timeout=5).status_code == 404
        alert = {"title": "Checkout down", "dedup_key": "checkout-down", "severity": "P1", "service": "checkout"}
        refused = httpx.post(f"{base}/alerts/webhook?source=uptime", json=alert, timeout=5)
        assert refused.status_code == 401
        accepted = httpx.post(f"{base}/alerts/webhook?source=uptime", json=alert, timeout=5,
                              headers={"Authorization": "Bearer uptime-token"})
        assert accepted.status_code == 202, accepted.text
        created = fake_slack.wait_for("conversations.create", timeout=20)
        assert created[0].params["name"].startswith("inc-1")
    finally:
        process.send_signal(signal.SIGTERM)
        _, err = process.communicate(timeout=30)
    assert process.returncode == 0, err[-3000:]


def test_socket_mode_with_a_refused_app_token_exits_with_one_clear_line(tmp_path, fake_slack, sqlite_url):
    for _ in range(50):
        fake_slack.fail_next("apps.connections.open", "invalid_auth")
    process, _ = start_serve(tmp_path, fake_slack, sqlite_url, socket=True)
    try:
        _, err = process.communicate(timeout=30)
    finally:
        if process.poll() is None:
            process.kill()
            process.communicate()
    assert process.returncode not in (0, None)
    assert "Traceback" not in err, err[-3000:]
    problems = [json.loads(line) for line in err.splitlines() if line.strip().startswith("{")]
    errors = [line["message"] for line in problems if line["level"] in ("ERROR", "CRITICAL")]
    assert errors and "invalid_auth" in errors[0] and "SLACK_APP_TOKEN" in errors[0], err[-3000:]
    assert len(fake_slack.calls_to("apps.connections.open")) == 1  # refused for good: not retried


def test_socket_mode_keeps_serving_while_slack_fails_and_connects_in_the_background(tmp_path, fake_slack, sqlite_url):
    for _ in range(2):  # opsbot's first try and the SDK's first retry (the next comes 10 s later)
        fake_slack.fail_next("apps.connections.open", "internal_error")  # Slack's trouble, not the token's
    process, port = start_serve(tmp_path, fake_slack, sqlite_url, socket=True)
    try:
        wait_until(lambda: _health(port).get("socket_mode") == "connecting", timeout=20, what="/healthz: connecting")
        assert process.poll() is None and _health(port)["ok"] is True  # no restart loop while Slack is down
    finally:
        process.send_signal(signal.SIGTERM)
        _, err = process.communicate(timeout=30)
    assert process.returncode == 0, err[-3000:]
    assert "connecting in the background" in err and "internal_error" in err


def _health(port: int) -> dict:
    try:
        return httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=1).json()
    except httpx.HTTPError:
        return {}


NO_SLACK_CATALOG = """
environments:
  edge:  # one check, of opsbot's own port: the declaration's health snapshot is quick and always answers
    checks: [{name: opsbot-port, kind: tcp, host: 127.0.0.1, port: {port}}]
alerts:
  rules:
    - {match: ['source="uptime"'], severity: P2}
"""


def _exported(env: dict, cwd: Path) -> dict:
    out = subprocess.run([*OPSBOT, "incident", "export", "INC-1"], check=False, cwd=cwd, env=env,
                         capture_output=True, text=True, timeout=30)
    assert out.returncode == 0, out.stderr
    return json.loads(out.stdout)


def test_serve_without_slack_answers_health_metrics_and_alerts_and_exits_cleanly(tmp_path, sqlite_url):
    """No SLACK_* variable at all: the operator's endpoints and alert intake are served on PORT, an alert opens an
    incident in the store (its channel and announcement, with no chat to go to, are logged), Slack's endpoint is
    not served, and SIGTERM ends it with exit code 0."""
    port = free_port()
    (tmp_path / "opsbot.yml").write_text(NO_SLACK_CATALOG.replace("{port}", str(port)))
    env = {name: value for name, value in os.environ.items()
           if not name.startswith(("SLACK_", "OPSBOT_ALERT_TOKEN_", "OPSBOT_CONFIG"))}
    env |= {"OPSBOT_DATABASE_URL": sqlite_url, "OPSBOT_CONFIG": str(tmp_path / "opsbot.yml"), "PORT": str(port),
            "OPSBOT_LOG_FORMAT": "json", "OPSBOT_LOG_LEVEL": "INFO", "OPSBOT_ALERT_TOKEN_UPTIME": "uptime-token"}
    process = subprocess.Popen([*OPSBOT, "serve", "--host", "127.0.0.1"], cwd=tmp_path, env=env,
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    base = f"http://127.0.0.1:{port}"
    try:
        wait_until(lambda: _healthz(port) == "leader", timeout=20, what="GET /healthz says leader")
        health = httpx.get(f"{base}/healthz", timeout=5)
        assert health.status_code == 200 and health.json() == {"ok": True, "scheduler": "leader"}
        metrics = httpx.get(f"{base}/metrics", timeout=5)
        assert metrics.status_code == 200 and metrics.headers["content-type"].startswith("text/plain")
        assert "opsbot_scheduler_leader 1.0" in metrics.text and 'opsbot_incidents_open{severity="P2"} 0.0' in metrics.text
        for method in ("POST", "GET"):
            assert httpx.request(method, f"{base}/slack/events", content=b"command=/incident", timeout=5).status_code \
                == 404
        alert = {"title": "Checkout down", "dedup_key": "checkout-down", "service": "checkout", "env": "edge"}
        refused = httpx.post(f"{base}/alerts/webhook?source=uptime", json=alert, timeout=5)
        assert refused.status_code == 401
        accepted = httpx.post(f"{base}/alerts/webhook?source=uptime", json=alert, timeout=5,
                              headers={"Authorization": "Bearer uptime-token"})
        assert accepted.status_code == 202, accepted.text
        wait_until(lambda: 'opsbot_incidents_open{severity="P2"} 1.0' in httpx.get(f"{base}/metrics", timeout=5).text,
                   what="/metrics counts the incident the alert opened")
        # Evidence is not chat: the declaration's health snapshot is taken with Slack off too.
        wait_until(lambda: any("health-at-declaration" in json.dumps(event)
                               for event in _exported(env, tmp_path)["timeline"]), timeout=30,
                   what="the declaration's health snapshot")
    finally:
        process.send_signal(signal.SIGTERM)
        _, err = process.communicate(timeout=30)
    assert process.returncode == 0, err[-3000:]
    lines = [json.loads(line) for line in err.splitlines() if line.strip().startswith("{")]
    start = [line for line in lines if "serving" in line["message"]]
    assert len(start) == 1 and start[0]["level"] == "INFO", err[-3000:]
    assert "slack=off" in start[0]["message"] and f"port={port}" in start[0]["message"]
    assert "scheduler=on reminders=log" in start[0]["message"]
    assert any("no chat surface" in line["message"] and "IncidentOpened" in line["message"] for line in lines)
    assert [line for line in lines if line["level"] in ("WARNING", "ERROR", "CRITICAL")] == []
    assert any("leader lock released" in line["message"] for line in lines)
    incident = _exported(env, tmp_path)["incident"]
    assert (incident["title"], incident["severity"], incident["opened_by"]) == ("Checkout down", "P2", "uptime")


def test_a_partial_slack_configuration_is_refused_before_anything_starts(tmp_path, sqlite_url):
    base = {name: value for name, value in os.environ.items() if not name.startswith("SLACK_")}
    for given, missing in ((["SLACK_BOT_TOKEN"], "SLACK_SIGNING_SECRET"),
                           (["SLACK_SIGNING_SECRET"], "SLACK_BOT_TOKEN"),
                           (["SLACK_APP_TOKEN"], "SLACK_BOT_TOKEN")):
        env = base | {"OPSBOT_DATABASE_URL": sqlite_url, "PORT": str(free_port())} | dict.fromkeys(given, "x")
        out = subprocess.run([*OPSBOT, "serve", "--host", "127.0.0.1"], check=False, cwd=tmp_path, env=env,
                             capture_output=True, text=True, timeout=30)
        assert out.returncode == 1 and out.stderr.startswith(f"opsbot: opsbot serve needs {missing}"), out.stderr
        assert "Traceback" not in out.stderr and not (tmp_path / "opsbot.db").exists()
