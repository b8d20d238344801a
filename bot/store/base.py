"""The store protocol and the SQL shared by both backends.

Incidents are stored as a JSON document plus the columns we query on; the version column gives
optimistic locking, so two people changing one incident at once never lose a change.
"""
from __future__ import annotations

import json
from contextlib import AbstractContextManager
from datetime import datetime
from typing import Any, Protocol

from bot.core.audit import GENESIS, AuditRecord, chain
from bot.core.models import OPEN_STATUSES, Event, Incident, Status
from bot.core.plans import Plan
from bot.errors import NotFound
from bot.timeparse import utcnow


class StaleWrite(Exception):
    """The incident changed since it was read; the caller re-reads and retries."""


class Store(Protocol):
    url: str

    def migrate(self) -> None: ...
    def create_incident(self, incident: Incident, events: list[Event]) -> Incident: ...
    def save_incident(self, incident: Incident, events: list[Event]) -> Incident: ...
    def append_events(self, number: int, events: list[Event]) -> None: ...
    def get_incident(self, number: int) -> Incident: ...
    def list_incidents(self, include_closed: bool = False, limit: int = 50,
                       statuses: tuple[Status, ...] | None = None) -> list[Incident]: ...
    def incident_for_channel(self, channel: str) -> Incident | None: ...
    def timeline(self, number: int) -> list[Event]: ...
    def remember_delivery(self, key: str) -> bool: ...
    def append_audit(self, record: AuditRecord) -> AuditRecord: ...
    def audit_records(self, since: datetime | None = None) -> list[AuditRecord]: ...
    def save_plan(self, plan: Plan) -> None: ...
    def get_plan(self, plan_id: str) -> Plan: ...
    def update_plan(self, plan: Plan, expected_status: str) -> bool: ...
    def close(self) -> None: ...


class Cursorish(Protocol):
    def execute(self, sql: str, params: tuple = ...) -> Any: ...


class SqlStore:
    """Store logic in portable SQL; a backend supplies `_write()` / `_read()` transactions."""

    url: str

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
            # A counter row locked by UPDATE gives gapless numbers that never repeat.
            number = db.execute(
                "UPDATE counters SET value = value + 1 WHERE name = 'incident' RETURNING value", ()
            ).fetchone()[0]
            stored = incident.model_copy(update={"number": number, "version": 1})
            db.execute(
                "INSERT INTO incidents (number, status, channel, declared_at, version, doc)"
                " VALUES (?, ?, ?, ?, ?, ?)",
                (number, stored.status.value, stored.channel, self._time(stored.declared_at), 1,
                 _doc(stored)),
            )
            self._insert_events(db, number, events)
        return stored

    def save_incident(self, incident: Incident, events: list[Event]) -> Incident:
        stored = incident.model_copy(update={"version": incident.version + 1})
        with self._write() as db:
            changed = db.execute(
                "UPDATE incidents SET status = ?, channel = ?, version = ?, doc = ?"
                " WHERE number = ? AND version = ?",
                (stored.status.value, stored.channel, stored.version, _doc(stored),
                 incident.number, incident.version),
            ).rowcount
            if changed != 1:
                raise StaleWrite(incident.id)
            self._insert_events(db, incident.number, events)
        return stored

    def append_events(self, number: int, events: list[Event]) -> None:
        with self._write() as db:
            self._insert_events(db, number, events)

    def remember_delivery(self, key: str) -> bool:
        """Record a delivery key (e.g. a Slack event_id); False if it was seen before, by any process."""
        with self._write() as db:
            return db.execute(
                "INSERT INTO deliveries (key, at) VALUES (?, ?) ON CONFLICT (key) DO NOTHING",
                (key, self._time(utcnow())),
            ).rowcount == 1

    # --- audit log ------------------------------------------------------------------------
    def append_audit(self, record: AuditRecord) -> AuditRecord:
        """Append one record, chained to the previous one. The counter row lock serialises writers."""
        with self._write() as db:
            seq = db.execute(
                "UPDATE counters SET value = value + 1 WHERE name = 'audit' RETURNING value", ()
            ).fetchone()[0]
            row = db.execute("SELECT hash FROM audit WHERE seq = ?", (seq - 1,)).fetchone()
            linked = chain(record, seq, row[0] if row else GENESIS)
            db.execute(
                "INSERT INTO audit (seq, at, attempt, record, hash) VALUES (?, ?, ?, ?, ?)",
                (seq, self._time(linked.at), linked.attempt, linked.model_dump_json(), linked.hash),
            )
        return linked

    def audit_records(self, since: datetime | None = None) -> list[AuditRecord]:
        sql, params = "SELECT record FROM audit", ()
        if since is not None:
            sql, params = sql + " WHERE at >= ?", (self._time(since),)
        with self._read() as db:
            rows = db.execute(sql + " ORDER BY seq", params).fetchall()
        return [AuditRecord.model_validate_json(row[0]) for row in rows]

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

    def update_plan(self, plan: Plan, expected_status: str) -> bool:
        """Conditional update, so two people confirming at once run the action only once."""
        with self._write() as db:
            return db.execute(
                "UPDATE plans SET status = ?, doc = ? WHERE id = ? AND status = ?",
                (plan.status, plan.model_dump_json(), plan.id, expected_status),
            ).rowcount == 1

    def _insert_events(self, db: Cursorish, number: int, events: list[Event]) -> None:
        for event in events:
            db.execute(
                "INSERT INTO events (incident, at, actor, kind, text, data) VALUES (?, ?, ?, ?, ?, ?)",
                (number, self._time(event.at), event.actor, event.kind.value, event.text,
                 json.dumps(event.data)),
            )

    # --- reads --------------------------------------------------------------------------
    def get_incident(self, number: int) -> Incident:
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

    def incident_for_channel(self, channel: str) -> Incident | None:
        with self._read() as db:
            row = db.execute(
                "SELECT doc, version FROM incidents WHERE channel = ? ORDER BY number DESC LIMIT 1",
                (channel,),
            ).fetchone()
        return _incident(row) if row else None

    def timeline(self, number: int) -> list[Event]:
        with self._read() as db:
            rows = db.execute(
                "SELECT at, actor, kind, text, data FROM events WHERE incident = ? ORDER BY id", (number,)
            ).fetchall()
        return [
            Event(incident=number, at=self._parse_time(at), actor=actor, kind=kind, text=text,
                  data=json.loads(data))
            for at, actor, kind, text, data in rows
        ]


def _doc(incident: Incident) -> str:
    return incident.model_dump_json(exclude={"version"})


def _incident(row: tuple) -> Incident:
    doc, version = row
    return Incident.model_validate_json(doc).model_copy(update={"version": version})
