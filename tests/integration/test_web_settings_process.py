"""`opsbot serve` and the web view's settings, as a real process: a bad OPSBOT_WEB_TRUSTED_PROXIES stops it at
start with one line naming the variable (exit 2, no traceback); with Slack on and OPSBOT_WEB_URL unset it says,
once, that /opsbot login links would point at localhost, and with OPSBOT_WEB_URL set it does not."""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import httpx

from tests.integration.conftest import SECRET, free_port
from tests.poll import wait_until

ROOT = Path(__file__).resolve().parents[2]
OPSBOT = [sys.executable, "-m", "bot.cli"]
WARNING = "OPSBOT_WEB_URL is not set: /opsbot login links point at http://localhost:3000"


def environment(database_url: str, port: int, **extra: str) -> dict[str, str]:
    env = {name: value for name, value in os.environ.items()
           if not name.startswith(("OPSBOT_", "SLACK_")) and name != "PORT"}
    return {**env, "OPSBOT_DATABASE_URL": database_url, "PORT": str(port), "OPSBOT_LOG_FORMAT": "json",
            "OPSBOT_LOG_LEVEL": "Info", **extra}


def test_a_bad_trusted_proxy_stops_serve_at_start_with_one_line(tmp_path, sqlite_url):
    out = subprocess.run([*OPSBOT, "serve", "--host", "127.0.0.1", "--no-scheduler"], cwd=tmp_path, timeout=60,
                         env=environment(sqlite_url, free_port(), OPSBOT_WEB_TRUSTED_PROXIES="10.0.0.0/8,proxy.lan"),
                         capture_output=True, text=True, check=False)
    assert out.returncode == 2, out.stderr[-2000:]
    assert out.stderr.strip() == ("config error: OPSBOT_WEB_TRUSTED_PROXIES: 'proxy.lan' is not an IP address or "
                                  "network (like 10.0.0.0/8 or 127.0.0.1); separate several with commas")


def serve_log(tmp_path: Path, fake_slack, database_url: str, **extra: str) -> list[dict]:
    """The log lines of `opsbot serve` (Slack over HTTP, the fake Web API) from start to a SIGTERM."""
    port = free_port()
    env = environment(database_url, port, SLACK_BOT_TOKEN="xoxb-test", SLACK_SIGNING_SECRET=SECRET,
                      OPSBOT_SLACK_API_URL=fake_slack.api_url, **extra)
    process = subprocess.Popen([*OPSBOT, "serve", "--host", "127.0.0.1", "--no-scheduler"], cwd=tmp_path, env=env,
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        wait_until(lambda: _up(port), timeout=30, what="GET /healthz answers")
        process.send_signal(signal.SIGTERM)
        _, err = process.communicate(timeout=30)
    finally:
        if process.poll() is None:
            process.kill()
            process.communicate()
    assert process.returncode == 0, err[-3000:]
    # JSON log lines; "created a new empty database" is a plain line for the person at the terminal.
    return [json.loads(line) for line in err.splitlines() if line.startswith("{")]


def _up(port: int) -> bool:
    try:
        return httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=1).status_code == 200
    except httpx.HTTPError:
        return False


def test_with_slack_and_no_web_url_serve_warns_once_that_links_point_at_localhost(tmp_path, fake_slack, sqlite_url):
    lines = serve_log(tmp_path, fake_slack, sqlite_url)
    warned = [line for line in lines if line["message"].startswith(WARNING)]
    assert len(warned) == 1 and warned[0]["level"] == "WARNING"
    set_up = serve_log(tmp_path, fake_slack, sqlite_url, OPSBOT_WEB_URL="https://ops.example.com")
    assert not [line for line in set_up if "OPSBOT_WEB_URL" in line["message"]]
    assert any("serving" in line["message"] for line in set_up)
