"""Health snapshots as every surface takes them: in the background, after what the user waits for (the reply, the
channel), because an environment's checks may take seconds. A failed snapshot is logged; the incident goes on."""
from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable

from bot.core.effects import HealthSnapshot

log = logging.getLogger("opsbot.evidence")
Snapshot = Callable[[int, str, str], object]  # EvidenceService.snapshot: (incident, moment, by)


class BackgroundSnapshots:
    def __init__(self, snapshot: Snapshot):
        self.snapshot = snapshot
        self._tasks: set[asyncio.Task] = set()  # under way (a task nobody holds may be collected)

    def take(self, effect: HealthSnapshot) -> None:
        task = asyncio.create_task(self._take(effect))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _take(self, effect: HealthSnapshot) -> None:
        try:
            await asyncio.to_thread(self.snapshot, effect.number, effect.moment, effect.by)
        except Exception:
            log.warning("the health snapshot at %s of INC-%s failed", effect.moment, effect.number, exc_info=True)

    async def settled(self) -> None:
        """Wait for the snapshots under way (shutdown, tests)."""
        while self._tasks:
            await asyncio.gather(*list(self._tasks), return_exceptions=True)
