"""TLS: days until the certificate expires, and whether it matches the host name."""
from __future__ import annotations

import asyncio
import ssl
from datetime import UTC, datetime

from bot.checks.settings import TlsCheck
from bot.core.ports import CheckResult, Level


async def check(check: TlsCheck, context: dict) -> CheckResult:
    port = check.port or 443
    tls = ssl.create_default_context(cafile=check.ca_file) if check.ca_file else ssl.create_default_context()
    limits = f"warn < {check.warn_days} d / crit < {check.crit_days} d"
    try:
        _, writer = await asyncio.open_connection(check.host, port, ssl=tls, server_hostname=check.host)
    except ssl.SSLCertVerificationError as error:
        reason = "does not match the host name" if "match" in str(error.verify_message or error) else error.verify_message
        return CheckResult(check.name, "tls", "crit", "invalid certificate", limits, f"certificate {reason}")
    cert = writer.get_extra_info("peercert")
    writer.close()
    await writer.wait_closed()
    expires = datetime.fromtimestamp(ssl.cert_time_to_seconds(cert["notAfter"]), UTC)
    days = (expires - datetime.now(UTC)).total_seconds() / 86400
    level: Level = "crit" if days < check.crit_days else "warn" if days < check.warn_days else "ok"
    return CheckResult(check.name, "tls", level, f"expires in {days:.0f} d ({expires:%Y-%m-%d})", limits)
