"""Serving the HTTP app with uvicorn until SIGTERM (or Ctrl-C), gracefully: no new deliveries are taken (uvicorn
closes its listening socket; `on_stop` — Socket Mode's close — runs at once), the requests under way finish, then
the app's lifespan shutdown (bot/http/app.py) waits for acked work within the shutdown timeout."""
from __future__ import annotations

import math
import signal
from collections.abc import Awaitable, Callable
from typing import Any

import uvicorn
from starlette.types import ASGIApp


class OpsbotServer(uvicorn.Server):
    """uvicorn's server, running `on_stop` the moment it is told to stop: uvicorn first waits for open HTTP
    connections and only then runs the lifespan's shutdown, and Socket Mode's deliveries would keep arriving."""

    def __init__(self, config: uvicorn.Config, on_stop: Callable[[], Awaitable[None]] | None = None):
        super().__init__(config)
        self.on_stop = on_stop

    async def shutdown(self, sockets: Any = None) -> None:
        if self.on_stop is not None:
            await self.on_stop()
        await super().shutdown(sockets)


def exit_cleanly(signum: int, frame: object) -> None:
    raise SystemExit(0)


def run(app: ASGIApp, host: str, port: int, shutdown_timeout: float,
        on_stop: Callable[[], Awaitable[None]] | None = None) -> None:
    """Serve until stopped. A start that fails (the reason is logged) exits 3, as uvicorn.run does."""
    # uvicorn handles SIGTERM/SIGINT: it stops accepting, lets open requests finish, then runs the lifespan
    # shutdown, which waits for acked work. Afterwards it re-raises the signal under the handlers it found: make
    # those a clean exit, so the caller's `finally` still runs (the scheduler releases its lock) and no traceback.
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, exit_cleanly)
    # log_config=None: uvicorn's own lines go through opsbot's logging (OPSBOT_LOG_FORMAT, redaction) too.
    server = OpsbotServer(uvicorn.Config(app, host=host, port=port, log_level="warning", log_config=None,
                                         lifespan="on", timeout_graceful_shutdown=math.ceil(shutdown_timeout)),
                          on_stop)
    server.run()
    if not server.started:
        raise SystemExit(3)
