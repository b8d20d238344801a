"""Prometheus: one instant query (GET /api/v1/query) compared with warn/crit thresholds.

The reply carries the value, the thresholds and a link to the query's graph. Whatever goes wrong — Prometheus
unreachable, a query it rejects, an answer that is not a number, no series at all — is a ❌ result that says
which of those it was.
"""
from __future__ import annotations

import math
import os
from urllib.parse import quote, urlsplit, urlunsplit

import httpx

from bot.checks.settings import PrometheusCheck
from bot.core.ports import CheckResult, Level


class Unusable(Exception):
    """The answer cannot be judged against the thresholds; the message says why."""


async def check(check: PrometheusCheck, context: dict) -> CheckResult:
    base = os.environ.get(check.url_env, "").strip().rstrip("/")
    limits = thresholds(check)
    if not base:
        return CheckResult(check.name, "prometheus", "crit", "not configured", limits,
                           f"${check.url_env} is not set (the Prometheus base URL)")
    query = check.query
    link = graph_link(base, query)
    try:
        value, series = await instant_value(context["http"], base, query, check)
    except Unusable as problem:
        return CheckResult(check.name, "prometheus", "crit", "no value", limits, str(problem), link=link)
    detail = f"worst of {series} series" if series > 1 else ""
    return CheckResult(check.name, "prometheus", judge(value, check), show(value, check.unit), limits, detail,
                       link=link)


async def instant_value(client: httpx.AsyncClient, base: str, query: str,
                        check: PrometheusCheck) -> tuple[float, int]:
    """The query's value (the worst series' when it returns several) and how many series there were."""
    where = display_url(base)
    try:
        # Prometheus' own timeout too, so a slow query is cut there (durations are integers: "5000ms")
        params = {"query": query, "timeout": f"{int(check.timeout_s * 1000)}ms"}
        response = await client.get(f"{base}/api/v1/query", params=params, timeout=check.timeout_s)
    except httpx.TimeoutException as exc:
        raise Unusable(f"Prometheus at {where} did not answer within {check.timeout_s:g} s") from exc
    except httpx.HTTPError as exc:
        raise Unusable(f"Prometheus at {where} is unreachable ({type(exc).__name__})") from exc
    try:
        body = response.json()
    except ValueError as exc:
        raise Unusable(f"{where} answered HTTP {response.status_code} without JSON: is it a Prometheus server?") \
            from exc
    if not isinstance(body, dict) or body.get("status") != "success":
        error = body.get("error") if isinstance(body, dict) else None
        if error:  # bad_data (a malformed query), execution, timeout, …
            raise Unusable(f"Prometheus rejected the query ({body.get('errorType', 'error')}): {str(error)[:200]}")
        raise Unusable(f"{where} answered HTTP {response.status_code}, not a Prometheus query result")
    data = body.get("data") or {}
    kind, result = data.get("resultType"), data.get("result")
    if kind == "scalar":
        return number(result), 1
    if kind == "vector":
        if not result:
            raise Unusable("the query returned no series (an empty vector): check the metric name and labels, "
                           "or whether anything is being scraped")
        values = [number(sample.get("value")) for sample in result]
        return (max(values) if check.direction == "above" else min(values)), len(values)
    if kind == "matrix":
        raise Unusable("the query returned a range vector; use an instant expression (e.g. wrap it in rate())")
    raise Unusable(f"the query returned a {kind or 'missing'} result, not a number")


def number(sample: object) -> float:
    """[timestamp, "1.5"] → 1.5; NaN (0/0, e.g. no requests at all) is not a value to judge."""
    try:
        value = float(sample[1])  # type: ignore[index]
    except (TypeError, ValueError, IndexError, KeyError) as exc:
        raise Unusable(f"the query returned {str(sample)[:80]}, not a number") from exc
    if math.isnan(value):
        raise Unusable("the query returned NaN (a division by zero: no traffic in the window?)")
    return value


def judge(value: float, check: PrometheusCheck) -> Level:
    """Past a threshold (strictly, as the runbooks write "> 5%") in the check's direction."""
    def past(limit: float | None) -> bool:
        return limit is not None and (value > limit if check.direction == "above" else value < limit)

    return "crit" if past(check.crit) else "warn" if past(check.warn) else "ok"


def show(value: float, unit: str) -> str:
    if unit == "%":
        return f"{value * 100:.3g}%"
    return f"{value:.4g}{' ' + unit if unit else ''}"


def thresholds(check: PrometheusCheck) -> str:
    sign = ">" if check.direction == "above" else "<"
    parts = [f"{name} {sign} {show(limit, check.unit)}" for name, limit in (("warn", check.warn), ("crit", check.crit))
             if limit is not None]
    return " / ".join(parts)


def display_url(base: str) -> str:
    """The URL without credentials (user:password@), for messages and links."""
    parts = urlsplit(base)
    host = parts.hostname or ""
    if parts.port:
        host += f":{parts.port}"
    return urlunsplit((parts.scheme, host, parts.path, "", ""))


def graph_link(base: str, query: str) -> str:
    return f"{display_url(base)}/graph?g0.expr={quote(query, safe='')}&g0.tab=0"
