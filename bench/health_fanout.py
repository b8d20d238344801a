"""Health fan-out: 20 HTTP checks against local endpoints that each take 200 ms, plus PostgreSQL and Redis.

Prints total wall time, the slowest check and their ratio. Target: total <= 1.25x the slowest check.

    .venv/bin/python bench/health_fanout.py [--runs 5]
"""
from __future__ import annotations

import argparse
import asyncio
import os
import threading
import time

from aiohttp import web

from bot.checks.runner import CheckRunner
from bot.config.environments import Environment
from bot.platforms import Platforms


def serve_slow_endpoints() -> int:
    async def slow(request):
        await asyncio.sleep(0.2)
        return web.json_response({"status": "healthy"})

    loop = asyncio.new_event_loop()
    ready, port = threading.Event(), []

    async def start():
        app = web.Application()
        app.router.add_get("/health/{n}", slow)
        runner = web.AppRunner(app)
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        port.append(site._server.sockets[0].getsockname()[1])
        ready.set()

    threading.Thread(target=lambda: (loop.run_until_complete(start()), loop.run_forever()), daemon=True).start()
    ready.wait(10)
    return port[0]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    port = serve_slow_endpoints()
    os.environ.setdefault("BENCH_PG_DSN", "postgresql://postgres@127.0.0.1:5432/postgres")
    os.environ.setdefault("BENCH_REDIS_URL", "redis://127.0.0.1:6379/0")
    checks = [{"name": f"http-{n}", "kind": "http", "url": f"http://127.0.0.1:{port}/health/{n}",
               "warn_ms": 500, "crit_ms": 1000, "json": {"status": "healthy"}} for n in range(20)]
    checks += [{"name": "db", "kind": "postgres", "dsn_env": "BENCH_PG_DSN", "warn_pct": 70, "crit_pct": 90},
               {"name": "cache", "kind": "redis", "url_env": "BENCH_REDIS_URL", "warn_pct": 80, "crit_pct": 95}]
    env = Environment.model_validate({"checks": checks})
    runner = CheckRunner(Platforms())
    for run in range(args.runs):
        started = time.perf_counter()
        results = asyncio.run(runner.run("bench", env))
        total = (time.perf_counter() - started) * 1000
        slowest = max(results, key=lambda r: r.elapsed_ms)
        bad = [r.name for r in results if r.level != "ok"]
        print(f"run {run + 1}: {len(results)} checks in {total:6.1f} ms; slowest {slowest.name} "
              f"{slowest.elapsed_ms:6.1f} ms; ratio {total / slowest.elapsed_ms:.2f} (target <= 1.25)"
              + (f"; not ok: {bad}" if bad else ""))


if __name__ == "__main__":
    main()
