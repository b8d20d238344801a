"""SQLite backend: sqlite-utils for the connection and versioned migrations, WAL for concurrency."""
from __future__ import annotations

import sqlite3
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path

from sqlite_utils import Database
from sqlite_utils.migrations import Migrations

from bot.store.sql import SqlStore
from bot.store.sql_search import SQLITE_MIGRATION as SEARCH_MIGRATION
from bot.store.sql_search import SQLITE_VECTORS
from bot.store.sql_status import SQLITE_MIGRATION
from bot.store.sql_web import INSIGHTS_MIGRATION, WEB_MIGRATION

migrations = Migrations("opsbot")


@migrations()
def m001_incidents(db: Database) -> None:
    db.execute("CREATE TABLE counters (name TEXT PRIMARY KEY, value INTEGER NOT NULL)")
    db.execute("INSERT INTO counters (name, value) VALUES ('incident', 0)")
    db.execute(
        "CREATE TABLE incidents (number INTEGER PRIMARY KEY, status TEXT NOT NULL, channel TEXT,"
        " declared_at TEXT NOT NULL, version INTEGER NOT NULL, doc TEXT NOT NULL)"
    )
    db.execute("CREATE INDEX incidents_status ON incidents (status)")
    db.execute("CREATE INDEX incidents_channel ON incidents (channel)")
    db.execute(
        "CREATE TABLE events (id INTEGER PRIMARY KEY AUTOINCREMENT,"
        " incident INTEGER NOT NULL REFERENCES incidents (number), at TEXT NOT NULL,"
        " actor TEXT NOT NULL, kind TEXT NOT NULL, text TEXT NOT NULL, data TEXT NOT NULL)"
    )
    db.execute("CREATE INDEX events_incident ON events (incident, id)")
    # The timeline is append-only, enforced by the database itself.
    for verb in ("UPDATE", "DELETE"):
        db.execute(
            f"CREATE TRIGGER events_no_{verb.lower()} BEFORE {verb} ON events"
            " BEGIN SELECT RAISE(ABORT, 'the timeline is append-only'); END"
        )


@migrations()
def m002_deliveries(db: Database) -> None:
    # Keys of Slack deliveries already handled, so retries and redeliveries apply once.
    db.execute("CREATE TABLE deliveries (key TEXT PRIMARY KEY, at TEXT NOT NULL)")


@migrations()
def m003_audit_and_plans(db: Database) -> None:
    db.execute("INSERT INTO counters (name, value) VALUES ('audit', 0)")
    db.execute(
        "CREATE TABLE audit (seq INTEGER PRIMARY KEY, at TEXT NOT NULL, attempt TEXT NOT NULL,"
        " record TEXT NOT NULL, hash TEXT NOT NULL)"
    )
    db.execute("CREATE INDEX audit_attempt ON audit (attempt)")
    db.execute(
        "CREATE TABLE plans (id TEXT PRIMARY KEY, status TEXT NOT NULL, expires_at TEXT NOT NULL, doc TEXT NOT NULL)"
    )


@migrations()
def m004_scheduler(db: Database) -> None:
    for counter in ("window", "checklist"):
        db.execute("INSERT INTO counters (name, value) VALUES (?, 0)", [counter])
    db.execute(
        "CREATE TABLE windows (id INTEGER PRIMARY KEY, env TEXT NOT NULL, starts_at TEXT NOT NULL,"
        " ends_at TEXT NOT NULL, cancelled INTEGER NOT NULL DEFAULT 0, doc TEXT NOT NULL)"
    )
    db.execute("CREATE INDEX windows_env ON windows (env, starts_at)")
    # One row per reminder key: the unique key is what stops a reminder from being sent twice.
    db.execute(
        "CREATE TABLE reminders (key TEXT PRIMARY KEY, status TEXT NOT NULL, due_at TEXT NOT NULL, doc TEXT NOT NULL)"
    )
    db.execute("CREATE INDEX reminders_due ON reminders (status, due_at)")
    db.execute("CREATE TABLE schedule_cursors (name TEXT PRIMARY KEY, at TEXT NOT NULL)")
    db.execute(
        "CREATE TABLE checklists (id INTEGER PRIMARY KEY, reminder TEXT NOT NULL, doc TEXT NOT NULL)"
    )
    db.execute(
        "CREATE TABLE checklist_ticks (id INTEGER PRIMARY KEY AUTOINCREMENT, checklist INTEGER NOT NULL"
        " REFERENCES checklists (id), item INTEGER NOT NULL, actor TEXT NOT NULL, at TEXT NOT NULL,"
        " checked INTEGER NOT NULL)"
    )


