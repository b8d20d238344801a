"""PostgreSQL: connect + SELECT 1, connections as % of max_connections, size, long-running queries."""
from __future__ import annotations

import os

import psycopg

from bot.checks.settings import PostgresCheck
from bot.core.ports import CheckResult


async def check(check: PostgresCheck, context: dict) -> CheckResult:
    from bot.checks.runner import level, thresholds

    dsn = os.environ.get(check.dsn_env)
    if not dsn:
        return CheckResult(check.name, "postgres", "crit", "not configured", "", f"${check.dsn_env} is not set")
    async with await psycopg.AsyncConnection.connect(dsn, connect_timeout=max(1, int(check.timeout_s)),
                                                     autocommit=True) as conn:
        await conn.execute("SELECT 1")
        row = await (await conn.execute(
            "SELECT (SELECT count(*) FROM pg_stat_activity),"
            " current_setting('max_connections')::int,"
            " pg_database_size(current_database()),"
            " (SELECT count(*) FROM pg_stat_activity WHERE state = 'active'"
            "  AND now() - query_start > make_interval(secs => %s))",
            (check.long_query_s,))).fetchone()
    if row is None:
        raise ValueError("the statistics query returned no row")
    used, maximum, size, long_queries = row
    pct = 100.0 * used / maximum
    result_level = level(pct, check.warn_pct, check.crit_pct)
    detail = f"database {size / 1024 / 1024:.0f} MiB"
    if long_queries:
        detail += f"; {long_queries} queries running > {check.long_query_s:g} s"
        result_level = "crit" if result_level == "crit" else "warn"
    return CheckResult(check.name, "postgres", result_level, f"{used}/{maximum} connections ({pct:.0f}%)",
                       thresholds(check.warn_pct, check.crit_pct, "%"), detail)
