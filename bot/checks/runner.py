"""Health checks: one module per kind, run concurrently, each with its own timeout.

A check that errors is ❌ with its reason; running the checks never fails because one did. A new kind is its
module, its settings model in settings.py (a member of `AnyCheck`) and its line in `KINDS`; tests/
test_architecture.py checks that the two agree.
"""
from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable

import httpx

from bot.checks import host, http, postgres, prometheus, redis, tcp, tls, workloads
from bot.checks.settings import AnyCheck
from bot.config.environments import Environment
from bot.core.ports import CheckResult, Level, Platform
from bot.core.redact import redact

# kind → its check: (the kind's settings, {"http": a shared client, "platform": the environment's, "env": …})
KINDS: dict[str, Callable[..., Awaitable[CheckResult]]] = {
    "http": http.check,
    "postgres": postgres.check,
    "redis": redis.check,
    "tls": tls.check,
    "tcp": tcp.check,
    "docker": workloads.docker_check,
    "kubernetes": workloads.kubernetes_check,
    "prometheus": prometheus.check,
    "disk": host.disk,
    "load": host.load,
    "memory": host.memory,
    "pm2": host.pm2,
}


class CheckRunner:
    def __init__(self, platform_for: Callable[[str, Environment], Platform],
                 on_result: Callable[[CheckResult], None] | None = None):
        self.platform_for = platform_for
        self.on_result = on_result  # opsbot's own metrics count each result

    async def run(self, env_name: str, env: Environment) -> list[CheckResult]:
        async with httpx.AsyncClient(follow_redirects=False) as client:
            context = {"http": client, "platform": lambda: self.platform_for(env_name, env), "env": env}
            return list(await asyncio.gather(*(self._one(check, context) for check in env.checks)))

    async def _one(self, check: AnyCheck, context: dict) -> CheckResult:
        started = time.perf_counter()
        try:
            result = await asyncio.wait_for(KINDS[check.kind](check, context), timeout=check.timeout_s)
        except TimeoutError:
            result = CheckResult(check.name, check.kind, "crit", "timeout", f"{check.timeout_s:g} s",
                                 f"no answer within {check.timeout_s:g} s")
        except Exception as error:  # noqa: BLE001 — a failing check is a result, never a crash
            result = CheckResult(check.name, check.kind, "crit", "error", "", redact(describe(error)))
        result.elapsed_ms = (time.perf_counter() - started) * 1000
        if self.on_result is not None:
            self.on_result(result)
        return result


def describe(error: Exception) -> str:
    text = str(error) or type(error).__name__
    return text.splitlines()[0][:300]


def level(value: float, warn: float | None, crit: float | None) -> Level:
    if crit is not None and value >= crit:
        return "crit"
    if warn is not None and value >= warn:
        return "warn"
    return "ok"


def thresholds(warn: float | None, crit: float | None, unit: str) -> str:
    parts = [f"warn {warn:g}{unit}" if warn is not None else "", f"crit {crit:g}{unit}" if crit is not None else ""]
    return " / ".join(p for p in parts if p)
