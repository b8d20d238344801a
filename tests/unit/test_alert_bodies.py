"""Big alert bodies are read two at a time (each costs several times its size while read and parsed); small ones
never wait behind them."""
from __future__ import annotations

import asyncio
import json

from bot.alerts.endpoint import BIG_AT_ONCE, AlertEndpoint
from bot.config import Catalog
from bot.core.alerts import AlertService
from bot.core.flows import IncidentFlows
from bot.core.incidents import IncidentService


def body(n: int) -> bytes:
    labels = {f"label{i}": "x" * 100 for i in range(12_000)}  # some 1.3 MB
    return json.dumps({"title": f"Disk {n}", "dedup_key": f"disk-{n}", "labels": labels}).encode()


def test_big_bodies_wait_their_turn_and_small_ones_do_not(store, clock):
    catalog = Catalog()
    service = AlertService(store, catalog, IncidentFlows(IncidentService(store, catalog, clock=clock)), clock=clock)
    endpoint = AlertEndpoint(service, {"webhook": "t" * 32})
    reading, answers = 0, []
    release = asyncio.Event()

    def request(data: bytes, big: bool):
        started = False

        async def receive() -> dict:
            nonlocal reading, started
            if not started:
                started = True
                reading += 1
                if big:
                    await release.wait()
            return {"type": "http.request", "body": data, "more_body": False}

        async def send(message: dict) -> None:
            if message["type"] == "http.response.start":
                answers.append(message["status"])

        scope = {"type": "http", "method": "POST", "path": "/alerts/webhook", "query_string": b"",
                 "headers": [(b"content-length", str(len(data)).encode()),
                             (b"authorization", f"Bearer {'t' * 32}".encode())]}
        return endpoint._handle(scope, receive, send)

    async def main():
        big = [asyncio.create_task(request(body(n), big=True)) for n in range(3)]
        for _ in range(100):  # until two are reading (a busy machine may take a while) …
            if reading >= BIG_AT_ONCE:
                break
            await asyncio.sleep(0.05)
        await asyncio.sleep(0.2)  # … and a moment more, in which the third must not start
        assert reading == BIG_AT_ONCE  # the third waits before reading a byte
        small = json.dumps({"title": "Small", "dedup_key": "small"}).encode()
        await asyncio.wait_for(request(small, big=False), 5)  # a small one is not held behind them
        release.set()
        await asyncio.wait_for(asyncio.gather(*big), 20)

    asyncio.run(main())
    assert len(answers) == 4 and all(status < 300 for status in answers), answers
