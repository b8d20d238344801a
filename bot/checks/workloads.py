"""Docker and Kubernetes checks: the platform's own view of a service's containers or pods."""
from __future__ import annotations

import asyncio

from bot.checks.settings import CheckSettings, DockerCheck, KubernetesCheck
from bot.core.ports import CheckResult, Level


async def docker_check(check: DockerCheck, context: dict) -> CheckResult:
    return await _workload(check, context, check.service)


async def kubernetes_check(check: KubernetesCheck, context: dict) -> CheckResult:
    return await _workload(check, context, check.service or check.selector)


async def _workload(check: CheckSettings, context: dict, target: str) -> CheckResult:
    platform = context["platform"]()
    health = await asyncio.to_thread(platform.workload_health, target)
    level: Level
    if health.running == 0:
        level = "crit"
    elif health.running < health.desired or health.problems:
        level = "warn"
    else:
        level = "ok"
    if any("CrashLoopBackOff" in p for p in health.problems):
        level = "crit"
    return CheckResult(check.name, check.kind_name(), level, f"{health.running}/{health.desired} running",
                       "all running, no restarts", "; ".join(health.problems))
