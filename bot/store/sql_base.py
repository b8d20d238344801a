"""What both SQL store backends (SQLite, PostgreSQL) share: transactions, time columns, gapless counters, and
the writes several parts make inside their own transaction (the audit chain, timeline events). Each part of the
store is a mixin on this base (sql.py composes them); the protocol they fulfil is core/ports.py.
"""
from __future__ import annotations

import json
import re
from contextlib import AbstractContextManager
from datetime import datetime
from typing import Any, Protocol

from bot.core.audit import GENESIS, AuditKey, AuditRecord, chain
from bot.core.models import Event, Incident
from bot.core.reminders import Reminder


class Cursorish(Protocol):
    def execute(self, sql: str, params: tuple = ...) -> Any: ...


class SqlBase:
    """A backend supplies `_write()` / `_read()` transactions (and its time columns' form)."""

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

    def _append_audit(self, db: Cursorish, record: AuditRecord) -> AuditRecord:
        seq = next_number(db, "audit")
        row = db.execute("SELECT hash FROM audit WHERE seq = ?", (seq - 1,)).fetchone()
        linked = chain(record, seq, row[0] if row else GENESIS, self.audit_key)
        db.execute(
            "INSERT INTO audit (seq, at, attempt, record, hash) VALUES (?, ?, ?, ?, ?)",
            (seq, self._time(linked.at), linked.attempt, linked.model_dump_json(), linked.hash),
        )
        return linked

    def _insert_incident(self, db: Cursorish, incident: Incident, events: list[Event]) -> Incident:
        """A new incident under the next number, with its first events (one transaction: the caller's)."""
        number = next_number(db, "incident")
        stored = incident.model_copy(update={"number": number, "version": 1})
        db.execute(
            "INSERT INTO incidents (number, status, channel, declared_at, version, timers, doc)"
            " VALUES (?, ?, ?, ?, ?, ?, ?)",
            (number, stored.status.value, stored.channel, self._time(stored.declared_at), 1,
             int(stored.has_timers), incident_doc(stored)),
        )
        self._insert_events(db, number, events)
        return stored

    def _insert_events(self, db: Cursorish, number: int, events: list[Event]) -> None:
        """In order, a few hundred rows a statement: on PostgreSQL each statement is a round trip (an alert
        delivery brings an event per alert; an import, a whole timeline)."""
        for start in range(0, len(events), ROWS_PER_INSERT):
            chunk = events[start:start + ROWS_PER_INSERT]
            db.execute(f"INSERT INTO events (incident, at, actor, kind, text, data) VALUES {value_rows(len(chunk), 6)}",
                       tuple(value for event in chunk for value in (
                           number, self._time(event.at), event.actor, event.kind.value, event.text,
                           json.dumps(event.data))))
        self._index_search(db, number, events)

    def _index_search(self, db: Cursorish, number: int, events: list[Event]) -> None:
        """The incident's search row, refreshed in the same transaction (bot/store/sql_search.py)."""
        raise NotImplementedError


# Rows written before the store held neutral text (events before `neutral_events_from`, reminders whose document
# has no `mentions`) carry Slack markup: they are read in the neutral shape. Newer text is read as it was written.
LEGACY_MENTION = re.compile(r"<(?:@|!subteam\^)([A-Z0-9_]+)(?:\|[^>]*)?>")
LEGACY_CHANNEL = re.compile(r"<#([A-Z0-9_]+)(?:\|[^>]*)?>")
LEGACY_BOLD = re.compile(r"(?<![\w*])\*([^*\n]+)\*(?![\w*])")


def neutral(text: str) -> str:
    if "<" not in text and "*" not in text:
        return text
    return LEGACY_BOLD.sub(r"\1", LEGACY_CHANNEL.sub(r"#\1", LEGACY_MENTION.sub(r"@\1", text)))


def reminder_of(doc: str) -> Reminder:
    reminder = Reminder.model_validate_json(doc)
    if '"mentions"' in doc:
        return reminder
    text = neutral(reminder.text)
    if text == reminder.text:
        return reminder
    ids = LEGACY_MENTION.findall(reminder.text) + LEGACY_CHANNEL.findall(reminder.text)
    return reminder.model_copy(update={"text": text, "mentions": [*reminder.mentions, *ids]})


def storable_id(number: int) -> bool:
    """Ids past a 64-bit integer cannot be in the database (and would make its driver raise)."""
    return 0 < number < 2**63


def next_number(db: Cursorish, counter: str) -> int:
    """Gapless numbers that never repeat: the UPDATE locks the counter row until the transaction ends."""
    return db.execute("UPDATE counters SET value = value + 1 WHERE name = ? RETURNING value", (counter,)).fetchone()[0]


def incident_doc(incident: Incident) -> str:
    return incident.model_dump_json(exclude={"version"})


def incident_of(row: tuple) -> Incident:
    doc, version = row
    incident = Incident.model_validate_json(doc)
    incident.version = version  # set in place: a model_copy took 60% of reading 10,000 incidents (bench/web.py)
    return incident


ROWS_PER_INSERT = 500  # × 6 columns stays under SQLite's 32,766 parameters of a statement (PostgreSQL: 65,535)


def value_rows(count: int, columns: int = 2) -> str:
    """The VALUES list of a many-row INSERT."""
    return ", ".join(["(" + ", ".join("?" * columns) + ")"] * count)
