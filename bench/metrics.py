"""GET /metrics latency while `opsbot serve` answers signed slash commands: p50/p99 of the scrape under load.

`opsbot serve` runs as a real process (SQLite, 50 open incidents so the scrape-time figures have work to do);
a load generator keeps `--concurrency` `/incident list` commands in flight — each one counts until its reply
reaches the response_url the generator serves, as a person waits for the answer — while another task GETs
/metrics back to back. Target: p99 < 20 ms.

(Counting a command as done at its ack instead would send commands faster than any server can answer them, so
the acked work would queue without end: that is overload, which the server refuses past its queue bound.)

    .venv/bin/python bench/metrics.py [--concurrency 20] [--scrapes 300]
"""
from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import subprocess
import sys
import tempfile
import time
from urllib.parse import urlencode

import aiohttp
from aiohttp import web
from slack_sdk.signature import SignatureVerifier

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
from bench.ack_latency import FAKE_SLACK, ROOT, SECRET, free_port, start


async def load(url: str, concurrency: int, stop: asyncio.Event) -> int:
    """Slash commands, `concurrency` at a time, each done when its reply arrives, until told to stop; returns
    how many were answered."""
    verifier = SignatureVerifier(SECRET)
    waiting: dict[str, asyncio.Future] = {}

    async def replied(request: web.Request) -> web.Response:
        future = waiting.pop(request.match_info["id"], None)
        if future is not None and not future.done():
            future.set_result(await request.read())
        return web.Response(text="ok")

    app = web.Application()
    app.router.add_post("/response/{id}", replied)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    reply_base = f"http://127.0.0.1:{site._server.sockets[0].getsockname()[1]}/response"  # type: ignore[union-attr]
    counts = {"answered": 0, "busy": 0}
    try:
        await commands(url, concurrency, stop, reply_base, waiting, verifier, counts)
    finally:
        await runner.cleanup()
    if counts["busy"]:
        print(f"(the server refused {counts['busy']} commands as busy: not counted as answered)")
    return counts["answered"]


async def commands(url: str, concurrency: int, stop: asyncio.Event, reply_base: str,
                   waiting: dict[str, asyncio.Future], verifier: SignatureVerifier, counts: dict[str, int]) -> None:
    async with aiohttp.ClientSession() as client:
        async def worker(n: int) -> None:
            sent = 0
            while not stop.is_set():
                sent += 1
                key = f"{n}-{sent}"
                waiting[key] = asyncio.get_running_loop().create_future()
                body = urlencode({"command": "/incident", "text": "list", "user_id": "U_BENCH", "channel_id": "C1",
                                  "team_id": "T0001", "trigger_id": f"bench-{key}",
                                  "response_url": f"{reply_base}/{key}"})
                ts = str(int(time.time()))
                headers = {"Content-Type": "application/x-www-form-urlencoded", "X-Slack-Request-Timestamp": ts,
                           "X-Slack-Signature": verifier.generate_signature(timestamp=ts, body=body)}
                async with client.post(url, data=body.encode(), headers=headers) as response:
                    await response.read()
                reply = await asyncio.wait_for(waiting[key], 30)
                counts["busy" if b"opsbot is busy" in reply else "answered"] += 1

        await asyncio.gather(*(worker(n) for n in range(concurrency)))


async def scrape(url: str, count: int) -> list[float]:
    latencies = []
    async with aiohttp.ClientSession() as client:
        for _ in range(count):
            started = time.perf_counter()
            async with client.get(url) as response:
                body = await response.read()
                assert response.status == 200 and b"opsbot_incidents_open" in body
            latencies.append((time.perf_counter() - started) * 1000)
            await asyncio.sleep(0.01)
    return latencies


async def run(base: str, concurrency: int, scrapes: int) -> tuple[list[float], list[float], int]:
    idle = await scrape(f"{base}/metrics", 50)
    stop = asyncio.Event()
    loader = asyncio.create_task(load(f"{base}/slack/events", concurrency, stop))
    await asyncio.sleep(1)  # the load is up
    busy = await scrape(f"{base}/metrics", scrapes)
    stop.set()
    return idle, busy, await loader


def pct(values: list[float], p: int) -> float:
    return statistics.quantiles(values, n=100)[p - 1]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--concurrency", type=int, default=20)
    parser.add_argument("--scrapes", type=int, default=300)
    args = parser.parse_args()
    python = sys.executable
    fake = subprocess.Popen([python, "-c", FAKE_SLACK, str(ROOT)], stdout=subprocess.PIPE, text=True)
    fake_url = f"http://127.0.0.1:{int(fake.stdout.readline())}"
    with tempfile.TemporaryDirectory() as folder:
        database = f"sqlite:///{folder}/bench.db"
        env = {**os.environ, "OPSBOT_DATABASE_URL": database, "OPSBOT_USER": "U_BENCH"}
        # Open incidents for the scrape-time figures, through the console like a person would.
        lines = "".join(f"/incident open p{n % 4} bench incident {n}\n" for n in range(50))
        subprocess.run([python, "-m", "bot.cli", "console"], input=lines, env=env, cwd=ROOT, text=True,
                       capture_output=True, check=True)
        port = free_port()
        env.update({"SLACK_BOT_TOKEN": "xoxb-bench", "SLACK_SIGNING_SECRET": SECRET, "PORT": str(port),
                    "OPSBOT_SLACK_API_URL": f"{fake_url}/api/"})
        env.pop("SLACK_APP_TOKEN", None)
        server = start([python, "-m", "bot.cli", "serve", "--host", "127.0.0.1", "--no-scheduler"], env, port)
        try:
            idle, busy, sent = asyncio.run(run(f"http://127.0.0.1:{port}", args.concurrency, args.scrapes))
        finally:
            server.terminate()
            server.wait(30)
            fake.kill()
    print(f"GET /metrics idle:  p50 {pct(idle, 50):.1f} ms  p99 {pct(idle, 99):.1f} ms  ({len(idle)} scrapes)")
    print(f"GET /metrics busy:  p50 {pct(busy, 50):.1f} ms  p99 {pct(busy, 99):.1f} ms  ({len(busy)} scrapes while "
          f"{sent} slash commands were answered, {args.concurrency} at a time)")
    print(f"target p99 < 20 ms: {'met' if pct(busy, 99) < 20 else 'NOT met'}")


if __name__ == "__main__":
    main()
