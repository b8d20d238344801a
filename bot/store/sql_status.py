"""The status page's part of the SQL store: public incidents, component states and their history, and the page's
version (a counter row every write moves on, optimistically: a write made against an older version is refused
with StaleWrite, and a replica that reads a newer version knows the page changed)."""
from __future__ import annotations

import json
from datetime import datetime
from typing import cast

from bot.core.ports import StaleWrite, StatusWrite
from bot.core.status_models import ComponentState, HistoryEntry, PublicIncident, StatusSnapshot
from bot.store.sql_base import Cursorish, SqlBase


class StatusSql(SqlBase):
    def status_version(self) -> int:
        with self._read() as db:
            return db.execute("SELECT value FROM counters WHERE name = 'status_page'").fetchone()[0]

    def status_snapshot(self) -> StatusSnapshot:
        with self._read() as db:
            version = db.execute("SELECT value FROM counters WHERE name = 'status_page'").fetchone()[0]
            states = db.execute("SELECT doc FROM component_states").fetchall()
            incidents = db.execute("SELECT doc FROM public_incidents WHERE open = 1 ORDER BY created_at DESC").fetchall()
        components = {state.name: state for state in (ComponentState.model_validate_json(row[0]) for row in states)}
        return StatusSnapshot(version, components, [PublicIncident.model_validate_json(row[0]) for row in incidents])

    def public_incident(self, public_id: str) -> PublicIncident | None:
        return self._one_public("id", public_id)

    def public_incident_for(self, number: int) -> PublicIncident | None:
        return self._one_public("number", number)

    def _one_public(self, column: str, value: object) -> PublicIncident | None:
        with self._read() as db:
            row = db.execute(f"SELECT doc FROM public_incidents WHERE {column} = ?", (value,)).fetchone()
        return PublicIncident.model_validate_json(row[0]) if row else None

    def public_incidents(self, limit: int = 50, since: datetime | None = None) -> list[PublicIncident]:
        """Newest first: the open ones and those updated since `since` (every one without it), at most `limit`."""
        sql, params = "SELECT doc FROM public_incidents", cast(tuple, ())
        if since is not None:
            sql, params = sql + " WHERE open = 1 OR updated_at >= ?", (self._time(since),)
        with self._read() as db:
            rows = db.execute(sql + " ORDER BY created_at DESC LIMIT ?", (*params, limit)).fetchall()
        return [PublicIncident.model_validate_json(row[0]) for row in rows]

    def component_history(self, since: datetime) -> list[HistoryEntry]:
        """Each component's changes since then, oldest first (with the state each was in at `since`)."""
        with self._read() as db:
            rows = db.execute("SELECT doc FROM component_history WHERE at >= ? ORDER BY seq",
                              (self._time(since),)).fetchall()
            before = db.execute(
                "SELECT h.doc FROM component_history h JOIN (SELECT component, MAX(seq) AS seq FROM component_history"
                " WHERE at < ? GROUP BY component) last ON h.seq = last.seq", (self._time(since),)).fetchall()
        return [HistoryEntry.model_validate_json(row[0]) for row in [*before, *rows]]

    def write_status(self, expected: int, write: StatusWrite) -> int:
        with self._write() as db:
            row = db.execute("UPDATE counters SET value = value + 1 WHERE name = 'status_page' AND value = ?"
                             " RETURNING value", (expected,)).fetchone()
            if row is None:
                raise StaleWrite("status page")
            if write.incident is not None:
                self._upsert_public(db, write.incident)
            for state in write.components:
                db.execute("INSERT INTO component_states (name, doc) VALUES (?, ?)"
                           " ON CONFLICT (name) DO UPDATE SET doc = excluded.doc", (state.name, state.model_dump_json()))
            for entry in write.history:
                db.execute("INSERT INTO component_history (component, at, status, doc) VALUES (?, ?, ?, ?)",
                           (entry.component, self._time(entry.at), entry.status.value, entry.model_dump_json()))
            events = write.timeline[1] if write.timeline else []
            if write.audit is not None:
                seq = self._append_audit(db, write.audit).seq
                events = [event.model_copy(update={"data": {**event.data, "audit_seq": seq}}) for event in events]
            if write.timeline is not None and events:
                self._insert_events(db, write.timeline[0], events)
            return row[0]

    def _upsert_public(self, db: Cursorish, incident: PublicIncident) -> None:
        db.execute(
            "INSERT INTO public_incidents (id, number, open, created_at, updated_at, doc) VALUES (?, ?, ?, ?, ?, ?)"
            " ON CONFLICT (id) DO UPDATE SET open = excluded.open, updated_at = excluded.updated_at, doc = excluded.doc",
            (incident.id, incident.number, int(incident.is_open), self._time(incident.created_at),
             self._time(incident.updated_at), json.dumps(incident.model_dump(mode="json"))))


SQLITE_MIGRATION = [
    "INSERT INTO counters (name, value) VALUES ('status_page', 0)",
    # One row per public incident (its random public id; one per internal incident), open ones found by a flag.
    ("CREATE TABLE public_incidents (id TEXT PRIMARY KEY, number INTEGER NOT NULL UNIQUE REFERENCES incidents (number),"
     " open INTEGER NOT NULL, created_at TEXT NOT NULL, updated_at TEXT NOT NULL, doc TEXT NOT NULL)"),
    "CREATE INDEX public_incidents_open ON public_incidents (open, created_at)",
    "CREATE INDEX public_incidents_updated ON public_incidents (updated_at)",
    "CREATE TABLE component_states (name TEXT PRIMARY KEY, doc TEXT NOT NULL)",
    # Every change of a component's status, for uptime: append-only.
    ("CREATE TABLE component_history (seq INTEGER PRIMARY KEY AUTOINCREMENT, component TEXT NOT NULL,"
     " at TEXT NOT NULL, status TEXT NOT NULL, doc TEXT NOT NULL)"),
    "CREATE INDEX component_history_at ON component_history (at)",
    *(f"CREATE TRIGGER component_history_no_{verb.lower()} BEFORE {verb} ON component_history"
      " BEGIN SELECT RAISE(ABORT, 'component history is append-only'); END" for verb in ("UPDATE", "DELETE")),
]

POSTGRES_MIGRATION = [
    "INSERT INTO counters (name, value) VALUES ('status_page', 0)",
    ("CREATE TABLE public_incidents (id TEXT PRIMARY KEY, number BIGINT NOT NULL UNIQUE REFERENCES incidents (number),"
     " open INTEGER NOT NULL, created_at TIMESTAMPTZ NOT NULL, updated_at TIMESTAMPTZ NOT NULL, doc TEXT NOT NULL)"),
    "CREATE INDEX public_incidents_open ON public_incidents (open, created_at)",
    "CREATE INDEX public_incidents_updated ON public_incidents (updated_at)",
    "CREATE TABLE component_states (name TEXT PRIMARY KEY, doc TEXT NOT NULL)",
    ("CREATE TABLE component_history (seq BIGSERIAL PRIMARY KEY, component TEXT NOT NULL,"
     " at TIMESTAMPTZ NOT NULL, status TEXT NOT NULL, doc TEXT NOT NULL)"),
    "CREATE INDEX component_history_at ON component_history (at)",
    ("CREATE TRIGGER component_history_append_only BEFORE UPDATE OR DELETE ON component_history"
     " FOR EACH ROW EXECUTE FUNCTION audit_append_only()"),
]
