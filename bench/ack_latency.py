"""Ack latency of signed `/incident list` commands: `opsbot serve` against a bare Bolt app that only acks.

Both run as real uvicorn processes on loopback; a local fake Slack Web API answers auth.test and takes
the response_url posts. The two servers are driven in alternating rounds, so a burst of noise on the
machine hits both, and the percentiles are taken over all rounds. On a machine with two or more cores
the servers get their own core and the load generator and fake Slack another, as Slack is not on the
app's machine. Prints p50/p99 ack latency for both and the ratio, and for opsbot also how long the
reply (the response_url post) took. Target: ack p99 <= 1.5x the bare app and < 200 ms at 50 concurrent.

    .venv/bin/python bench/ack_latency.py [--concurrency 50] [--requests 1000] [--rounds 3]
"""
from __future__ import annotations

import argparse
import asyncio
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from urllib.parse import urlencode

import aiohttp
from slack_sdk.signature import SignatureVerifier

ROOT = Path(__file__).resolve().parents[1]
SECRET = "bench-secret"
FAKE_SLACK = (
    "import sys, time; sys.path.insert(0, sys.argv[1]);"
    "from tests.fakes.slack_api import FakeSlack; fake = FakeSlack().start();"
    "print(fake.port, flush=True); time.sleep(3600)"
)
CORES = len(os.sched_getaffinity(0))
CLIENT_CORES, SERVER_CORES = ({0}, {1}) if CORES >= 2 else (None, None)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def start(argv: list[str], env: dict, port: int) -> subprocess.Popen:
    # Its log goes to a file: a pipe nobody reads fills up and would stall the server on its next log line.
    log = tempfile.TemporaryFile()  # noqa: SIM115 - open as long as the server runs
    process = subprocess.Popen(argv, env=env, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=log)
    if SERVER_CORES:
        os.sched_setaffinity(process.pid, SERVER_CORES)
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                return process
        except OSError:
            time.sleep(0.1)
    process.kill()
    process.wait()
    log.seek(0)
    raise SystemExit(f"server did not start: {log.read().decode()[-2000:]}")


async def drive(url: str, fake_url: str, concurrency: int, total: int, tag: str) -> tuple[list[float], dict]:
    """Ack latencies in ms, and the wall-clock send time of each request by its response_url hook."""
    verifier = SignatureVerifier(SECRET)
    latencies: list[float] = []
    sent: dict[str, float] = {}
    semaphore = asyncio.Semaphore(concurrency)
    connector = aiohttp.TCPConnector(limit=concurrency)
    async with aiohttp.ClientSession(connector=connector) as client:
        async def one(hook: str) -> None:
            body = urlencode({"command": "/incident", "text": "list", "user_id": "U_BENCH", "channel_id": "C_BENCH",
                              "team_id": "T0001", "trigger_id": f"bench-{hook}",
                              "response_url": f"{fake_url}/response/{hook}"})
            async with semaphore:
                ts = str(int(time.time()))
                headers = {"Content-Type": "application/x-www-form-urlencoded", "X-Slack-Request-Timestamp": ts,
                           "X-Slack-Signature": verifier.generate_signature(timestamp=ts, body=body)}
                sent[hook] = time.time()
                started = time.perf_counter()
                async with client.post(url, data=body.encode(), headers=headers) as response:
                    await response.read()
                    latencies.append((time.perf_counter() - started) * 1000)
                    assert response.status == 200, await response.text()

        # Warm-up: auth.test, the connection pool, the store.
        await asyncio.gather(*(one(f"{tag}-warm-{i}") for i in range(concurrency * 2)))
        latencies.clear()
        sent = {}
        await asyncio.gather(*(one(f"{tag}-{i}") for i in range(total)))
    return latencies, sent


