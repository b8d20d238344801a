"""The infrastructure's side of an incident, read at once: logs and status of every service (Docker or
Kubernetes), the environment's health checks, PostgreSQL activity, Redis INFO, and runbook actions declared as
collectors. Each collector that fails becomes a failed item with its reason; none stops the others."""
from __future__ import annotations

import asyncio
import os
from collections.abc import Awaitable
from datetime import UTC, datetime

from bot.config.environments import Environment
from bot.core.evidence import Collected
from bot.core.ports import Checks, PlatformFor, Scripts


class InfraCollectors:
    def __init__(self, platform_for: PlatformFor, checks: Checks, scripts: Scripts, log_lines: int = 50_000):
        self.platform_for, self.checks, self.scripts = platform_for, checks, scripts
        self.log_lines = log_lines

    async def collect(self, env_name: str, env: Environment, names: list[str], since: datetime) -> list[Collected]:
        jobs: list[Awaitable[list[Collected]]] = []
        for name in names:
            if name == "logs":
                jobs += [self._guard("logs", service, f"logs-{service}.log", self._logs(env_name, env, service, since))
                         for service in env.services]
            elif name == "status":
                jobs.append(self._guard("status", env_name, "status.txt", self._status(env_name, env)))
            elif name == "health":
                jobs.append(self._guard("health", env_name, "health.txt", self._health(env_name, env)))
            elif name == "db":
                jobs += [self._guard("db", check.name, f"postgres-{check.name}.txt", _postgres(check.dsn_env or ""))
                         for check in env.checks if check.kind == "postgres"]
            elif name == "cache":
                jobs += [self._guard("cache", check.name, f"redis-{check.name}.txt", _redis(check.url_env or ""))
                         for check in env.checks if check.kind == "redis"]
            elif name.startswith("run:"):
                action = name.removeprefix("run:")
                jobs.append(self._guard(name, action, f"run-{action}.txt", self._run(env, action)))
        results = await asyncio.gather(*jobs)
        return [piece for pieces in results for piece in pieces]

    @staticmethod
    async def _guard(collector: str, source: str, name: str, work: Awaitable[str]) -> list[Collected]:
        try:
            return [Collected(name, collector, source, text=await work)]
        except Exception as error:  # noqa: BLE001 — a failed collector is a failed item, never a failed bundle
            return [Collected(name, collector, source, error=str(error) or type(error).__name__)]

    async def _logs(self, env_name: str, env: Environment, service: str, since: datetime) -> str:
        platform = self.platform_for(env_name, env)
        return await asyncio.to_thread(platform.logs, service, datetime.now(UTC) - since, self.log_lines, None)

    async def _status(self, env_name: str, env: Environment) -> str:
        states = await asyncio.to_thread(self.platform_for(env_name, env).status)
        return "".join(f"{s.name}\t{s.running}/{s.desired} running\t{s.image}\t{s.detail}\n" for s in states)

    async def _health(self, env_name: str, env: Environment) -> str:
        results = await self.checks.run(env_name, env)
        return "".join(f"{r.level}\t{r.name} ({r.kind})\t{r.value}\t{r.threshold}\t{r.detail}\n" for r in results)

    async def _run(self, env: Environment, action: str) -> str:
        code, output = await asyncio.to_thread(self.scripts.run, env.runbook[action], {})
        if code != 0:
            raise RuntimeError(f"{action} exited with status {code}: {output[-300:]}")
        return output


async def _postgres(dsn_env: str) -> str:
    """pg_stat_activity by state, the long-running queries with their age, waiting locks, % of max_connections."""
    import psycopg

    dsn = os.environ.get(dsn_env)
    if not dsn:
        raise RuntimeError(f"${dsn_env} is not set")
    async with await psycopg.AsyncConnection.connect(dsn, connect_timeout=5, autocommit=True) as conn:
        states = await (await conn.execute(
            "SELECT coalesce(state, 'background'), count(*) FROM pg_stat_activity GROUP BY 1 ORDER BY 2 DESC"
        )).fetchall()
        share = await (await conn.execute(
            "SELECT count(*), current_setting('max_connections')::int FROM pg_stat_activity")).fetchone()
        long = await (await conn.execute(
            "SELECT pid, now() - query_start, usename, left(query, 300) FROM pg_stat_activity"
            " WHERE state = 'active' AND pid <> pg_backend_pid() ORDER BY query_start LIMIT 50")).fetchall()
        locks = await (await conn.execute("SELECT count(*) FROM pg_locks WHERE NOT granted")).fetchone()
    used, maximum = share or (0, 1)
    lines = [f"connections: {used}/{maximum} ({100 * used / maximum:.0f}% of max_connections)",
             f"locks waiting: {locks[0] if locks else 0}", "", "connections by state:"]
    lines += [f"  {state}\t{count}" for state, count in states]
    lines += ["", "active queries (oldest first):"]
    lines += [f"  pid {pid}\t{age}\t{user}\t{query}" for pid, age, user, query in long]
    return "\n".join(lines) + "\n"


async def _redis(url_env: str) -> str:
    """INFO (memory, clients, keyspace …) and the slow log."""
    import redis.asyncio as aioredis

    url = os.environ.get(url_env)
    if not url:
        raise RuntimeError(f"${url_env} is not set")
    client = aioredis.Redis.from_url(url, socket_timeout=5)
    try:
        info = await client.execute_command("INFO")
        slowlog = await client.slowlog_get(20)
    finally:
        await client.aclose()
    text = info.decode(errors="replace") if isinstance(info, bytes) else "\n".join(
        f"{key}:{value}" for key, value in dict(info).items())
    slow = "\n".join(f"{entry.get('id')}\t{entry.get('duration')} µs\t{entry.get('command')}" for entry in slowlog)
    return text + "\n# slowlog\n" + slow + "\n"