@migrations()
def m005_incident_timers(db: Database) -> None:
    # Which incidents the scheduler must look at, so a tick does not read every incident ever declared.
    # Existing rows start flagged; the scheduler clears the flag of those with nothing left to remind.
    db.execute("ALTER TABLE incidents ADD COLUMN timers INTEGER NOT NULL DEFAULT 1")
    db.execute("CREATE INDEX incidents_timers ON incidents (timers)")


@migrations()
def m006_neutral_text(db: Database) -> None:
    # Events are append-only, so rows written with Slack markup are not rewritten: they are read in the neutral
    # shape, and this marks where they end (every event from here on is stored neutral).
    db.execute("INSERT INTO counters (name, value) SELECT 'neutral_events_from', COALESCE(MAX(id), 0) + 1 FROM events")


@migrations()
def m007_audit_append_only(db: Database) -> None:
    # As the timeline: the database itself refuses to change or remove an audit record.
    for verb in ("UPDATE", "DELETE"):
        db.execute(f"CREATE TRIGGER audit_no_{verb.lower()} BEFORE {verb} ON audit"
                   " BEGIN SELECT RAISE(ABORT, 'the audit log is append-only'); END")


@migrations()
def m008_leases(db: Database) -> None:
    # One dangerous action at a time per target, across processes: a row per held lease, with its expiry.
    db.execute("CREATE TABLE leases (key TEXT PRIMARY KEY, holder TEXT NOT NULL, attempt TEXT NOT NULL,"
               " expires_at TEXT NOT NULL)")


@migrations()
def m009_platform_memory(db: Database) -> None:
    # What a platform adapter must not forget between actions (a Docker service's spec after scale 0,
    # the image a rollback came from): one JSON document per key.
    db.execute("CREATE TABLE platform_memory (key TEXT PRIMARY KEY, doc TEXT NOT NULL)")


@migrations()
def m010_alert_groups(db: Database) -> None:
    # At most one open incident per alert group (the key is the unique constraint concurrent deliveries meet), and
    # each alert's state recorded once per incident.
    db.execute("CREATE TABLE alert_groups (key TEXT PRIMARY KEY, incident INTEGER NOT NULL)")
    db.execute("CREATE TABLE alert_seen (incident INTEGER NOT NULL, key TEXT NOT NULL, PRIMARY KEY (incident, key))")
    # Deliveries accepted but not yet applied (the HTTP answer does not wait for Slack or the incident's changes).
    db.execute("CREATE TABLE alert_inbox (seq INTEGER PRIMARY KEY AUTOINCREMENT, key TEXT NOT NULL UNIQUE,"
               " doc TEXT NOT NULL)")


@migrations()
def m013_incident_archive(db: Database) -> None:
    # Incidents imported from another store: the audit records they came with (a verifiable copy; this store's
    # own audit log is never spliced). Written once with the incident, never changed.
    db.execute("CREATE TABLE incident_archive (incident INTEGER PRIMARY KEY REFERENCES incidents (number),"
               " source_sha256 TEXT NOT NULL, audit TEXT NOT NULL)")
    for verb in ("UPDATE", "DELETE"):
        db.execute(f"CREATE TRIGGER incident_archive_no_{verb.lower()} BEFORE {verb} ON incident_archive"
                   " BEGIN SELECT RAISE(ABORT, 'imported audit records are append-only'); END")


@migrations()
def m014_alert_storms(db: Database) -> None:
    # Every alert group that needed a new incident, when, and whether it joined a storm: the storm rule counts them
    # over its window (so the rate survives a restart and is shared by replicas); the counter row serialises them.
    db.execute("INSERT INTO counters (name, value) VALUES ('alert_opening', 0)")
    db.execute("CREATE TABLE alert_openings (seq INTEGER PRIMARY KEY, at TEXT NOT NULL, incident INTEGER NOT NULL,"
               " storm INTEGER NOT NULL)")
    db.execute("CREATE INDEX alert_openings_at ON alert_openings (at)")


