"""APScheduler wiring for `opsbot serve`: an interval job that, on the leader, runs a reminder tick, and beside it
one that runs the status page's checks (their timeouts must never hold back a reminder).

Everything the scheduler knows lives in opsbot's tables (reminders, windows, schedule cursors), so a process
that starts — or takes over as leader — rebuilds its work from the database on its first tick; nothing lives
only in memory.
"""
from __future__ import annotations

import logging
import threading

from apscheduler.schedulers.background import BackgroundScheduler
from apscheduler.triggers.interval import IntervalTrigger

from bot.scheduler.engine import ReminderEngine
from bot.scheduler.leader import LeaderLock
from bot.timeparse import utcnow

log = logging.getLogger("opsbot.scheduler")


class SchedulerRunner:
    def __init__(self, engine: ReminderEngine, lock: LeaderLock, clock=utcnow):
        self.engine = engine
        self.lock = lock
        self.clock = clock
        self.is_leader = False
        self._scheduler = BackgroundScheduler(timezone="UTC")
        self._mutex = threading.Lock()
        self._ticked = False

    def start(self) -> None:
        seconds = max(self.engine.settings.tick.total_seconds(), 0.05)
        self._scheduler.add_job(self.tick, IntervalTrigger(seconds=seconds), id="opsbot-tick",
                                next_run_time=self.clock(), coalesce=True, max_instances=1,
                                misfire_grace_time=None)
        if self.engine.watch_status is not None:
            self._scheduler.add_job(self.watch, IntervalTrigger(seconds=seconds), id="opsbot-status-watch",
                                    coalesce=True, max_instances=1, misfire_grace_time=None)
        self._scheduler.start()

    def poke(self) -> None:
        """Tick now rather than at the next interval: a new incident's first page goes out at once."""
        if self._scheduler.running:
            try:
                self._scheduler.modify_job("opsbot-tick", next_run_time=self.clock())
            except Exception:
                log.debug("could not bring the tick forward", exc_info=True)

    def stop(self) -> None:
        if self._scheduler.running:
            self._scheduler.shutdown(wait=True)
        if self.is_leader:
            try:
                self.engine.anchor_on_shutdown()
            except Exception:  # the store may be what is down; the next leader anchors on its first tick
                log.warning("could not anchor the audit log's head at shutdown", exc_info=True)
        self.lock.release()
        self.is_leader = False

    def watch(self) -> None:
        """The status page's comparison with its components' checks, on the leader, in its own job (APScheduler's
        thread pool runs it beside the tick; one at a time). It runs every `status_page.watch_every`."""
        if self.is_leader and self.lock.held():  # a lost lead stops it at once, not at the next tick
            self.engine.watch_status_page(self.clock())  # it logs its own failures; the next period tries again

    def tick(self) -> None:
        with self._mutex:
            if self.is_leader and not self.lock.held():
                log.warning("lost the scheduler leadership")
                self.is_leader = False
            if not self.is_leader:
                self.is_leader = self.lock.try_acquire()
                if self.is_leader:  # at start it is expected (DEBUG); later it is a takeover (INFO)
                    log.log(logging.INFO if self._ticked else logging.DEBUG, "this process is now the scheduler leader")
            self._ticked = True
            if not self.is_leader:
                return
            try:
                self.engine.tick(self.clock())
            except Exception:  # a bad tick (store down) is retried on the next one
                log.exception("scheduler tick failed")
