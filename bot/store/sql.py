"""The SQL shared by both store backends (SQLite and PostgreSQL); the protocol it fulfils is core/ports.py.

Incidents are stored as a JSON document plus the columns we query on; the version column gives
optimistic locking, so two people changing one incident at once never lose a change.
"""
from __future__ import annotations

import json
import re
from collections.abc import Iterator
from contextlib import AbstractContextManager
from datetime import datetime
from typing import Any, Protocol, cast

from bot.core.audit import GENESIS, AuditKey, AuditRecord, Head, StoredAudit, chain
from bot.core.models import OPEN_STATUSES, Event, Incident, Status
from bot.core.plans import Plan
from bot.core.ports import AlertDelivery, AlertRecorded, StaleWrite
from bot.core.reminders import Checklist, Reminder, Tick, Window
from bot.errors import ConflictError, NotFound
from bot.timeparse import show, utcnow


class Cursorish(Protocol):
    def execute(self, sql: str, params: tuple = ...) -> Any: ...


class SqlStore:
    """Store logic in portable SQL; a backend supplies `_write()` / `_read()` transactions."""

    url: str
    audit_key: AuditKey | None = None  # set by open_store from OPSBOT_AUDIT_KEY
    _lock_row = ""  # PostgreSQL: " FOR UPDATE" (SQLite's writers already hold the database's write lock)

    def _write(self) -> AbstractContextManager[Cursorish]:
        raise NotImplementedError

    def _read(self) -> AbstractContextManager[Cursorish]:
        raise NotImplementedError

    def _time(self, moment: datetime) -> Any:
        return moment

    def _parse_time(self, value: Any) -> datetime:
        return value

    # --- writes -------------------------------------------------------------------------
    def create_incident(self, incident: Incident, events: list[Event]) -> Incident:
        with self._write() as db:
            number = _next_number(db, "incident")
            stored = incident.model_copy(update={"number": number, "version": 1})
            db.execute(
                "INSERT INTO incidents (number, status, channel, declared_at, version, timers, doc)"
                " VALUES (?, ?, ?, ?, ?, ?, ?)",
                (number, stored.status.value, stored.channel, self._time(stored.declared_at), 1,
                 int(stored.has_timers), _doc(stored)),
            )
            self._insert_events(db, number, events)
        return stored

    def save_incident(self, incident: Incident, events: list[Event]) -> Incident:
        stored = incident.model_copy(update={"version": incident.version + 1})
        with self._write() as db:
            changed = db.execute(
                "UPDATE incidents SET status = ?, channel = ?, version = ?, timers = ?, doc = ?"
                " WHERE number = ? AND version = ?",
                (stored.status.value, stored.channel, stored.version, int(stored.has_timers), _doc(stored),
                 incident.number, incident.version),
            ).rowcount
            if changed != 1:
                raise StaleWrite(incident.id)
            self._insert_events(db, incident.number, events)
        return stored

    def append_events(self, number: int, events: list[Event]) -> None:
        with self._write() as db:
            self._insert_events(db, number, events)

    def claim_delivery(self, key: str) -> bool:
        """Take a remembered key back (once): True if it was there, by whichever process remembered it."""
        with self._write() as db:
            return db.execute("DELETE FROM deliveries WHERE key = ?", (key,)).rowcount == 1

    def remember_delivery(self, key: str) -> bool:
        """Record a delivery key (e.g. a Slack event_id); False if it was seen before, by any process."""
        with self._write() as db:
            return db.execute(
                "INSERT INTO deliveries (key, at) VALUES (?, ?) ON CONFLICT (key) DO NOTHING",
                (key, self._time(utcnow())),
            ).rowcount == 1

    def forget_deliveries(self, before: datetime) -> int:
        """Drop Slack's delivery keys (events, triggers, modals) remembered before `before`, and say how many: Slack
        retries within minutes. Alert deliveries' keys are kept: Alertmanager repeats a still-firing group's
        notification byte for byte for as long as it fires, and each repeat must stay a duplicate."""
        with self._write() as db:
            return db.execute("DELETE FROM deliveries WHERE at < ? AND key NOT LIKE ?",
                              (self._time(before), "alert:%")).rowcount

    # --- alerts -------------------------------------------------------------------------------
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
                number = _next_number(db, "incident")
                stored = delivery.incident.model_copy(update={"number": number, "version": 1})
                db.execute(
                    "INSERT INTO incidents (number, status, channel, declared_at, version, timers, doc)"
                    " VALUES (?, ?, ?, ?, ?, ?, ?)",
                    (number, stored.status.value, stored.channel, self._time(stored.declared_at), 1,
                     int(stored.has_timers), _doc(stored)),
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
                f"INSERT INTO deliveries (key, at) VALUES {_rows(len(deliveries))} ON CONFLICT (key) DO NOTHING "
                "RETURNING key", tuple(value for key, _ in deliveries for value in (key, now))).fetchall()
            fresh = {row[0] for row in remembered}
            queued, inbox = [], []
            for key, group in deliveries:
                queued.append(key in fresh)
                if key in fresh:
                    fresh.discard(key)  # the same delivery twice in one batch: the second is a replay
                    inbox += [key, group]
            if inbox:
                db.execute(f"INSERT INTO alert_inbox (key, doc) VALUES {_rows(len(inbox) // 2)}", tuple(inbox))
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

    # --- audit log ------------------------------------------------------------------------
    def append_audit(self, record: AuditRecord, timeline: tuple[int, Event] | None = None) -> AuditRecord:
        """Append one record, chained to the previous one. The counter row lock serialises writers. With
        `timeline`, the incident's event goes in with it, in the same transaction, carrying the record's seq."""
        with self._write() as db:
            stored = self._append_audit(db, record)
            if timeline is not None:
                number, event = timeline
                self._insert_events(db, number, [event.model_copy(
                    update={"data": {**event.data, "audit_seq": stored.seq}})])
            return stored

    def _append_audit(self, db: Cursorish, record: AuditRecord) -> AuditRecord:
        seq = _next_number(db, "audit")
        row = db.execute("SELECT hash FROM audit WHERE seq = ?", (seq - 1,)).fetchone()
        linked = chain(record, seq, row[0] if row else GENESIS, self.audit_key)
        db.execute(
            "INSERT INTO audit (seq, at, attempt, record, hash) VALUES (?, ?, ?, ?, ?)",
            (seq, self._time(linked.at), linked.attempt, linked.model_dump_json(), linked.hash),
        )
        return linked

    def audit_records(self, since: datetime | None = None) -> list[AuditRecord]:
        """The records (of the last period, by the indexed time) as models; `iter_audit` streams rows instead."""
        sql, params = "SELECT record FROM audit", cast(tuple, ())
        if since is not None:
            sql, params = sql + " WHERE at >= ?", (self._time(since),)
        with self._read() as db:
            rows = db.execute(sql + " ORDER BY seq", params).fetchall()
        return [AuditRecord.model_validate_json(row[0]) for row in rows]

    def iter_audit(self, batch: int = 2000) -> Iterator[StoredAudit]:
        """Every audit row in order, a batch at a time (memory stays flat whatever the log's length)."""
        after = 0
        while True:
            with self._read() as db:
                rows = db.execute("SELECT seq, at, attempt, hash, record FROM audit WHERE seq > ? ORDER BY seq LIMIT ?",
                                  (after, batch)).fetchall()
            for seq, at, attempt, digest, record in rows:
                try:
                    when = self._parse_time(at)
                except (TypeError, ValueError):
                    when = None  # an edited column; verification names the record
                yield StoredAudit(seq, when, attempt, digest, record)
            if len(rows) < batch:
                return
            after = rows[-1][0]

    def audit_head(self) -> Head | None:
        with self._read() as db:
            row = db.execute("SELECT seq, hash FROM audit ORDER BY seq DESC LIMIT 1").fetchone()
        return Head(row[0], row[1]) if row else None

    # --- imported incidents ------------------------------------------------------------------
    def import_incident(self, incident: Incident, events: list[Event], archived: list[AuditRecord],
                        source_sha256: str, record: AuditRecord) -> Incident:
        """All or nothing: the incident under its own number (refused if taken), its timeline, the audit records
        that came with it, and `record` appended to this store's audit log. The incident counter moves past the
        number, so it is never handed out again."""
        stored = incident.model_copy(update={"version": 1})
        with self._write() as db:
            if db.execute("SELECT 1 FROM incidents WHERE number = ?", (stored.number,)).fetchone():
                raise ConflictError(f"{stored.id} already exists here; nothing was imported.")
            db.execute("UPDATE counters SET value = ? WHERE name = 'incident' AND value < ?",
                       (stored.number, stored.number))
            db.execute(
                "INSERT INTO incidents (number, status, channel, declared_at, version, timers, doc)"
                " VALUES (?, ?, ?, ?, ?, ?, ?)",
                (stored.number, stored.status.value, stored.channel, self._time(stored.declared_at), 1,
                 int(stored.has_timers), _doc(stored)),
            )
            self._insert_events(db, stored.number, events)
            db.execute("INSERT INTO incident_archive (incident, source_sha256, audit) VALUES (?, ?, ?)",
                       (stored.number, source_sha256, json.dumps([r.model_dump(mode="json") for r in archived])))
            self._append_audit(db, record)
        return stored

    def archived_audit(self, number: int) -> list[AuditRecord]:
        """The audit records an imported incident brought with it (none for one declared here)."""
        with self._read() as db:
            row = db.execute("SELECT audit FROM incident_archive WHERE incident = ?", (number,)).fetchone()
        return [AuditRecord.model_validate(r) for r in json.loads(row[0])] if row else []

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

    def update_plan(self, plan: Plan, expected: Plan) -> bool:
        """Compare and set: write `plan` only while the stored plan is still `expected` (as the caller read it),
        so two people confirming or approving at once neither run the action twice nor lose an approval."""
        with self._write() as db:
            row = db.execute(f"SELECT doc FROM plans WHERE id = ?{self._lock_row}", (plan.id,)).fetchone()
            if row is None or Plan.model_validate_json(row[0]) != expected:
                return False
            db.execute("UPDATE plans SET status = ?, doc = ? WHERE id = ?", (plan.status, plan.model_dump_json(), plan.id))
            return True

    # --- maintenance windows and reminders ----------------------------------------------
    def create_window(self, window: Window, reminders: list[Reminder], audit: AuditRecord | None = None) -> Window:
        """Store a window, its notices and its audit record (target: the new window) at once; an overlapping
        window in the same environment is refused. Taking the counter row first serialises concurrent
        schedulers, so the overlap check cannot race."""
        with self._write() as db:
            number = _next_number(db, "window")
            clash = db.execute(
                "SELECT doc FROM windows WHERE env = ? AND cancelled = 0 AND starts_at < ? AND ends_at > ?",
                (window.env, self._time(window.ends_at), self._time(window.starts_at)),
            ).fetchone()
            if clash:
                other = Window.model_validate_json(clash[0])
                raise ConflictError(f"{window.env} already has {other.ref} \"{other.title}\" from "
                                    f"{show(other.starts_at)} to {show(other.ends_at)}; windows may not overlap.")
            stored = window.model_copy(update={"id": number})
            db.execute("INSERT INTO windows (id, env, starts_at, ends_at, cancelled, doc) VALUES (?, ?, ?, ?, 0, ?)",
                       (number, stored.env, self._time(stored.starts_at), self._time(stored.ends_at),
                        stored.model_dump_json()))
            for reminder in reminders:
                reminder = reminder.model_copy(update={"key": reminder.key.format(window=number), "window": number})
                self._insert_reminder(db, reminder)
            if audit is not None:
                self._append_audit(db, audit.model_copy(update={"target": stored.ref}))
        return stored

    def get_window(self, window_id: int) -> Window:
        if not _storable(window_id):
            raise NotFound(f"There is no maintenance window MW-{window_id}.")
        with self._read() as db:
            row = db.execute("SELECT doc FROM windows WHERE id = ?", (window_id,)).fetchone()
        if row is None:
            raise NotFound(f"There is no maintenance window MW-{window_id}.")
        return Window.model_validate_json(row[0])

    def list_windows(self, ending_after: datetime | None = None) -> list[Window]:
        sql, params = "SELECT doc FROM windows", cast(tuple, ())
        if ending_after is not None:
            sql, params = sql + " WHERE ends_at > ?", (self._time(ending_after),)
        with self._read() as db:
            rows = db.execute(sql + " ORDER BY starts_at", params).fetchall()
        return [Window.model_validate_json(row[0]) for row in rows]

    def change_window(self, window: Window, drop_prefix: str, reminders: list[Reminder],
                      audit: AuditRecord | None = None) -> None:
        """Save a cancelled or extended window, cancel its pending reminders under `drop_prefix`, add new ones,
        append its audit record: all or nothing."""
        with self._write() as db:
            if window.cancelled_at is None:
                clash = db.execute(
                    "SELECT doc FROM windows WHERE env = ? AND cancelled = 0 AND id <> ? AND starts_at < ?"
                    " AND ends_at > ?",
                    (window.env, window.id, self._time(window.ends_at), self._time(window.starts_at)),
                ).fetchone()
                if clash:
                    other = Window.model_validate_json(clash[0])
                    raise ConflictError(f"That would overlap {other.ref} \"{other.title}\" "
                                        f"(from {show(other.starts_at)}).")
            db.execute("UPDATE windows SET ends_at = ?, cancelled = ?, doc = ? WHERE id = ?",
                       (self._time(window.ends_at), int(window.cancelled_at is not None), window.model_dump_json(),
                        window.id))
            for key, doc in db.execute("SELECT key, doc FROM reminders WHERE status = 'pending' AND key LIKE ?",
                                       (drop_prefix + "%",)).fetchall():
                dropped = Reminder.model_validate_json(doc).model_copy(update={"status": "cancelled"})
                db.execute("UPDATE reminders SET status = 'cancelled', doc = ? WHERE key = ?",
                           (dropped.model_dump_json(), key))
            for reminder in reminders:
                self._insert_reminder(db, reminder)
            if audit is not None:
                self._append_audit(db, audit)

    def add_reminder(self, reminder: Reminder) -> bool:
        """Record a reminder under its key; False if that key was recorded before (by any process)."""
        with self._write() as db:
            return self._insert_reminder(db, reminder)

    def _insert_reminder(self, db: Cursorish, reminder: Reminder) -> bool:
        return db.execute(
            "INSERT INTO reminders (key, status, due_at, doc) VALUES (?, ?, ?, ?) ON CONFLICT (key) DO NOTHING",
            (reminder.key, reminder.status, self._time(reminder.due_at), reminder.model_dump_json()),
        ).rowcount == 1

    def due_reminders(self, now: datetime) -> list[Reminder]:
        with self._read() as db:
            rows = db.execute("SELECT doc FROM reminders WHERE status = 'pending' AND due_at <= ? ORDER BY due_at",
                              (self._time(now),)).fetchall()
        return [_reminder(row[0]) for row in rows]

    def settle_reminder(self, reminder: Reminder, expected: str = "pending") -> bool:
        """Move a reminder on from `expected` (a conditional update: of two processes, one wins)."""
        with self._write() as db:
            return db.execute("UPDATE reminders SET status = ?, doc = ? WHERE key = ? AND status = ?",
                              (reminder.status, reminder.model_dump_json(), reminder.key, expected)).rowcount == 1

    def reminders(self, prefix: str = "") -> list[Reminder]:
        with self._read() as db:
            rows = db.execute("SELECT doc FROM reminders WHERE key LIKE ? ORDER BY due_at, key",
                              (prefix + "%",)).fetchall()
        return [_reminder(row[0]) for row in rows]

    def schedule_cursor(self, name: str) -> datetime | None:
        with self._read() as db:
            row = db.execute("SELECT at FROM schedule_cursors WHERE name = ?", (name,)).fetchone()
        return self._parse_time(row[0]) if row else None

    def set_schedule_cursor(self, name: str, at: datetime) -> None:
        with self._write() as db:
            db.execute("INSERT INTO schedule_cursors (name, at) VALUES (?, ?)"
                       " ON CONFLICT (name) DO UPDATE SET at = excluded.at", (name, self._time(at)))

    # --- platform memory --------------------------------------------------------------------
    def recall(self, key: str) -> dict | None:
        with self._read() as db:
            row = db.execute("SELECT doc FROM platform_memory WHERE key = ?", (key,)).fetchone()
        return json.loads(row[0]) if row else None

    def remember(self, key: str, doc: dict) -> None:
        with self._write() as db:
            db.execute("INSERT INTO platform_memory (key, doc) VALUES (?, ?)"
                       " ON CONFLICT (key) DO UPDATE SET doc = excluded.doc", (key, json.dumps(doc)))

    # --- checklists -----------------------------------------------------------------------
    def create_checklist(self, checklist: Checklist) -> Checklist:
        with self._write() as db:
            number = _next_number(db, "checklist")
            stored = checklist.model_copy(update={"id": number})
            db.execute("INSERT INTO checklists (id, reminder, doc) VALUES (?, ?, ?)",
                       (number, stored.reminder, stored.model_dump_json(exclude={"ticks"})))
        return stored

    def get_checklist(self, checklist_id: int) -> Checklist:
        if not _storable(checklist_id):
            raise NotFound(f"There is no checklist CL-{checklist_id}.")
        with self._read() as db:
            row = db.execute("SELECT doc FROM checklists WHERE id = ?", (checklist_id,)).fetchone()
            if row is None:
                raise NotFound(f"There is no checklist CL-{checklist_id}.")
            ticks = db.execute("SELECT item, actor, at, checked FROM checklist_ticks WHERE checklist = ? ORDER BY id",
                               (checklist_id,)).fetchall()
        checklist = Checklist.model_validate_json(row[0])
        checklist.ticks = [Tick(item=item, actor=actor, at=self._parse_time(at), checked=bool(checked))
                           for item, actor, at, checked in ticks]
        return checklist

    def add_ticks(self, checklist_id: int, ticks: list[Tick]) -> None:
        with self._write() as db:
            for tick in ticks:
                db.execute("INSERT INTO checklist_ticks (checklist, item, actor, at, checked) VALUES (?, ?, ?, ?, ?)",
                           (checklist_id, tick.item, tick.actor, self._time(tick.at), int(tick.checked)))

    def _insert_events(self, db: Cursorish, number: int, events: list[Event]) -> None:
        """In order, a few hundred rows a statement: on PostgreSQL each statement is a round trip (an alert
        delivery brings an event per alert; an import, a whole timeline)."""
        for start in range(0, len(events), ROWS_PER_INSERT):
            chunk = events[start:start + ROWS_PER_INSERT]
            db.execute(f"INSERT INTO events (incident, at, actor, kind, text, data) VALUES {_rows(len(chunk), 6)}",
                       tuple(value for event in chunk for value in (
                           number, self._time(event.at), event.actor, event.kind.value, event.text,
                           json.dumps(event.data))))

    # --- reads --------------------------------------------------------------------------
    def get_incident(self, number: int) -> Incident:
        if not _storable(number):
            raise NotFound(f"There is no incident INC-{number}.")
        with self._read() as db:
            row = db.execute("SELECT doc, version FROM incidents WHERE number = ?", (number,)).fetchone()
        if row is None:
            raise NotFound(f"There is no incident INC-{number}.")
        return _incident(row)

    def list_incidents(self, include_closed: bool = False, limit: int = 50,
                       statuses: tuple[Status, ...] | None = None) -> list[Incident]:
        """Newest first: open incidents, every incident (include_closed), or those in `statuses`."""
        sql = "SELECT doc, version FROM incidents"
        params: tuple = ()
        wanted = statuses or (None if include_closed else OPEN_STATUSES)
        if wanted:
            sql += f" WHERE status IN ({', '.join('?' for _ in wanted)})"
            params = tuple(status.value for status in wanted)
        sql += " ORDER BY number DESC LIMIT ?"
        with self._read() as db:
            rows = db.execute(sql, (*params, limit)).fetchall()
        return [_incident(row) for row in rows]

    def open_by_severity(self) -> dict[str, int]:
        """How many incidents are open, by severity: for each metrics scrape, so only the one field is read."""
        with self._read() as db:
            rows = db.execute(f"SELECT doc FROM incidents WHERE status IN ({', '.join('?' for _ in OPEN_STATUSES)})",
                              tuple(status.value for status in OPEN_STATUSES)).fetchall()
        counts: dict[str, int] = {}
        for (doc,) in rows:
            severity = json.loads(doc)["severity"]
            counts[severity] = counts.get(severity, 0) + 1
        return counts

    def incidents_with_timers(self) -> list[Incident]:
        """The incidents whose timers may still fire (see Incident.has_timers), oldest first."""
        with self._read() as db:
            rows = db.execute("SELECT doc, version FROM incidents WHERE timers = 1 ORDER BY number").fetchall()
        return [_incident(row) for row in rows]

    def forget_timers(self, incident: Incident) -> None:
        """Unflag an incident that has nothing left to remind (rows from before the flag); a newer version
        keeps its own flag."""
        with self._write() as db:
            db.execute("UPDATE incidents SET timers = 0 WHERE number = ? AND version = ?",
                       (incident.number, incident.version))

    def incident_for_channel(self, channel: str) -> Incident | None:
        with self._read() as db:
            row = db.execute(
                "SELECT doc, version FROM incidents WHERE channel = ? ORDER BY number DESC LIMIT 1",
                (channel,),
            ).fetchone()
        return _incident(row) if row else None

    def timeline(self, number: int) -> list[Event]:
        with self._read() as db:
            neutral_from = db.execute("SELECT value FROM counters WHERE name = 'neutral_events_from'").fetchone()[0]
            rows = db.execute(
                "SELECT id, at, actor, kind, text, data FROM events WHERE incident = ? ORDER BY id", (number,)
            ).fetchall()
        return [
            Event(incident=number, at=self._parse_time(at), actor=actor, kind=kind,
                  text=text if row_id >= neutral_from else neutral(text), data=json.loads(data))
            for row_id, at, actor, kind, text, data in rows
        ]


