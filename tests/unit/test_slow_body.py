"""A client that trickles its body holds a connection no longer than the deadline: 408, nothing parsed."""
from __future__ import annotations

import asyncio

import pytest

from bot.asgi import SlowBody, read_body


def test_a_body_that_trickles_past_the_deadline_is_refused():
    async def trickle():
        await asyncio.sleep(0.2)
        return {"body": b"x", "more_body": True}

    async def main():
        with pytest.raises(SlowBody, match="did not arrive within 0.5 s"):
            await read_body(trickle, 1 << 20, deadline=0.5)

    asyncio.run(main())


def test_a_whole_body_within_the_deadline_and_the_cap_is_read_and_one_past_the_cap_is_not():
    parts = [{"body": b"ab", "more_body": True}, {"body": b"cd", "more_body": False}]

    async def main():
        queue = list(parts)
        assert await read_body(lambda: _next(queue), 10) == b"abcd"
        queue = list(parts)
        assert await read_body(lambda: _next(queue), 3) is None

    asyncio.run(main())


async def _next(queue: list) -> dict:
    return queue.pop(0)
