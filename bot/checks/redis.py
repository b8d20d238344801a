"""Redis: PING, used_memory as % of maxmemory, connected clients."""
from __future__ import annotations

import os

import redis.asyncio as aioredis

from bot.checks.settings import RedisCheck
from bot.core.ports import CheckResult


async def check(check: RedisCheck, context: dict) -> CheckResult:
    from bot.checks.runner import level, thresholds

    url = os.environ.get(check.url_env)
    if not url:
        return CheckResult(check.name, "redis", "crit", "not configured", "", f"${check.url_env} is not set")
    client = aioredis.from_url(url, socket_connect_timeout=check.timeout_s, socket_timeout=check.timeout_s)
    try:
        await client.ping()
        memory = await client.info("memory")
        clients = await client.info("clients")
    finally:
        await client.aclose()
    used, maximum = memory["used_memory"], memory.get("maxmemory", 0)
    limits = thresholds(check.warn_pct, check.crit_pct, "%")
    detail = f"{clients['connected_clients']} clients"
    if not maximum:
        return CheckResult(check.name, "redis", "ok", f"{used / 1024 / 1024:.1f} MiB used (no maxmemory)", limits,
                           detail)
    pct = 100.0 * used / maximum
    return CheckResult(check.name, "redis", level(pct, check.warn_pct, check.crit_pct),
                       f"{pct:.0f}% of maxmemory ({used / 1024 / 1024:.1f} MiB)", limits, detail)
