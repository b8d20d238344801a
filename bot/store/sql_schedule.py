"""Maintenance windows, reminders, schedule cursors and checklists in SQL."""
from __future__ import annotations

from datetime import datetime
from typing import cast

from bot.core.audit import AuditRecord
from bot.core.reminders import Checklist, Reminder, Tick, Window
from bot.errors import ConflictError, NotFound
from bot.store.sql_base import Cursorish, SqlBase, next_number, reminder_of, storable_id
from bot.timeparse import show


class ScheduleSql(SqlBase):
    def create_window(self, window: Window, reminders: list[Reminder], audit: AuditRecord | None = None) -> Window:
        """Store a window, its notices and its audit record (target: the new window) at once; an overlapping
        window in the same environment is refused. Taking the counter row first serialises concurrent
        schedulers, so the overlap check cannot race."""
        with self._write() as db:
            number = next_number(db, "window")
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
        if not storable_id(window_id):
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
        return [reminder_of(row[0]) for row in rows]

    def settle_reminder(self, reminder: Reminder, expected: str = "pending") -> bool:
        """Move a reminder on from `expected` (a conditional update: of two processes, one wins)."""
        with self._write() as db:
            return db.execute("UPDATE reminders SET status = ?, doc = ? WHERE key = ? AND status = ?",
                              (reminder.status, reminder.model_dump_json(), reminder.key, expected)).rowcount == 1

    def reminders(self, prefix: str = "") -> list[Reminder]:
        with self._read() as db:
            rows = db.execute("SELECT doc FROM reminders WHERE key LIKE ? ORDER BY due_at, key",
                              (prefix + "%",)).fetchall()
        return [reminder_of(row[0]) for row in rows]

    def sent_reminders(self, prefix: str, start: datetime, end: datetime) -> list[Reminder]:
        """Reminders sent that were due in [start, end) (the on-call report's pages), by the (status, due_at) index."""
        with self._read() as db:
            rows = db.execute("SELECT doc FROM reminders WHERE status = 'sent' AND due_at >= ? AND due_at < ?"
                              " AND key LIKE ? ORDER BY due_at, key",
                              (self._time(start), self._time(end), prefix + "%")).fetchall()
        return [reminder_of(row[0]) for row in rows]

    def schedule_cursor(self, name: str) -> datetime | None:
        with self._read() as db:
            row = db.execute("SELECT at FROM schedule_cursors WHERE name = ?", (name,)).fetchone()
        return self._parse_time(row[0]) if row else None

    def set_schedule_cursor(self, name: str, at: datetime) -> None:
        with self._write() as db:
            db.execute("INSERT INTO schedule_cursors (name, at) VALUES (?, ?)"
                       " ON CONFLICT (name) DO UPDATE SET at = excluded.at", (name, self._time(at)))

    # --- checklists -----------------------------------------------------------------------
    def create_checklist(self, checklist: Checklist) -> Checklist:
        with self._write() as db:
            number = next_number(db, "checklist")
            stored = checklist.model_copy(update={"id": number})
            db.execute("INSERT INTO checklists (id, reminder, doc) VALUES (?, ?, ?)",
                       (number, stored.reminder, stored.model_dump_json(exclude={"ticks"})))
        return stored

    def get_checklist(self, checklist_id: int) -> Checklist:
        if not storable_id(checklist_id):
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
