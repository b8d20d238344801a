"""Attempts opsbot stopped in the middle of: killed, its host rebooted, between an action's `started` record and its
outcome. The platform may have been left half changed (a Docker container parked beside its replacement), and the
audit log says "outcome unknown".

The scheduler leader reconciles at start and every minute (`OpsService.reconcile`). It follows the audit log —
the last week at first, then only the records appended since — keeping the attempts whose last record is
`started`. For each, it takes the leases the action took (bot/core/ops_rules.py `leases`): while one is held the
action is still running somewhere (another replica, or a lease a dead process holds until it lapses), so it waits.
Holding them, it asks the platform to reconcile each service the action touched — finish or undo what was left
half done, or say where the platform takes it by itself — and records the attempt's outcome: `reconciled`, with
what was found and done, by the scheduler, on the incident's timeline when the attempt was for one. A runbook
action's process died with opsbot (it runs in opsbot's process group, with a parent-death signal): its outcome
stays unknown, and the record says so.
"""
from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import timedelta
from typing import TYPE_CHECKING

from bot.core.audit import OUTCOMES, AuditRecord
from bot.core.ops_audit import SCHEDULER, new_attempt
from bot.core.ops_rules import lease_time, leases
from bot.core.requests import Action, Actor, action_of
from bot.errors import BackendError, OpsbotError

if TYPE_CHECKING:
    from bot.core.ops import OpsService

LOOK_BACK = timedelta(days=7)  # how far back the first pass looks for attempts left without an outcome
log = logging.getLogger("opsbot.reconcile")


@dataclass(frozen=True)
class Reconciled:
    """An attempt's outcome, recorded by the reconciliation; `channel`: its incident's channel, if it has one."""

    record: AuditRecord
    channel: str | None = None


class Reconciler:
    """One process's reading of the audit log for unfinished attempts (kept between passes)."""

    def __init__(self, ops: OpsService):
        self.ops = ops
        self.unfinished: dict[str, AuditRecord] = {}  # attempt → its `started` record
        self.read_to: int | None = None  # the last audit seq read

    def run(self) -> list[Reconciled]:
        """One pass: read what is new, then settle each unfinished attempt whose leases are free. An attempt the
        platform cannot be reached for is tried again on the next pass."""
        self._read()
        done = []
        for started in list(self.unfinished.values()):
            try:
                settled = self._settle(started)
            except BackendError as error:
                log.warning("attempt %s not reconciled yet: %s", started.attempt, error)
                continue
            if settled is not None:
                done.append(settled)
        return done

    def _read(self) -> None:
        store = self.ops.store
        if self.read_to is None:
            head = store.audit_head()
            records = store.audit_records(since=self.ops.clock() - LOOK_BACK)
            for record in records:
                self._see(record)
            self.read_to = max([head.seq if head else 0] + [record.seq for record in records[-1:]])
            return
        for row in store.iter_audit(after=self.read_to):
            self._see(row.record)
            self.read_to = row.seq

    def _see(self, record: AuditRecord) -> None:
        if record.phase == "started":
            self.unfinished[record.attempt] = record
        elif record.phase in OUTCOMES:
            self.unfinished.pop(record.attempt, None)

    def _settle(self, started: AuditRecord) -> Reconciled | None:
        ops, now = self.ops, self.ops.clock()
        env = ops.catalog.environments.get(started.env or "")
        if env is None:
            return self._record(started, "opsbot stopped mid-way; nothing to do: outcome unknown, and "
                                         f"{started.env} is no longer in the catalog")
        action = action_of(started.action)
        spec = env.runbook.get(started.target or "") if action is Action.RUN else None
        if spec is not None and spec.read_only and now < started.at + lease_time(env, action, started.target):
            return None  # a read-only action holds no lease: it is over once its timeout has passed
        holder = f"{SCHEDULER} (reconciling {started.attempt} since {now:%H:%M} UTC)"
        attempt, held = new_attempt(), []
        try:
            for lease in leases(started.env or "", env, action, started.target):
                if ops.store.acquire_lease(lease, holder, attempt, now + lease_time(env, action, started.target),
                                           now) is not None:
                    return None  # the action is still running somewhere, or its dead holder's lease has not lapsed
                held.append(lease)
            self._read()  # its outcome, written before its leases were let go
            if started.attempt not in self.unfinished:
                return None
            return self._record(started, self._reconcile(started, action))
        finally:
            for lease in held:
                ops.store.release_lease(lease, attempt)

    def _reconcile(self, started: AuditRecord, action: Action) -> str:
        where = f"{started.target or started.action} in {started.env}"
        if action is Action.RUN:
            return (f"opsbot stopped mid-way; the runbook action's process ended with it: outcome unknown, check what "
                    f"{started.target} did in {started.env}")
        env = self.ops.env(started.env or "")
        services = env.maintenance.restart if action is Action.MAINTENANCE and env.maintenance else [started.target]
        try:
            platform = self.ops.platform(started.env or "")
            found = [platform.reconcile(service) for service in services if service]
        except BackendError:
            raise
        except OpsbotError as error:  # the service or platform is gone from the catalog: nothing to settle
            return f"opsbot stopped mid-way; nothing to do: outcome unknown ({error}), check {where}"
        done = [text for text in found if text]
        if not done:
            return f"opsbot stopped mid-way; nothing to do: outcome unknown, check {where}"
        return "opsbot stopped mid-way; " + "; ".join(done)

    def _record(self, started: AuditRecord, text: str) -> Reconciled:
        ops = self.ops
        actor = Actor(user=SCHEDULER, channel=None, command="scheduler: reconcile", surface="scheduler",
                      incident=started.incident)
        record = ops._audit(actor, started.attempt, "reconciled", started.env, started.action, started.target,
                            started.args, excerpt=text)
        ops.checkpoint(record)
        self.unfinished.pop(started.attempt, None)
        channel = None
        if started.incident is not None:
            try:
                channel = ops.store.get_incident(started.incident).channel
            except OpsbotError:
                channel = None
        return Reconciled(record, channel)
