"""War-room set-up speed: how long after `/incident open` the announcement is posted and the channel is ready.

`opsbot serve` runs as a real process; a local fake Slack Web API (tests/fakes/slack_api.py) answers every call
after `--latency` (default 100 ms), as a distant Slack would. For each run a signed `/incident open` is sent and
the fake's records give, counted from the moment the command was sent:
- announcement: when the INCIDENT ALERT's chat.postMessage to the announcement channel was answered;
- ready: when the last of conversations.create, conversations.invite, conversations.setTopic and pins.add (the
  pinned summary) was answered;
- calls: Web API calls made for the declaration (auth.test is made at start-up, so none should be counted).
Prints p50 and max over the runs. Targets at 100 ms a call: announcement <= 250 ms, ready <= 400 ms.

    .venv/bin/python bench/war_room.py [--runs 20] [--latency 0.1]
"""
from __future__ import annotations

import argparse
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from urllib.parse import urlencode

import httpx
from slack_sdk.signature import SignatureVerifier

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
from tests.fakes.slack_api import FakeSlack

SECRET = "bench-secret"
READY = ("conversations.create", "conversations.invite", "conversations.setTopic", "pins.add")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def serve(fake: FakeSlack, folder: str) -> tuple[subprocess.Popen, str]:
    port = free_port()
    env = {**os.environ, "SLACK_BOT_TOKEN": "xoxb-bench", "SLACK_SIGNING_SECRET": SECRET,
           "OPSBOT_SLACK_API_URL": fake.api_url, "PORT": str(port), "OPSBOT_DATABASE_URL": f"sqlite:///{folder}/war.db"}
    env.pop("SLACK_APP_TOKEN", None)
    process = subprocess.Popen([sys.executable, "-m", "bot.cli", "serve", "--host", "127.0.0.1", "--no-scheduler"],
                               env=env, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=1).status_code == 200:
                return process, f"http://127.0.0.1:{port}/slack/events"
        except httpx.HTTPError:
            time.sleep(0.1)
    process.kill()
    raise SystemExit(f"opsbot did not start: {process.stderr.read().decode()[-2000:] if process.stderr else ''}")


def declare(client: httpx.Client, url: str, fake: FakeSlack, run: int) -> float:
    body = urlencode({"command": "/incident", "text": f"open p1 War room bench {run}", "user_id": "U_BENCH",
                      "channel_id": "C_BENCH", "team_id": "T0001", "trigger_id": f"bench-{run}",
                      "response_url": f"{fake.base_url}/response/war-{run}"})
    ts = str(int(time.time()))
    headers = {"Content-Type": "application/x-www-form-urlencoded", "X-Slack-Request-Timestamp": ts,
               "X-Slack-Signature": SignatureVerifier(SECRET).generate_signature(timestamp=ts, body=body)}
    sent = time.time()
    response = client.post(url, content=body.encode(), headers=headers)
    assert response.status_code == 200, response.text
    return sent


def measure(fake: FakeSlack, first: int, sent: float, latency: float, timeout: float = 10) -> tuple[float, float, int]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        calls = fake.calls[first:]
        methods = {call.method for call in calls}
        alert = [c for c in calls if c.method == "chat.postMessage" and c.params.get("channel") == "incidents"]
        if alert and all(method in methods for method in READY):
            time.sleep(0.3)  # anything still to come (it should not) is counted too
            calls = fake.calls[first:]
            done = {m: max(c.at for c in calls if c.method == m) + latency for m in READY}
            return ((alert[0].at + latency - sent) * 1000, (max(done.values()) - sent) * 1000,
                    len([c for c in calls if c.method != "auth.test"]))
        time.sleep(0.005)
    raise SystemExit(f"the channel was not set up; calls: {[c.method for c in fake.calls[first:]]}")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=20)
    parser.add_argument("--latency", type=float, default=0.1, help="seconds each Web API call takes")
    args = parser.parse_args()
    fake = FakeSlack(latency=args.latency).start()
    announce, ready, calls = [], [], []
    with tempfile.TemporaryDirectory() as folder:
        process, url = serve(fake, folder)
        try:
            at_start = len(fake.calls_to("auth.test"))
            with httpx.Client(timeout=10) as client:
                for run in range(args.runs):
                    first = len(fake.calls)
                    a, r, n = measure(fake, first, declare(client, url, fake, run), args.latency)
                    announce.append(a)
                    ready.append(r)
                    calls.append(n)
            auth_later = len(fake.calls_to("auth.test")) - at_start
        finally:
            process.terminate()
            process.wait(10)
            fake.stop()
    print(f"{args.runs} declarations, Slack answering each call in {args.latency * 1000:.0f} ms")
    print(f"announcement  p50 {statistics.median(announce):6.0f} ms  max {max(announce):6.0f} ms  (target <= 250)")
    print(f"channel ready p50 {statistics.median(ready):6.0f} ms  max {max(ready):6.0f} ms  (target <= 400)")
    print(f"Web API calls per declaration: {statistics.median(calls):.0f}; auth.test at start-up: {at_start}, "
          f"on requests: {auth_later}")


if __name__ == "__main__":
    main()
