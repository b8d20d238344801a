"""One sender across replicas: two `opsbot serve` processes on one real PostgreSQL, reminders recorded by the
local Slack Web API. Kill the leader; the standby takes over within seconds; nothing is sent twice."""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from datetime import timedelta

import httpx
import pytest

from bot.app import build
from bot.config import Settings
from bot.core.ops import Actor
from bot.scheduler.leader import FileLeaderLock, PostgresLeaderLock
from bot.timeparse import utcnow
from tests.integration.conftest import SECRET, free_port
from tests.poll import wait_until

CONFIG = """
environments:
  prod: {}
scheduler:
  tick: 200ms
  channel: ops
  reminders: {}
"""


def serve(pg_url: str, config: str, api_url: str, log) -> tuple[subprocess.Popen, str]:
    port = free_port()
    env = {**os.environ, "OPSBOT_DATABASE_URL": pg_url, "OPSBOT_CONFIG": config, "SLACK_BOT_TOKEN": "xoxb-test",
           "SLACK_SIGNING_SECRET": SECRET, "OPSBOT_SLACK_API_URL": api_url, "PORT": str(port)}
    env.pop("SLACK_APP_TOKEN", None)
    process = subprocess.Popen([sys.executable, "-m", "bot.cli", "serve", "--host", "127.0.0.1"], env=env,
                               stdout=subprocess.DEVNULL, stderr=log)
    return process, f"http://127.0.0.1:{port}"


def scheduler_role(base: str) -> str | None:
    try:
        return httpx.get(base + "/healthz", timeout=1).json()["scheduler"]
    except httpx.HTTPError:
        return None




@pytest.fixture
def replicas(pg_url, fake_slack, tmp_path):
    config = tmp_path / "opsbot.yml"
    config.write_text(CONFIG)
    build(config, Settings(database_url=pg_url)).close()  # migrate once, before both start
    log = (tmp_path / "serve.log").open("w")
    processes = [serve(pg_url, str(config), fake_slack.api_url, log) for _ in range(2)]
    yield processes, config
    log.close()
    for process, _ in processes:
        if process.poll() is None:
            process.terminate()
            process.wait(10)


def test_the_standby_takes_over_when_the_leader_dies_and_nothing_is_sent_twice(replicas, pg_url, fake_slack):
    processes, config = replicas
    wait_until(lambda: sorted(str(scheduler_role(base)) for _, base in processes) == ["leader", "standby"],
               what="one leader")
    leader = next(p for p, base in processes if scheduler_role(base) == "leader")
    standby_base = next(base for _, base in processes if scheduler_role(base) == "standby")

    opsbot = build(config, Settings(database_url=pg_url))
    try:
        window = opsbot.services.maintenance.schedule(
            Actor(user="U_OPS", channel=None, command="/maint schedule"), "prod",
            utcnow() + timedelta(seconds=1), timedelta(seconds=5), "failover drill")
    finally:
        opsbot.close()

    posts = lambda: [c.params["text"] for c in fake_slack.calls_to("chat.postMessage")]
    wait_until(lambda: any("Maintenance starts now" in text for text in posts()), what="the start notice")
    leader.send_signal(signal.SIGKILL)
    leader.wait(10)
    wait_until(lambda: scheduler_role(standby_base) == "leader", timeout=10, what="the standby to take over")
    wait_until(lambda: any("Maintenance window over" in text for text in posts()), what="the end notice")
    time.sleep(1)  # a few more ticks: nothing more may be sent
    texts = [text for text in posts() if "failover drill" in text]
    assert len(texts) == 2, texts
    assert sum("starts now" in t for t in texts) == 1 and sum("window over" in t for t in texts) == 1
    statuses = {r.kind: r.status for r in _reminders(pg_url, window.id)}
    assert statuses == {"window_start": "sent", "window_end": "sent"}


def _reminders(pg_url: str, window_id: int):
    from bot.store import open_store

    store = open_store(pg_url)
    try:
        return store.reminders(f"window:{window_id}:")
    finally:
        store.close()


def test_postgres_leader_lock_is_released_when_its_connection_goes(pg_url):
    first, second = PostgresLeaderLock(pg_url), PostgresLeaderLock(pg_url)
    try:
        assert first.try_acquire() and first.held()
        assert not second.try_acquire()
        first.release()  # as when the leader's process dies: the server drops the session lock
        assert second.try_acquire() and second.held()
        assert not first.try_acquire()
    finally:
        first.release()
        second.release()


def test_file_leader_lock_allows_one_process_per_sqlite_file(tmp_path):
    script = ("import sys, time; from bot.scheduler.leader import FileLeaderLock; "
              "lock = FileLeaderLock(sys.argv[1]); print(lock.try_acquire(), flush=True); time.sleep(30)")
    holder = subprocess.Popen([sys.executable, "-c", script, str(tmp_path / "db.lock")], stdout=subprocess.PIPE,
                              text=True)
    try:
        assert holder.stdout.readline().strip() == "True"
        mine = FileLeaderLock(tmp_path / "db.lock")
        assert not mine.try_acquire()
        holder.kill()
        holder.wait(10)
        assert mine.try_acquire()
        mine.release()
    finally:
        holder.kill()
