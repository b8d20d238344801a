"""The one piece of raw ASGI both HTTP entry points need (the Slack gate and the alert endpoints): reading a request
body under a cap before anything parses it. Standard library only."""
from __future__ import annotations


async def read_body(receive, limit: int) -> bytes | None:
    """The whole body, or None as soon as it passes `limit` bytes (the rest is never buffered)."""
    chunks, size = [], 0
    while True:
        message = await receive()
        chunk = message.get("body", b"")
        size += len(chunk)
        if size > limit:
            return None
        chunks.append(chunk)
        if not message.get("more_body"):
            return b"".join(chunks)
