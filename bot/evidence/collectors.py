"""The infrastructure's side of an incident, read at once: logs and status of every service (Docker or
Kubernetes, with Kubernetes' recent events and rollout revisions), the environment's health checks, PostgreSQL
activity, Redis INFO, and runbook actions declared as collectors. Each collector that fails becomes a failed item
with its reason; none stops the others. Logs are handed over as streams, never read whole."""
from __future__ import annotations

import asyncio
import os
from collections.abc import Awaitable
from datetime import datetime

from bot.checks.settings import PostgresCheck, RedisCheck
from bot.config.environments import Environment
from bot.core.evidence_bundle import Collected, Job
from bot.core.ports import Checks, PlatformFor, Scripts
from bot.core.runbook_places import run_placed


class InfraCollectors:
    def __init__(self, platform_for: PlatformFor, checks: Checks, scripts: Scripts):
        self.platform_for, self.checks, self.scripts = platform_for, checks, scripts

    def jobs(self, env_name: str, env: Environment, names: list[str], since: datetime) -> list[Job]:
        jobs: list[Job] = []
        for name in names:
            if name == "logs":
                jobs += [Job(f"logs-{service}.log", "logs", service, self._logs(env_name, env, service, since))
                         for service in env.evidence.services or env.services]
            elif name == "status":
                jobs.append(Job("status.txt", "status", env_name, self._status(env_name, env, since)))
            elif name == "health":
                jobs.append(Job("health.txt", "health", env_name, self._health(env_name, env)))
            elif name == "db":
                jobs += [_one(f"postgres-{check.name}.txt", "db", check.name, _postgres(check.dsn_env))
                         for check in env.checks if isinstance(check, PostgresCheck)]
            elif name == "cache":
                jobs += [_one(f"redis-{check.name}.txt", "cache", check.name, _redis(check.url_env))
                         for check in env.checks if isinstance(check, RedisCheck)]
            elif name.startswith("run:"):
                action = name.removeprefix("run:")
                jobs.append(Job(f"run-{action}.txt", name, action, self._run(env_name, env, name, action)))
        return jobs

    async def _logs(self, env_name: str, env: Environment, service: str, since: datetime) -> list[Collected]:
        """One item per container or pod, each a stream from the platform's API."""
        platform = self.platform_for(env_name, env)
        streams = await asyncio.to_thread(platform.log_streams, service, since)
        if not streams:
            return [Collected(f"logs-{service}.log", "logs", service, text=f"(no container or pod runs {service})\n")]
        return [Collected(f"logs-{service}-{source}.log", "logs", f"{service}/{source}", chunks=chunks)
                for source, chunks in streams]

    async def _status(self, env_name: str, env: Environment, since: datetime) -> list[Collected]:
        """What runs (replicas, image, restarts, rollout revision) and what the platform saw happen since."""
        platform = self.platform_for(env_name, env)
        states = await asyncio.to_thread(platform.status)
        text = "".join(f"{s.name}\t{s.running}/{s.desired} running\t{s.image}\t{s.detail}\n" for s in states)
        history = await asyncio.to_thread(platform.history, since)
        text += "\n# since the incident began\n" + ("".join(line + "\n" for line in history) or "(nothing recorded)\n")
        return [Collected("status.txt", "status", env_name, text=text)]

    async def _health(self, env_name: str, env: Environment) -> list[Collected]:
        results = await self.checks.run(env_name, env)
        text = "".join(f"{r.level}\t{r.name} ({r.kind})\t{r.value}\t{r.threshold}\t{r.detail}\n" for r in results)
        return [Collected("health.txt", "health", env_name, text=text)]

    async def _run(self, env_name: str, env: Environment, collector: str, action: str) -> list[Collected]:
        spec = env.runbook[action]
        if spec.exec is not None or spec.hosts is not None:  # inside a container or pod, or on the hosts
            output = await asyncio.to_thread(run_placed, self.platform_for(env_name, env), action, spec, {})
            return [Collected(f"run-{action}.txt", collector, action, text=output)]
        code, output = await asyncio.to_thread(self.scripts.run, spec, {})
        if code != 0:
            raise RuntimeError(f"{action} exited with status {code}: {output[-300:]}")
        return [Collected(f"run-{action}.txt", collector, action, text=output)]


def _one(name: str, collector: str, source: str, reading: Awaitable[str]) -> Job:
    """A job whose one item is the text a reading returns."""
    async def work() -> list[Collected]:
        return [Collected(name, collector, source, text=await reading)]
    return Job(name, collector, source, work())


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
