"""The audit log in SQL: records chained by hash, appended under the counter row's lock; and incidents imported
with the audit records they brought."""
from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import datetime
from typing import cast

from bot.core.audit import AuditRecord, Head, StoredAudit
from bot.core.models import Event, Incident
from bot.errors import ConflictError
from bot.store.sql_base import SqlBase, incident_doc


class AuditSql(SqlBase):
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

    def audit_records(self, since: datetime | None = None) -> list[AuditRecord]:
        """The records (of the last period, by the indexed time) as models; `iter_audit` streams rows instead."""
        sql, params = "SELECT record FROM audit", cast(tuple, ())
        if since is not None:
            sql, params = sql + " WHERE at >= ?", (self._time(since),)
        with self._read() as db:
            rows = db.execute(sql + " ORDER BY seq", params).fetchall()
        return [AuditRecord.model_validate_json(row[0]) for row in rows]

    def audit_newest(self, since: datetime | None = None, until: datetime | None = None, seq: int | None = None,
                     batch: int = 2000) -> Iterator[AuditRecord]:
        """Records newest first, read a batch at a time as the caller iterates (the web view's audit page stops at
        500 matches, whatever the log's length); only the one `seq` when given."""
        where, params = ["seq < ?"], []
        for clause, value in (("at >= ?", since), ("at < ?", until)):
            if value is not None:
                where.append(clause)
                params.append(self._time(value))
        if seq is not None:
            where.append("seq = ?")
            params.append(seq)
        below = 2**62
        while True:
            with self._read() as db:
                rows = db.execute(f"SELECT seq, record FROM audit WHERE {' AND '.join(where)} ORDER BY seq DESC LIMIT ?",
                                  (below, *params, batch)).fetchall()
            yield from (AuditRecord.model_validate_json(record) for _, record in rows)
            if len(rows) < batch:
                return
            below = rows[-1][0]

    def iter_audit(self, batch: int = 2000, after: int = 0) -> Iterator[StoredAudit]:
        """Every audit row in order (those after seq `after`), a batch at a time (memory stays flat whatever the
        log's length)."""
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
                 int(stored.has_timers), incident_doc(stored)),
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
