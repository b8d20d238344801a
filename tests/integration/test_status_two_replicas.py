"""Two `opsbot serve` processes (Slack off) on one PostgreSQL: a publication made by another process (a console) shows
on both replicas within 5 s (each reads the page version at most once a second); the page and
the JSON are the same bytes on both (stable ids, one rendering)."""
from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import httpx

from tests.e2e.test_console import opsbot
from tests.integration.conftest import free_port
from tests.poll import wait_until

OPSBOT = [sys.executable, "-m", "bot.cli"]
CATALOG = """
environments:
  prod: {services: {api: {}}}
status_page:
  title: Example Status
  components: [{name: API, services: [prod/api]}]
"""


def serve(tmp_path: Path, url: str, config: Path) -> tuple[subprocess.Popen, str]:
    port = free_port()
    env = {**os.environ, "OPSBOT_DATABASE_URL": url, "OPSBOT_CONFIG": str(config), "PORT": str(port)}
    for name in ("SLACK_BOT_TOKEN", "SLACK_SIGNING_SECRET", "SLACK_APP_TOKEN"):
        env.pop(name, None)
    process = subprocess.Popen([*OPSBOT, "serve", "--host", "127.0.0.1"], cwd=tmp_path, env=env,
                               stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    base = f"http://127.0.0.1:{port}"
    wait_until(lambda: _answers(f"{base}/healthz"), timeout=20, what=f"opsbot serve on {port}")
    return process, base


def _answers(url: str) -> bool:
    try:
        return httpx.get(url, timeout=1).status_code == 200
    except httpx.HTTPError:
        return False


def summary(base: str) -> dict:
    return httpx.get(f"{base}/status/api/v2/summary.json", timeout=5).json()


def test_a_change_through_any_process_shows_on_both_replicas_within_five_seconds(pg_url, tmp_path):
    config = tmp_path / "opsbot.yml"
    config.write_text(CATALOG)
    opsbot(["console"], pg_url, "", config=str(config))  # the schema, before two processes race to make it
    first, one = serve(tmp_path, pg_url, config)
    second, two = serve(tmp_path, pg_url, config)
    try:
        assert summary(one)["status"]["indicator"] == summary(two)["status"]["indicator"] == "none"
        done = opsbot(["console", "--user", "U_RESP"], pg_url,
                      "/incident open p1 Errors --env prod --service api\n/incident publish INC-1 Elevated errors\n",
                      config=str(config))
        assert done.returncode == 0 and "is on the status page" in done.stdout, done.stdout + done.stderr
        started = time.monotonic()
        for base in (one, two):
            wait_until(lambda base=base: summary(base)["incidents"], timeout=5, what=f"the publication on {base}")
        assert time.monotonic() - started < 5
        pages = [httpx.get(f"{base}/status/", timeout=5) for base in (one, two)]
        assert pages[0].content == pages[1].content and "Elevated errors" in pages[0].text
        assert summary(one) == summary(two)
    finally:
        for process in (first, second):
            process.terminate()
        for process in (first, second):
            process.wait(20)
