"""Alerts in SQL: deliveries queued in an inbox, then applied once each (by whichever replica claims them),
opening at most one incident per alert group while it is open."""
from __future__ import annotations

from collections import Counter

from bot.core.models import OPEN_STATUSES, Event, Incident, Status
from bot.core.ports import AlertDelivery, AlertRecorded, StormOpening
from bot.store.sql_base import (
    ROWS_PER_INSERT,
    Cursorish,
    SqlBase,
    incident_doc,
    incident_of,
    next_number,
    value_rows,
)
from bot.timeparse import utcnow


class AlertSql(SqlBase):
    def record_alerts(self, delivery: AlertDelivery) -> AlertRecorded:
        """One alert delivery, all or nothing: a replay changes nothing; the group's row, locked by the upsert,
        serialises deliveries of one group across processes, so it opens at most one incident while that one is
        open; each seen key (an alert's state) gets its event once per incident. A group that needs a new incident
        while a storm is on (see `_storm`) joins the storm incident instead."""
        with self._write() as db:
            # Taking the delivery out of the inbox is the claim: of two workers (replicas), one applies it.
            if db.execute("DELETE FROM alert_inbox WHERE key = ?", (delivery.delivery_key,)).rowcount != 1:
                return AlertRecorded(None, duplicate=True)
            number = db.execute(
                "INSERT INTO alert_groups (key, incident) VALUES (?, 0) ON CONFLICT (key)"
                " DO UPDATE SET incident = alert_groups.incident RETURNING incident", (delivery.group_key,),
            ).fetchone()[0]
            status = self._status(db, number)
            opened = joined = False
            if delivery.incident is not None and status not in OPEN_STATUSES:
                target = self._storm(db, delivery.storm) if delivery.storm else None
                if target is None:
                    number = self._open(db, delivery.incident, delivery.opening_events)
                    opened = True
                else:
                    number, opened = target
                    joined = True
                    assert delivery.storm is not None
                    self._insert_events(db, number, delivery.storm.join_events)
                if delivery.storm:
                    db.execute("INSERT INTO alert_openings (seq, at, incident, storm) VALUES (?, ?, ?, ?)",
                               (next_number(db, "alert_opening"), self._time(delivery.storm.at), number, int(joined)))
                db.execute("UPDATE alert_groups SET incident = ? WHERE key = ?", (number, delivery.group_key))
                status = self._status(db, number)
            if not number or status is None or status is Status.CLOSED:
                return AlertRecorded(number or None)  # nothing to add to: no incident, or a closed one
            unseen = _first_seen(db, number, [alert.key for alert in delivery.seen])
            new = []
            for index, alert in enumerate(delivery.seen):
                if alert.key in unseen:
                    unseen.discard(alert.key)  # the same key twice in one delivery: its first event only
                    new.append(index)
            self._insert_events(db, number, delivery.events_for(new) if new else [])
            firing = Counter(delivery.seen[index].name for index in new if delivery.seen[index].firing)
            if firing or opened or joined:
                self._count(db, number, firing, 1 if opened or joined else 0)
            if opened or new:
                args = {**delivery.audit.args, "opened": opened, "recorded": len(new)} | (
                    {"storm": True} if joined else {})
                self._append_audit(db, delivery.audit.model_copy(update={"target": f"INC-{number}", "args": args}))
        return AlertRecorded(number, opened=opened, new_keys=[delivery.seen[index].key for index in new],
                             joined_storm=joined)

    def _status(self, db: Cursorish, number: int) -> Status | None:
        row = db.execute("SELECT status FROM incidents WHERE number = ?", (number,)).fetchone() if number else None
        return Status(row[0]) if row else None

    def _open(self, db: Cursorish, incident: Incident, events: list[Event]) -> int:
        return self._insert_incident(db, incident, events).number

    def _storm(self, db: Cursorish, storm: StormOpening) -> tuple[int, bool] | None:
        """Whether a group that needs a new incident joins a storm: (the storm incident, opened now), or None when
        fewer than `max_new` groups needed one within the window. The counter row, locked until the transaction
        ends, makes replicas take these decisions one at a time."""
        db.execute("UPDATE counters SET value = value WHERE name = 'alert_opening'")
        db.execute("DELETE FROM alert_openings WHERE at <= ?", (self._time(storm.since),))
        if db.execute("SELECT count(*) FROM alert_openings").fetchone()[0] < storm.max_new:
            return None
        # The storm goes on while the latest group joined it and its incident is open; otherwise (the rate fell in
        # between, or it was resolved) a new storm opens its own incident.
        latest = db.execute("SELECT incident, storm FROM alert_openings ORDER BY seq DESC LIMIT 1").fetchone()
        if latest and latest[1] and self._status(db, latest[0]) in OPEN_STATUSES:
            return latest[0], False
        return self._open(db, storm.incident, storm.opening_events), True

    def _count(self, db: Cursorish, number: int, firing: Counter[str], groups: int) -> None:
        """The incident's counts grow in the same transaction (its version too: a concurrent change retries)."""
        incident = incident_of(db.execute(f"SELECT doc, version FROM incidents WHERE number = ?{self._lock_row}",
                                          (number,)).fetchone())
        counts = Counter(incident.alert_counts) + firing
        changed = incident.model_copy(update={"alert_counts": dict(counts), "alert_groups": incident.alert_groups + groups,
                                              "version": incident.version + 1})
        db.execute("UPDATE incidents SET version = ?, doc = ? WHERE number = ?",
                   (changed.version, incident_doc(changed), number))

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
