"""Plans (compare and set, so a confirmation or approval applies once), leases (the scheduler leader's) and the
platforms' memory in SQL."""
from __future__ import annotations

import json
from datetime import datetime

from bot.core.plans import Plan
from bot.errors import NotFound
from bot.store.sql_base import SqlBase


class PlanSql(SqlBase):
    # --- leases -------------------------------------------------------------------------------
    def acquire_lease(self, key: str, holder: str, attempt: str, until: datetime, now: datetime) -> str | None:
        """Take the lease on `key` (free, or expired) until `until`; None when taken, else who holds it."""
        with self._write() as db:
            taken = db.execute(
                "INSERT INTO leases (key, holder, attempt, expires_at) VALUES (?, ?, ?, ?) ON CONFLICT (key) DO UPDATE"
                " SET holder = excluded.holder, attempt = excluded.attempt, expires_at = excluded.expires_at"
                " WHERE leases.expires_at < ?",
                (key, holder, attempt, self._time(until), self._time(now))).rowcount
            if taken == 1:
                return None
            row = db.execute("SELECT holder FROM leases WHERE key = ?", (key,)).fetchone()
        return row[0] if row else "someone"

    def renew_lease(self, key: str, attempt: str, until: datetime) -> bool:
        """Extend a lease this attempt still holds; False when it no longer does."""
        with self._write() as db:
            return db.execute("UPDATE leases SET expires_at = ? WHERE key = ? AND attempt = ?",
                              (self._time(until), key, attempt)).rowcount == 1

    def release_lease(self, key: str, attempt: str) -> None:
        with self._write() as db:
            db.execute("DELETE FROM leases WHERE key = ? AND attempt = ?", (key, attempt))

    # --- plans --------------------------------------------------------------------------------
    def save_plan(self, plan: Plan) -> None:
        with self._write() as db:
            db.execute("INSERT INTO plans (id, status, expires_at, doc) VALUES (?, ?, ?, ?)",
                       (plan.id, plan.status, self._time(plan.expires_at), plan.model_dump_json()))

    def get_plan(self, plan_id: str) -> Plan:
        with self._read() as db:
            row = db.execute("SELECT doc FROM plans WHERE id = ?", (plan_id,)).fetchone()
        if row is None:
            raise NotFound(f"There is no plan {plan_id}.")
        return Plan.model_validate_json(row[0])

    def pending_plans(self, now: datetime) -> list[Plan]:
        """Plans still waiting for their requester's confirmation or for approvals (the on-call handoff brief)."""
        with self._read() as db:
            rows = db.execute("SELECT doc FROM plans WHERE status = 'pending' AND expires_at > ? ORDER BY expires_at",
                              (self._time(now),)).fetchall()
        return [Plan.model_validate_json(row[0]) for row in rows]

    def update_plan(self, plan: Plan, expected: Plan) -> bool:
        """Compare and set: write `plan` only while the stored plan is still `expected` (as the caller read it),
        so two people confirming or approving at once neither run the action twice nor lose an approval."""
        with self._write() as db:
            row = db.execute(f"SELECT doc FROM plans WHERE id = ?{self._lock_row}", (plan.id,)).fetchone()
            if row is None or Plan.model_validate_json(row[0]) != expected:
                return False
            db.execute("UPDATE plans SET status = ?, doc = ? WHERE id = ?", (plan.status, plan.model_dump_json(), plan.id))
            return True

    # --- platform memory --------------------------------------------------------------------
    def recall(self, key: str) -> dict | None:
        with self._read() as db:
            row = db.execute("SELECT doc FROM platform_memory WHERE key = ?", (key,)).fetchone()
        return json.loads(row[0]) if row else None

    def remember(self, key: str, doc: dict) -> None:
        with self._write() as db:
            db.execute("INSERT INTO platform_memory (key, doc) VALUES (?, ?)"
                       " ON CONFLICT (key) DO UPDATE SET doc = excluded.doc", (key, json.dumps(doc)))