async def reply_latencies(fake_url: str, sent: dict[str, float], timeout: float = 60) -> list[float]:
    """How long each reply took to reach Slack, once all of them have."""
    deadline = time.monotonic() + timeout
    async with aiohttp.ClientSession() as client:
        while True:
            async with client.get(f"{fake_url}/response-times") as response:
                arrived = await response.json()
            if all(hook in arrived for hook in sent) or time.monotonic() > deadline:
                break
            await asyncio.sleep(0.2)
    missing = [hook for hook in sent if hook not in arrived]
    if missing:
        raise SystemExit(f"{len(missing)} replies never reached the fake Slack")
    return [(arrived[hook] - at) * 1000 for hook, at in sent.items()]


def percentile(values: list[float], pct: float) -> float:
    return statistics.quantiles(values, n=100)[int(pct) - 1]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--concurrency", type=int, default=50)
    parser.add_argument("--requests", type=int, default=1000, help="per round and server")
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    if CLIENT_CORES:
        os.sched_setaffinity(0, CLIENT_CORES)  # the fake Slack inherits it
    python = sys.executable
    # The fake Slack shares the load generator's core but yields to it, so taking opsbot's replies does not
    # delay the requests being timed (the bare app sends none); its own arrival times are then a little late.
    fake = subprocess.Popen([python, "-c", FAKE_SLACK, str(ROOT)], stdout=subprocess.PIPE, text=True)
    os.setpriority(os.PRIO_PROCESS, fake.pid, 19)
    fake_url = f"http://127.0.0.1:{int(fake.stdout.readline())}"
    acks: dict[str, list[float]] = {"bare bolt": [], "opsbot": []}
    replies: list[float] = []
    servers = {}
    with tempfile.TemporaryDirectory() as folder:
        try:
            for label in acks:
                port = free_port()
                env = {**os.environ, "SLACK_BOT_TOKEN": "xoxb-bench", "SLACK_SIGNING_SECRET": SECRET,
                       "OPSBOT_SLACK_API_URL": f"{fake_url}/api/", "PORT": str(port),
                       "OPSBOT_DATABASE_URL": f"sqlite:///{folder}/bench.db"}
                env.pop("SLACK_APP_TOKEN", None)
                if label == "opsbot":
                    argv = [python, "-m", "bot.cli", "serve", "--host", "127.0.0.1"]
                else:
                    argv = [python, "-m", "uvicorn", "--app-dir", "bench", "--factory", "bare_bolt:create",
                            "--host", "127.0.0.1", "--port", str(port), "--log-level", "warning"]
                servers[label] = (start(argv, env, port), f"http://127.0.0.1:{port}/slack/events")
            for round_ in range(args.rounds):
                for label, (_, url) in servers.items():
                    latencies, sent = asyncio.run(drive(url, fake_url, args.concurrency, args.requests,
                                                        f"{label.replace(' ', '')}{round_}"))
                    acks[label] += latencies
                    if label == "opsbot":
                        replies += asyncio.run(reply_latencies(fake_url, sent))
        finally:
            for process, _ in servers.values():
                process.terminate()
                process.wait(10)
            fake.kill()
    where = (f"servers on core {sorted(SERVER_CORES)}, load generator and fake Slack on {sorted(CLIENT_CORES)}"
             if CLIENT_CORES else "one core shared by all")
    print(f"{args.rounds} rounds x {args.requests} requests, {args.concurrency} concurrent; {where}")
    for label, latencies in acks.items():
        print(f"{label:10} ack    p50 {percentile(latencies, 50):6.1f} ms  p99 {percentile(latencies, 99):6.1f} ms")
    print(f"{'opsbot':10} reply  p50 {percentile(replies, 50):6.1f} ms  p99 {percentile(replies, 99):6.1f} ms"
          f"  max {max(replies):6.1f} ms  (request sent -> response_url post received)")
    ratio = percentile(acks["opsbot"], 99) / percentile(acks["bare bolt"], 99)
    print(f"ack p99 ratio opsbot / bare bolt: {ratio:.2f} (target <= 1.5; opsbot ack p99 target < 200 ms)")


if __name__ == "__main__":
    main()
