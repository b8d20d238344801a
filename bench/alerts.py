"""Alert deliveries under load: `--concurrency` Alertmanager notifications of `--alerts` alerts each, posted at
once to a real `opsbot serve` process (SQLite by default, `--database` for PostgreSQL), spread over `--groups`
group keys, for `--rounds` rounds (every delivery carries new alerts, so none is a replay). A local fake Slack
takes the channel set-up of the incidents opened. Prints p50/p99/max response time (the delivery is queued in
the store; the server's worker applies it), how long applying the rest took, and checks that each group key has
exactly one incident. Target: p99 < 50 ms at 50 concurrent deliveries of 20 alerts.

    .venv/bin/python bench/alerts.py [--concurrency 50] [--alerts 20] [--groups 10] [--rounds 6]
"""
from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from contextlib import nullcontext
from datetime import UTC, datetime, timedelta

import aiohttp

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
from bench.ack_latency import CLIENT_CORES, FAKE_SLACK, ROOT, SECRET, free_port, start
from bench.scratch import scratch_postgres

TOKEN = "bench-alert-token-0123456789"


def notification(group: int, round_: int, delivery: int, size: int) -> bytes:
    starts = (datetime.now(UTC) - timedelta(minutes=5)).isoformat()
    name = f"BenchAlert{group}"
    alerts = [{"status": "firing", "labels": {"alertname": name, "instance": f"r{round_}-d{delivery}-{i}", "env": "prod"},
               "annotations": {"summary": f"instance {i} is failing"}, "startsAt": starts,
               "endsAt": "0001-01-01T00:00:00Z", "generatorURL": f"http://prometheus/graph?g0.expr={name}",
               "fingerprint": f"{group:04d}{round_:04d}{delivery:04d}{i:04d}"} for i in range(size)]
    return json.dumps({"version": "4", "groupKey": f'{{}}:{{alertname="{name}"}}', "receiver": "opsbot",
                       "status": "firing", "alerts": alerts, "groupLabels": {"alertname": name},
                       "commonLabels": {"alertname": name, "env": "prod"}, "commonAnnotations": {},
                       "externalURL": "http://alertmanager", "truncatedAlerts": 0}).encode()


async def run(url: str, concurrency: int, size: int, groups: int, rounds: int) -> tuple[list[float], dict]:
    """Response times in ms of the measured rounds."""
    latencies: list[float] = []
    outcomes: dict[str, int] = {}
    headers = {"Authorization": f"Bearer {TOKEN}", "Content-Type": "application/json"}
    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=concurrency)) as client:
        async def one(body: bytes) -> None:
            started = time.perf_counter()
            async with client.post(url, data=body, headers=headers) as response:
                answer = await response.json()
            latencies.append((time.perf_counter() - started) * 1000)
            if response.status not in (200, 202):
                raise SystemExit(f"delivery refused: {response.status} {answer}")
            outcomes[answer["outcome"]] = outcomes.get(answer["outcome"], 0) + 1  # warm-up included

        # Warm-up, not measured: the connections opened and the code paths run once, on group keys of its own.
        await asyncio.gather(*(one(notification(1000 + d % groups, 0, d, size)) for d in range(concurrency)))
        del latencies[:]
        await asyncio.sleep(0.5)
        for round_ in range(rounds):  # the first round opens the measured groups' incidents, all at once
            bodies = [notification(d % groups, round_, d, size) for d in range(concurrency)]
            await asyncio.gather(*(one(body) for body in bodies))
            print(f"  round {round_ + 1}: max {max(latencies[-concurrency:]):.1f} ms", flush=True)
            await asyncio.sleep(0.3)  # the worker applies the round, and Slack set-up settles, between rounds
    return latencies, outcomes


