"""A throwaway PostgreSQL cluster stopped and started under the served Slack app: while it is down every command
gets a clear answer within 5 s and /healthz says 503; when it is back, opsbot works again by itself."""
from __future__ import annotations

import shutil
import subprocess
import tempfile
import threading
import time
from pathlib import Path

import httpx
import pytest
import uvicorn
from starlette.testclient import TestClient

from bot.app import build, served
from bot.config import Settings, SlackSettings
from tests.integration.conftest import SECRET, SlackClientForTests, free_port
from tests.poll import wait_until

BIN = next(iter(sorted(Path("/usr/lib/postgresql").glob("*/bin"))), None)


class Cluster:
    def __init__(self, root: Path, port: int):
        self.root, self.port = root, port
        self.data = root / "data"

    def run(self, *argv: str) -> None:
        subprocess.run(["runuser", "-u", "postgres", "--", *argv], check=True, capture_output=True, timeout=120)

    def init(self) -> None:
        self.run(f"{BIN}/initdb", "-D", str(self.data), "-A", "trust", "-U", "postgres")

    def start(self) -> None:
        self.run(f"{BIN}/pg_ctl", "-D", str(self.data), "-l", str(self.root / "log"), "-w", "-o",
                 f"-p {self.port} -c listen_addresses=127.0.0.1 -k {self.root}", "start")

    def stop(self) -> None:
        self.run(f"{BIN}/pg_ctl", "-D", str(self.data), "-m", "immediate", "-w", "stop")


@pytest.fixture
def cluster():
    if BIN is None or shutil.which("runuser") is None:
        pytest.fail("PostgreSQL server binaries and runuser are required (scripts/test.sh installs them)")
    root = Path(tempfile.mkdtemp(prefix="opsbot-pg-"))
    shutil.chown(root, "postgres")
    pg = Cluster(root, free_port())
    pg.init()
    pg.start()
    yield pg
    try:
        pg.stop()
    except subprocess.CalledProcessError:
        pass  # already stopped
    shutil.rmtree(root, ignore_errors=True)


def test_a_database_outage_is_said_at_once_and_recovered_from(cluster, fake_slack):
    opsbot = build(settings=Settings(database_url=f"postgresql://postgres@127.0.0.1:{cluster.port}/postgres"))
    port = free_port()
    settings = SlackSettings(slack_bot_token="xoxb-test", slack_signing_secret=SECRET,
                             opsbot_slack_api_url=fake_slack.api_url, port=port)
    app = served(opsbot, settings, "http").app
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", lifespan="on"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    while not server.started:
        time.sleep(0.02)
    slack = SlackClientForTests(f"http://127.0.0.1:{port}", fake_slack, opsbot)
    try:
        assert httpx.get(f"{slack.base}/healthz").status_code == 200
        slack.command("list")
        assert "No open incidents" in fake_slack.wait_for_response(1)[-1]["text"]

        cluster.stop()
        sent = time.monotonic()
        assert slack.command("list").status_code == 200  # the ack does not wait for the database
        reply = fake_slack.wait_for_response(2, timeout=10)[-1]
        assert time.monotonic() - sent < 5.5
        assert "database is unreachable" in reply["text"] and reply["response_type"] == "ephemeral"
        health = httpx.get(f"{slack.base}/healthz", timeout=10)
        assert health.status_code == 503 and health.json()["store"] == "unreachable"

        cluster.start()
        wait_until(lambda: httpx.get(f"{slack.base}/healthz", timeout=10).status_code == 200, timeout=30,
                   what="opsbot to recover", interval=0.2)
        slack.command("open p2 Back after the outage")
        wait_until(opsbot.store.list_incidents, timeout=10, what="the incident opened after the outage")
    finally:
        slack.http.close()
        server.should_exit = True
        thread.join(10)
        opsbot.close()


def test_healthz_never_says_leader_while_the_database_is_down(cluster):
    opsbot = build(settings=Settings(database_url=f"postgresql://postgres@127.0.0.1:{cluster.port}/postgres"))
    parts = served(opsbot, SlackSettings(), "off", scheduler=True)
    assert parts.scheduler is not None
    http = TestClient(parts.app)
    try:
        parts.scheduler.tick()
        assert http.get("/healthz").json() == {"ok": True, "scheduler": "leader"}

        cluster.stop()  # no tick since: the runner still believes it leads
        health = http.get("/healthz")
        assert health.status_code == 503
        assert health.json() == {"ok": False, "scheduler": "standby", "store": "unreachable"}

        cluster.start()
        wait_until(lambda: http.get("/healthz").status_code == 200, timeout=30, what="the store back", interval=0.2)
        parts.scheduler.tick()
        assert http.get("/healthz").json()["scheduler"] == "leader"
    finally:
        parts.scheduler.lock.release()  # ticked by hand, never started
        opsbot.close()
