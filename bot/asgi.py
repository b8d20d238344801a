"""The one piece of raw ASGI both HTTP entry points need (the Slack gate and the alert endpoints): reading a request
body under a cap and a deadline before anything parses it. Standard library only."""
from __future__ import annotations

import asyncio

BODY_DEADLINE = 30.0  # seconds for a whole body: a client that trickles it holds a connection no longer


class SlowBody(TimeoutError):
    """The body did not arrive within the deadline (answer 408)."""


async def read_body(receive, limit: int, deadline: float | None = None) -> bytes | None:
    """The whole body, or None as soon as it passes `limit` bytes (the rest is never buffered); SlowBody when it
    takes longer than `deadline` seconds."""
    chunks, size = [], 0
    deadline = BODY_DEADLINE if deadline is None else deadline
    try:
        async with asyncio.timeout(deadline):
            while True:
                message = await receive()
                chunk = message.get("body", b"")
                size += len(chunk)
                if size > limit:
                    return None
                chunks.append(chunk)
                if not message.get("more_body"):
                    return b"".join(chunks)
    except TimeoutError as exc:
        raise SlowBody(f"the request body did not arrive within {deadline:g} s") from exc
