"""TCP: can we connect, and how long did it take."""
from __future__ import annotations

import asyncio
import time

from bot.checks.settings import TcpCheck
from bot.core.ports import CheckResult


async def check(check: TcpCheck, context: dict) -> CheckResult:
    started = time.perf_counter()
    try:
        _, writer = await asyncio.open_connection(check.host, check.port)
    except OSError as error:
        return CheckResult(check.name, "tcp", "crit", "unreachable", f"{check.host}:{check.port}",
                           error.strerror or str(error))
    writer.close()
    await writer.wait_closed()
    elapsed = (time.perf_counter() - started) * 1000
    return CheckResult(check.name, "tcp", "ok", f"connected in {elapsed:.0f} ms", f"{check.host}:{check.port}")
