"""Alerts in SQL: deliveries queued in an inbox, then applied once each (by whichever replica claims them),
opening at most one incident per alert group while it is open."""
from __future__ import annotations

from bot.core.models import OPEN_STATUSES, Status
from bot.core.ports import AlertDelivery, AlertRecorded
from bot.store.sql_base import ROWS_PER_INSERT, Cursorish, SqlBase, incident_doc, next_number, value_rows
from bot.timeparse import utcnow


class AlertSql(SqlBase):
    def record_alerts(self, delivery: AlertDelivery) -> AlertRecorded:
        """One alert delivery, all or nothing: a replay changes nothing; the group's row, locked by the upsert,
        serialises deliveries of one group across processes, so it opens at most one incident while that one is
        open; each seen key (an alert's state) gets its event once per incident."""
        with self._write() as db:
            # Taking the delivery out of the inbox is the claim: of two workers (replicas), one applies it.
            if db.execute("DELETE FROM alert_inbox WHERE key = ?", (delivery.delivery_key,)).rowcount != 1:
                return AlertRecorded(None, duplicate=True)
            number = db.execute(
                "INSERT INTO alert_groups (key, incident) VALUES (?, 0) ON CONFLICT (key)"
                " DO UPDATE SET incident = alert_groups.incident RETURNING incident", (delivery.group_key,),
            ).fetchone()[0]
            status = None
            if number:
                row = db.execute("SELECT status FROM incidents WHERE number = ?", (number,)).fetchone()
                status = Status(row[0]) if row else None
            opened = False
            if delivery.incident is not None and status not in OPEN_STATUSES:
                number = next_number(db, "incident")
                stored = delivery.incident.model_copy(update={"number": number, "version": 1})
                db.execute(
                    "INSERT INTO incidents (number, status, channel, declared_at, version, timers, doc)"
                    " VALUES (?, ?, ?, ?, ?, ?, ?)",
                    (number, stored.status.value, stored.channel, self._time(stored.declared_at), 1,
                     int(stored.has_timers), incident_doc(stored)),
                )
                db.execute("UPDATE alert_groups SET incident = ? WHERE key = ?", (number, delivery.group_key))
                self._insert_events(db, number, delivery.opening_events)
                opened, status = True, stored.status
            if not number or status is None or status is Status.CLOSED:
                return AlertRecorded(number or None)  # nothing to add to: no incident, or a closed one
            unseen = _first_seen(db, number, [key for key, _ in delivery.alert_events])
            new = []
            for key, event in delivery.alert_events:
                if key in unseen:
                    unseen.discard(key)  # the same key twice in one delivery: its first event only
                    new.append((key, event))
            self._insert_events(db, number, [event for _, event in new])
            if opened or new:
                args = {**delivery.audit.args, "opened": opened, "recorded": len(new)}
                self._append_audit(db, delivery.audit.model_copy(update={"target": f"INC-{number}", "args": args}))
        return AlertRecorded(number, opened=opened, new_keys=[key for key, _ in new])

    def queue_alerts(self, deliveries: list[tuple[str, str]]) -> list[bool]:
        """Keep deliveries (key, the typed group as JSON) until a worker applies them, in one transaction; False
        for a replay (its key was seen before, by any process, whether applied yet or not). Two statements per
        batch, whatever its size: on PostgreSQL each statement is a round trip."""
        if not deliveries:
            return []
        now = self._time(utcnow())
        with self._write() as db:
            remembered = db.execute(
                f"INSERT INTO deliveries (key, at) VALUES {value_rows(len(deliveries))} ON CONFLICT (key) DO NOTHING "
                "RETURNING key", tuple(value for key, _ in deliveries for value in (key, now))).fetchall()
            fresh = {row[0] for row in remembered}
            queued, inbox = [], []
            for key, group in deliveries:
                queued.append(key in fresh)
                if key in fresh:
                    fresh.discard(key)  # the same delivery twice in one batch: the second is a replay
                    inbox += [key, group]
            if inbox:
                db.execute(f"INSERT INTO alert_inbox (key, doc) VALUES {value_rows(len(inbox) // 2)}", tuple(inbox))
        return queued

    def pending_alerts(self, limit: int = 100) -> list[tuple[str, str]]:
        """(key, group JSON) of the deliveries not yet applied, oldest first."""
        with self._read() as db:
            return [(row[0], row[1]) for row in
                    db.execute("SELECT key, doc FROM alert_inbox ORDER BY seq LIMIT ?", (limit,)).fetchall()]

    def drop_alert(self, key: str) -> None:
        """A delivery that cannot be applied (logged by the caller) leaves the inbox, so it blocks nothing."""
        with self._write() as db:
            db.execute("DELETE FROM alert_inbox WHERE key = ?", (key,))


def _first_seen(db: Cursorish, number: int, keys: list[str]) -> set[str]:
    """Record the alert keys (states) seen on an incident; those not seen on it before."""
    unseen: set[str] = set()
    for start in range(0, len(keys), ROWS_PER_INSERT):
        chunk = keys[start:start + ROWS_PER_INSERT]
        rows = db.execute(f"INSERT INTO alert_seen (incident, key) VALUES {value_rows(len(chunk))} ON CONFLICT DO NOTHING "
                          "RETURNING key", tuple(value for key in chunk for value in (number, key))).fetchall()
        unseen |= {row[0] for row in rows}
    return unseen