def wait_applied(database: str, deliveries: int, timeout: float = 120.0) -> float:
    """Seconds until the server's worker has applied every queued delivery (the inbox is empty)."""
    from bot.store import open_store

    store = open_store(database)
    started = time.monotonic()
    try:
        while store.pending_alerts(1):
            if time.monotonic() - started > timeout:
                raise SystemExit(f"{len(store.pending_alerts(deliveries))} deliveries still queued after {timeout} s")
            time.sleep(0.05)
        return time.monotonic() - started
    finally:
        store.close()


def incidents_per_group(database: str) -> dict[str, int]:
    from bot.store import open_store

    store = open_store(database)
    try:
        with store._read() as db:  # type: ignore[attr-defined]
            keys = [row[0] for row in db.execute("SELECT key FROM alert_groups", ()).fetchall()]
        per_group: dict[str, int] = {}
        for incident in store.list_incidents(include_closed=True, limit=100_000):
            opened = next(e for e in store.timeline(incident.number) if e.kind == "impact_start")
            per_group[opened.data["group"]] = per_group.get(opened.data["group"], 0) + 1
        assert len(keys) == len(per_group), (keys, per_group)
        return per_group
    finally:
        store.close()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--concurrency", type=int, default=50)
    parser.add_argument("--alerts", type=int, default=20)
    parser.add_argument("--groups", type=int, default=10)
    parser.add_argument("--rounds", type=int, default=6)
    parser.add_argument("--database", help="a postgresql:// URL of the server to use: the bench makes a database "
                        "of its own there and drops it after (default: a fresh SQLite file)")
    args = parser.parse_args()
    python = sys.executable
    if CLIENT_CORES:  # as bench/ack_latency.py: the server on a core of its own, the senders and fake Slack on another
        os.sched_setaffinity(0, CLIENT_CORES)
    fake = subprocess.Popen([python, "-c", FAKE_SLACK, str(ROOT)], stdout=subprocess.PIPE, text=True)
    fake_url = f"http://127.0.0.1:{int(fake.stdout.readline())}"
    with tempfile.TemporaryDirectory() as folder, \
            (scratch_postgres(args.database) if args.database else nullcontext(f"sqlite:///{folder}/bench.db")) \
            as database:
        port = free_port()
        env = {**os.environ, "OPSBOT_DATABASE_URL": database, "SLACK_BOT_TOKEN": "xoxb-bench",
               "SLACK_SIGNING_SECRET": SECRET, "PORT": str(port), "OPSBOT_SLACK_API_URL": f"{fake_url}/api/",
               "OPSBOT_ALERT_TOKEN_ALERTMANAGER": TOKEN}
        env.pop("SLACK_APP_TOKEN", None)
        server = start([python, "-m", "bot.cli", "serve", "--host", "127.0.0.1", "--no-scheduler"], env, port)
        try:
            latencies, outcomes = asyncio.run(run(f"http://127.0.0.1:{port}/alerts/alertmanager", args.concurrency,
                                                  args.alerts, args.groups, args.rounds))
            applied = wait_applied(database, args.concurrency * args.rounds)
        finally:
            server.terminate()
            server.wait(30)
            fake.kill()
        per_group = incidents_per_group(database)
    p50, p99 = statistics.quantiles(latencies, n=100)[49], statistics.quantiles(latencies, n=100)[98]
    print(f"{len(latencies)} deliveries ({args.rounds} rounds of {args.concurrency} concurrent, {args.alerts} alerts "
          f"each, {args.groups} group keys) on {database.split(':')[0]}")
    print(f"response: p50 {p50:.1f} ms  p99 {p99:.1f} ms  max {max(latencies):.1f} ms   outcomes {outcomes}")
    print(f"all applied {applied:.2f} s after the last answer; incidents per group key: {sorted(per_group.values())}")
    exactly_one = len(per_group) == 2 * args.groups and set(per_group.values()) == {1}  # warm-up's keys too
    print(f"target p99 < 50 ms: {'met' if p99 < 50 else 'NOT met'}; exactly one incident per group key: "
          f"{'yes' if exactly_one else 'NO'}")


if __name__ == "__main__":
    main()
