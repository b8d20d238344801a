"""The SQL store both backends (SQLite and PostgreSQL) share, composed of one part per domain: incidents (here),
the audit log (sql_audit.py), alerts (sql_alerts.py), windows and reminders (sql_schedule.py), plans and leases
(sql_plans.py), the search index (sql_search.py), on the plumbing in sql_base.py. The protocol it fulfils is core/ports.py.

Incidents are stored as a JSON document plus the columns we query on; the version column gives
optimistic locking, so two people changing one incident at once never lose a change.
"""
from __future__ import annotations

import json
from collections.abc import Collection, Iterator
from datetime import datetime

from bot.core.audit import AuditRecord
from bot.core.insights import IncidentTimes
from bot.core.models import OPEN_STATUSES, Event, Incident, Status
from bot.core.ports import StaleWrite
from bot.errors import NotFound
from bot.store.sql_alerts import AlertSql
from bot.store.sql_audit import AuditSql
from bot.store.sql_base import incident_doc, incident_of, neutral, storable_id
from bot.store.sql_plans import PlanSql
from bot.store.sql_schedule import ScheduleSql
from bot.store.sql_search import SearchSql
from bot.store.sql_status import StatusSql
from bot.store.sql_web import WebSql
from bot.timeparse import utcnow


class SqlStore(AuditSql, AlertSql, ScheduleSql, PlanSql, StatusSql, SearchSql, WebSql):
    """Store logic in portable SQL; a backend supplies `_write()` / `_read()` transactions."""

    # --- writes -------------------------------------------------------------------------
    def create_incident(self, incident: Incident, events: list[Event]) -> Incident:
        with self._write() as db:
            return self._insert_incident(db, incident, events)

    def save_incident(self, incident: Incident, events: list[Event], audit: AuditRecord | None = None) -> Incident:
        stored = incident.model_copy(update={"version": incident.version + 1})
        with self._write() as db:
            changed = db.execute(
                "UPDATE incidents SET status = ?, channel = ?, version = ?, timers = ?, doc = ?"
                " WHERE number = ? AND version = ?",
                (stored.status.value, stored.channel, stored.version, int(stored.has_timers), incident_doc(stored),
                 incident.number, incident.version),
            ).rowcount
            if changed != 1:
                raise StaleWrite(incident.id)
            if audit is not None:
                seq = self._append_audit(db, audit).seq
                events = [event.model_copy(update={"data": {**event.data, "audit_seq": seq}}) for event in events]
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

    # --- reads --------------------------------------------------------------------------
    def get_incident(self, number: int) -> Incident:
        if not storable_id(number):
            raise NotFound(f"There is no incident INC-{number}.")
        with self._read() as db:
            row = db.execute("SELECT doc, version FROM incidents WHERE number = ?", (number,)).fetchone()
        if row is None:
            raise NotFound(f"There is no incident INC-{number}.")
        return incident_of(row)

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
        return [incident_of(row) for row in rows]

    def open_by_severity(self) -> dict[str, int]:
        """How many public incidents are open, by severity: for each metrics scrape, so only the one field is read.
        A private incident exists only for its participants, and a scrape has none."""
        with self._read() as db:
            rows = db.execute(f"SELECT doc FROM incidents WHERE status IN ({', '.join('?' for _ in OPEN_STATUSES)})",
                              tuple(status.value for status in OPEN_STATUSES)).fetchall()
        counts: dict[str, int] = {}
        for (doc,) in rows:
            incident = json.loads(doc)
            if not incident.get("private"):
                counts[incident["severity"]] = counts.get(incident["severity"], 0) + 1
        return counts

    def incidents_with_timers(self) -> list[Incident]:
        """The incidents whose timers may still fire (see Incident.has_timers), oldest first."""
        with self._read() as db:
            rows = db.execute("SELECT doc, version FROM incidents WHERE timers = 1 ORDER BY number").fetchall()
        return [incident_of(row) for row in rows]

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
        return incident_of(row) if row else None

    def incidents_where(self, statuses: tuple[Status, ...] | None = None, severity: str | None = None,
                        service: str | None = None, env: str | None = None, since: datetime | None = None,
                        until: datetime | None = None, batch: int = 200) -> Iterator[Incident]:
        """Every incident matching the filters, newest first, read `batch` at a time as the caller iterates (the web
        view's list pages through 10,000 incidents reading only what one page needs). The filters are the search
        index's columns, written with each incident (bot/store/sql_search.py)."""
        where, params = ["1 = 1"], []
        for column, value in (("severity", severity), ("service", service), ("env", env)):
            if value:
                where.append(f"s.{column} = ?")
                params.append(value)
        if statuses:
            where.append(f"s.status IN ({', '.join('?' for _ in statuses)})")
            params += [status.value for status in statuses]
        if since is not None:
            where.append("s.declared_at >= ?")
            params.append(self._time(since))
        if until is not None:
            where.append("s.declared_at < ?")
            params.append(self._time(until))
        sql = ("SELECT i.doc, i.version FROM incidents i JOIN search_rows s ON s.number = i.number"
               f" WHERE {' AND '.join(where)} ORDER BY i.number DESC LIMIT ? OFFSET ?")
        offset = 0
        while True:
            with self._read() as db:
                rows = db.execute(sql, (*params, batch, offset)).fetchall()
            yield from (incident_of(row) for row in rows)
            if len(rows) < batch:
                return
            offset += batch

    def change_mark(self) -> tuple:
        """Changes whenever an incident is created or saved (versions only grow), an event is written or an audit
        record appended: what cached read models (insights) are checked against, in three cheap queries."""
        with self._read() as db:
            incidents = db.execute("SELECT COUNT(*), COALESCE(SUM(version), 0) FROM incidents").fetchone()
            events = db.execute("SELECT COALESCE(MAX(id), 0) FROM events").fetchone()[0]
            audit = db.execute("SELECT COALESCE(MAX(seq), 0) FROM audit").fetchone()[0]
        return (int(incidents[0]), int(incidents[1]), int(events), int(audit))

    def incident_times(self, since: datetime) -> list[IncidentTimes]:
        """Every incident declared since `since`, as the few fields insights read: taken out of the stored JSON by
        the database (json_extract / ->>), not by parsing each record in Python."""
        fields = ("acknowledged_at", "mitigated_at", "resolved_at", "private")
        if self.postgres:  # each document parsed once (json_to_record), not once a field
            pick = ", ".join(f"r.{f}" for f in fields)
            source = ("search_rows s JOIN incidents i ON i.number = s.number, json_to_record(i.doc::json)"
                      " AS r(acknowledged_at text, mitigated_at text, resolved_at text, private boolean)")
        else:
            pick = ", ".join(f"json_extract(i.doc, '$.{f}')" for f in fields)
            source = "search_rows s JOIN incidents i ON i.number = s.number"
        with self._read() as db:
            rows = db.execute(f"SELECT s.number, s.severity, s.service, s.declared_at, {pick} FROM {source}"
                              " WHERE s.declared_at >= ? ORDER BY s.number", (self._time(since),)).fetchall()
        moment = lambda text: datetime.fromisoformat(text) if text else None
        return [IncidentTimes(number, severity, service, self._parse_time(declared), moment(ack), moment(mitigated),
                              moment(resolved), private in (1, True, "true"))
                for number, severity, service, declared, ack, mitigated, resolved, private in rows]

    def audit_outcomes(self, since: datetime, envs: Collection[str] | None = None) -> dict[str, int]:
        """How many ops records (those with an environment; of `envs` only, when given) of each phase since
        `since`, counted by the database."""
        phase, env = (("record::json->>'phase'", "record::json->>'env'") if self.postgres else
                      ("json_extract(record, '$.phase')", "json_extract(record, '$.env')"))
        if envs is not None and not envs:
            return {}
        among = "" if envs is None else f" AND {env} IN ({', '.join('?' for _ in envs)})"
        with self._read() as db:
            rows = db.execute(f"SELECT {phase}, COUNT(*) FROM audit WHERE at >= ? AND {env} IS NOT NULL"
                              f" AND {env} <> ''{among} GROUP BY {phase}",
                              (self._time(since), *sorted(envs or ()))).fetchall()
        return {name: int(count) for name, count in rows}

    def event_times(self, kind: str, since: datetime) -> dict[int, list[datetime]]:
        """When each incident had events of `kind` since `since`, in order: one query for insights over thousands
        of incidents instead of one timeline each."""
        with self._read() as db:
            rows = db.execute("SELECT incident, at FROM events WHERE kind = ? AND at >= ? ORDER BY incident, id",
                              (kind, self._time(since))).fetchall()
        found: dict[int, list[datetime]] = {}
        for number, at in rows:
            found.setdefault(number, []).append(self._parse_time(at))
        return found

    def timeline(self, number: int) -> list[Event]:
        return self.timeline_part(number)

    def timeline_part(self, number: int, kinds: tuple[str, ...] = (), offset: int = 0,
                      limit: int | None = None) -> list[Event]:
        """Part of a timeline, in order: only events of `kinds` (all when empty), `limit` from `offset` (the web
        view's pages of an incident with 10,000 events read 500)."""
        sql = "SELECT id, at, actor, kind, text, data FROM events WHERE incident = ?"
        params: list = [number]
        if kinds:
            sql += f" AND kind IN ({', '.join('?' for _ in kinds)})"
            params += list(kinds)
        sql += " ORDER BY id LIMIT ? OFFSET ?"
        params += [limit if limit is not None else 2**62, offset]
        with self._read() as db:
            neutral_from = db.execute("SELECT value FROM counters WHERE name = 'neutral_events_from'").fetchone()[0]
            rows = db.execute(sql, tuple(params)).fetchall()
        return [
            Event(incident=number, at=self._parse_time(at), actor=actor, kind=kind,
                  text=text if row_id >= neutral_from else neutral(text), data=json.loads(data))
            for row_id, at, actor, kind, text, data in rows
        ]

    def timeline_length(self, number: int) -> int:
        with self._read() as db:
            return db.execute("SELECT COUNT(*) FROM events WHERE incident = ?", (number,)).fetchone()[0]


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