@migrations()
def m020_status_page(db: Database) -> None:
    # The public status page: public incidents, component states and their history, the page's version counter.
    for statement in SQLITE_MIGRATION:
        db.execute(statement)


@migrations()
def m027_search(db: Database) -> None:
    # The search index of past incidents (bot/store/sql_search.py); its rows are built by `migrate` below.
    for statement in SEARCH_MIGRATION:
        db.execute(statement)


@migrations()
def m029_search_vectors(db: Database) -> None:
    # Sentence vectors beside the search index (the optional extra opsbot[semantic], bot/store/sql_search.py).
    for statement in SQLITE_VECTORS:
        db.execute(statement)


@migrations()
def m030_web_sign_in(db: Database) -> None:
    # Sign-in links and web sessions, by the SHA-256 of their tokens (bot/store/sql_web.py).
    for statement in WEB_MIGRATION:
        db.execute(statement.format(time="TEXT"))


@migrations()
def m031_events_by_kind(db: Database) -> None:
    # Status updates' times across incidents, for insights (bot/store/sql_web.py).
    for statement in INSIGHTS_MIGRATION:
        db.execute(statement)


class SqliteStore(SqlStore):
    def __init__(self, url: str):
        self.url = url
        self.path = sqlite_path(url)
        self._local = threading.local()
        self._connections: list[sqlite3.Connection] = []
        self._lock = threading.Lock()
        self._writing = threading.RLock()

    def _connection(self) -> sqlite3.Connection:
        # sqlite3 connections are not shared between threads: one per thread.
        conn = getattr(self._local, "conn", None)
        if conn is None:
            if self.path != ":memory:":
                Path(self.path).parent.mkdir(parents=True, exist_ok=True)
            conn = sqlite3.connect(self.path, timeout=30, isolation_level=None, check_same_thread=False)
            conn.execute("PRAGMA journal_mode=WAL")
            conn.execute("PRAGMA synchronous=NORMAL")
            conn.execute("PRAGMA foreign_keys=ON")
            conn.execute("PRAGMA secure_delete=ON")  # a deleted row's bytes are zeroed, not left in a free page
            self._local.conn = conn
            with self._lock:
                self._connections.append(conn)
        return conn

    def migrate(self) -> None:
        # Inside one IMMEDIATE transaction, so two processes starting together migrate one at a time.
        with self._write() as conn:
            migrations.apply(Database(conn))
            self.build_search_if_new(conn)

    @contextmanager
    def _write(self) -> Iterator[sqlite3.Connection]:
        conn = self._connection()
        # This process's writers queue on a lock of ours: on SQLite's own lock they would poll, sleeping up to
        # 100 ms between tries (measured: p99 0.3 s for 50 concurrent alert deliveries, bench/alerts.py).
        # IMMEDIATE takes the write lock up front, so writers of other processes queue instead of deadlocking.
        with self._writing:
            conn.execute("BEGIN IMMEDIATE")
            try:
                yield conn
            except BaseException:
                conn.execute("ROLLBACK")
                raise
            conn.execute("COMMIT")

    @contextmanager
    def _read(self) -> Iterator[sqlite3.Connection]:
        yield self._connection()

    def _time(self, moment: datetime) -> str:
        # Always UTC, so ISO strings compare in time order.
        return moment.astimezone(UTC).isoformat()

    def _parse_time(self, value: str) -> datetime:
        return datetime.fromisoformat(value)

    def ping(self) -> bool:
        try:
            with self._read() as db:
                db.execute("SELECT 1")
            return True
        except sqlite3.Error:
            return False

    def close(self) -> None:
        with self._lock:
            for conn in self._connections:
                conn.close()
            self._connections.clear()
        self._local = threading.local()


def sqlite_path(url: str) -> str:
    """sqlite:///relative.db, sqlite:////abs/path.db, sqlite:///:memory:"""
    path = url.removeprefix("sqlite:///")
    return path or "opsbot.db"