# Rows written before the store held neutral text (events before `neutral_events_from`, reminders whose document
# has no `mentions`) carry Slack markup: they are read in the neutral shape. Newer text is read as it was written.
_LEGACY_MENTION = re.compile(r"<(?:@|!subteam\^)([A-Z0-9_]+)(?:\|[^>]*)?>")
_LEGACY_CHANNEL = re.compile(r"<#([A-Z0-9_]+)(?:\|[^>]*)?>")
_LEGACY_BOLD = re.compile(r"(?<![\w*])\*([^*\n]+)\*(?![\w*])")


def neutral(text: str) -> str:
    if "<" not in text and "*" not in text:
        return text
    return _LEGACY_BOLD.sub(r"\1", _LEGACY_CHANNEL.sub(r"#\1", _LEGACY_MENTION.sub(r"@\1", text)))


def _reminder(doc: str) -> Reminder:
    reminder = Reminder.model_validate_json(doc)
    if '"mentions"' in doc:
        return reminder
    text = neutral(reminder.text)
    if text == reminder.text:
        return reminder
    ids = _LEGACY_MENTION.findall(reminder.text) + _LEGACY_CHANNEL.findall(reminder.text)
    return reminder.model_copy(update={"text": text, "mentions": [*reminder.mentions, *ids]})


