"""HTTP: status code, latency thresholds, and expected JSON fields (dotted paths for nested ones)."""
from __future__ import annotations

import time

from bot.checks.settings import HttpCheck
from bot.core.ports import CheckResult


async def check(check: HttpCheck, context: dict) -> CheckResult:
    from bot.checks.runner import level, thresholds

    started = time.perf_counter()
    response = await context["http"].get(check.url, timeout=check.timeout_s)
    elapsed = (time.perf_counter() - started) * 1000
    limits = thresholds(check.warn_ms, check.crit_ms, " ms")
    value = f"{response.status_code} in {elapsed:.0f} ms"
    if response.status_code != check.expect_status:
        return CheckResult(check.name, "http", "crit", value, f"expect {check.expect_status}",
                           f"status {response.status_code}, expected {check.expect_status}")
    problems = []
    if check.json_fields:
        try:
            body = response.json()
        except ValueError:
            return CheckResult(check.name, "http", "crit", value, limits, "the body is not JSON")
        for path, expected in check.json_fields.items():
            actual = _lookup(body, path)
            if actual != expected:
                problems.append(f"{path} is {actual!r}, expected {expected!r}")
    if problems:
        return CheckResult(check.name, "http", "crit", value, limits, "; ".join(problems))
    return CheckResult(check.name, "http", level(elapsed, check.warn_ms, check.crit_ms), value, limits)


def _lookup(body, path: str):
    """'services.database' -> body['services']['database']; also accepts nested mappings in config."""
    node = body
    for part in path.split("."):
        if not isinstance(node, dict) or part not in node:
            return None
        node = node[part]
    return node
