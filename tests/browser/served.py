"""`opsbot serve`'s own app (Slack off) on a loopback port, for a real browser to load."""
from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager

import uvicorn

from bot.app import Opsbot, served
from bot.http.server import server_config
from tests.webview import NO_SLACK


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@contextmanager
def serving(opsbot: Opsbot, trusted: list[str] | None = None) -> Iterator[str]:
    """The base URL (http://127.0.0.1:PORT) while the app answers there, as `opsbot serve` serves it (the status
    page first, proxy headers honoured from `trusted` addresses)."""
    port = free_port()
    parts = served(opsbot, NO_SLACK, "off")
    server = uvicorn.Server(server_config(parts.app, "127.0.0.1", port, 5, trusted or [], status=parts.status))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started and time.monotonic() < deadline:
        time.sleep(0.02)
    assert server.started, "the app did not start within 10 s"
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(10)