def _storable(number: int) -> bool:
    """Ids past a 64-bit integer cannot be in the database (and would make its driver raise)."""
    return 0 < number < 2**63


def _next_number(db: Cursorish, counter: str) -> int:
    """Gapless numbers that never repeat: the UPDATE locks the counter row until the transaction ends."""
    return db.execute("UPDATE counters SET value = value + 1 WHERE name = ? RETURNING value", (counter,)).fetchone()[0]


def _doc(incident: Incident) -> str:
    return incident.model_dump_json(exclude={"version"})


def _incident(row: tuple) -> Incident:
    doc, version = row
    return Incident.model_validate_json(doc).model_copy(update={"version": version})


def hide_password(url: str) -> str:
    """postgresql://user:secret@host/db -> postgresql://user:***@host/db"""
    scheme, sep, rest = url.partition("://")
    if not sep or "@" not in rest:
        return url
    credentials, _, host = rest.rpartition("@")
    if ":" in credentials:
        user = credentials.split(":", 1)[0]
        credentials = f"{user}:***"
    return f"{scheme}://{credentials}@{host}"


ROWS_PER_INSERT = 500  # × 6 columns stays under SQLite's 32,766 parameters of a statement (PostgreSQL: 65,535)


def _rows(count: int, columns: int = 2) -> str:
    """The VALUES list of a many-row INSERT."""
    return ", ".join(["(" + ", ".join("?" * columns) + ")"] * count)


def _first_seen(db: Cursorish, number: int, keys: list[str]) -> set[str]:
    """Record the alert keys (states) seen on an incident; those not seen on it before."""
    unseen: set[str] = set()
    for start in range(0, len(keys), ROWS_PER_INSERT):
        chunk = keys[start:start + ROWS_PER_INSERT]
        rows = db.execute(f"INSERT INTO alert_seen (incident, key) VALUES {_rows(len(chunk))} ON CONFLICT DO NOTHING "
                          "RETURNING key", tuple(value for key in chunk for value in (number, key))).fetchall()
        unseen |= {row[0] for row in rows}
    return unseen
