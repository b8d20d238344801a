"""Ack latency of signed `/incident list` commands: `opsbot serve` against a bare Bolt app that only acks.

Both run as real uvicorn processes on loopback; a local fake Slack Web API answers auth.test and
response_url posts. Prints p50/p99 for both and the ratio. Target: p99 <= 1.5x the bare app and
< 200 ms at 50 concurrent.

    .venv/bin/python bench/ack_latency.py [--concurrency 50] [--requests 1000]
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
# The fake Slack Web API runs in its own process, as Slack is elsewhere, so it does not steal the
# load generator's CPU.
FAKE_SLACK = (
    "import sys, time; sys.path.insert(0, sys.argv[1]);"
    "from tests.fakes.slack_api import FakeSlack; fake = FakeSlack().start();"
    "print(fake.port, flush=True); time.sleep(3600)"
)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def start(argv: list[str], env: dict, port: int) -> subprocess.Popen:
    process = subprocess.Popen(argv, env=env, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                return process
        except OSError:
            time.sleep(0.1)
    process.kill()
    raise SystemExit(f"server did not start: {process.stderr.read().decode()[-2000:]}")


async def drive(url: str, fake_url: str, concurrency: int, total: int) -> list[float]:
    verifier = SignatureVerifier(SECRET)
    latencies: list[float] = []
    semaphore = asyncio.Semaphore(concurrency)
    connector = aiohttp.TCPConnector(limit=concurrency)
    async with aiohttp.ClientSession(connector=connector) as client:
        async def one(index: int) -> None:
            body = urlencode({"command": "/incident", "text": "list", "user_id": "U_BENCH", "channel_id": "C_BENCH",
                              "team_id": "T0001", "trigger_id": f"bench-{time.monotonic_ns()}-{index}",
                              "response_url": f"{fake_url}/response/{index}"})
            async with semaphore:
                ts = str(int(time.time()))
                headers = {"Content-Type": "application/x-www-form-urlencoded", "X-Slack-Request-Timestamp": ts,
                           "X-Slack-Signature": verifier.generate_signature(timestamp=ts, body=body)}
                started = time.perf_counter()
                async with client.post(url, data=body.encode(), headers=headers) as response:
                    await response.read()
                    latencies.append((time.perf_counter() - started) * 1000)
                    assert response.status == 200, await response.text()

        # Warm-up: auth.test, the connection pool, the store.
        await asyncio.gather(*(one(i) for i in range(concurrency * 2)))
        latencies.clear()
        await asyncio.gather(*(one(i) for i in range(total)))
    return latencies


def percentile(values: list[float], pct: float) -> float:
    return statistics.quantiles(values, n=100)[int(pct) - 1]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--concurrency", type=int, default=50)
    parser.add_argument("--requests", type=int, default=1000)
    args = parser.parse_args()
    python = sys.executable
    fake = subprocess.Popen([python, "-c", FAKE_SLACK, str(ROOT)], stdout=subprocess.PIPE, text=True)
    fake_url = f"http://127.0.0.1:{int(fake.stdout.readline())}"
    results = {}
    with tempfile.TemporaryDirectory() as folder:
        for label in ("bare bolt", "opsbot"):
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
            process = start(argv, env, port)
            try:
                latencies = asyncio.run(drive(f"http://127.0.0.1:{port}/slack/events", fake_url, args.concurrency,
                                              args.requests))
            finally:
                process.terminate()
                process.wait(10)
            results[label] = (percentile(latencies, 50), percentile(latencies, 99))
            print(f"{label:10} {args.requests} requests, {args.concurrency} concurrent: "
                  f"p50 {results[label][0]:6.1f} ms  p99 {results[label][1]:6.1f} ms")
    fake.kill()
    ratio = results["opsbot"][1] / results["bare bolt"][1]
    print(f"p99 ratio opsbot / bare bolt: {ratio:.2f} (target <= 1.5; opsbot p99 target < 200 ms)")


if __name__ == "__main__":
    main()
