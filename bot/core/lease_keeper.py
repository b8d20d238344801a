"""A lease held only while its holder lives: taken for a short slice and renewed by a heartbeat while the action
runs. A process that dies (kill -9, a lost node) stops renewing, so its leases lapse within a slice and the
scheduler leader reconciles what it left half done within minutes, not after the action's whole timeout."""
from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Self

LEASE_SLICE = timedelta(seconds=90)  # how long a lease outlives its holder
HEARTBEAT = 30.0  # seconds between renewals (three per slice: one missed beat is not a lapse)
log = logging.getLogger("opsbot.ops")


class LeaseKeeper:
    """Renews `keys` (held under `attempt`) every HEARTBEAT seconds until stopped."""

    def __init__(self, store, keys: list[str], attempt: str, clock: Callable[[], datetime],
                 every: float = HEARTBEAT):
        self.store, self.keys, self.attempt, self.clock, self.every = store, keys, attempt, clock, every
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._beat, name=f"opsbot-lease-{attempt}", daemon=True)

    def __enter__(self) -> Self:
        if self.keys:
            self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(5)

    def _beat(self) -> None:
        while not self._stop.wait(self.every):
            for key in self.keys:
                try:
                    if not self.store.renew_lease(key, self.attempt, self.clock() + LEASE_SLICE):
                        log.warning("the lease on %s was lost while %s ran", key, self.attempt)
                except Exception:  # the store is down: the next beat tries again; the slice covers two misses
                    log.warning("renewing the lease on %s failed", key, exc_info=True)
