"""PostgreSQL backend: psycopg 3 with a connection pool; versioned migrations in schema_migrations."""
from __future__ import annotations

import select
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import psycopg
from psycopg_pool import ConnectionPool, PoolTimeout

from bot.errors import BackendError
from bot.store.sql import SqlStore, hide_password
from bot.store.sql_search import POSTGRES_FILTER_INDEXES, POSTGRES_VECTORS
from bot.store.sql_search import POSTGRES_MIGRATION as SEARCH_MIGRATION
from bot.store.sql_status import POSTGRES_MIGRATION
from bot.store.sql_web import INSIGHTS_MIGRATION, WEB_MIGRATION

# Each migration: (version, statements). Applied in order, each in its own transaction.
MIGRATIONS: list[tuple[int, list[str]]] = [
    (1, [
        "CREATE TABLE counters (name TEXT PRIMARY KEY, value BIGINT NOT NULL)",
        "INSERT INTO counters (name, value) VALUES ('incident', 0)",
        ("CREATE TABLE incidents (number BIGINT PRIMARY KEY, status TEXT NOT NULL, channel TEXT,"
         " declared_at TIMESTAMPTZ NOT NULL, version INTEGER NOT NULL, doc TEXT NOT NULL)"),
        "CREATE INDEX incidents_status ON incidents (status)",
        "CREATE INDEX incidents_channel ON incidents (channel)",
        ("CREATE TABLE events (id BIGSERIAL PRIMARY KEY,"
         " incident BIGINT NOT NULL REFERENCES incidents (number), at TIMESTAMPTZ NOT NULL,"
         " actor TEXT NOT NULL, kind TEXT NOT NULL, text TEXT NOT NULL, data TEXT NOT NULL)"),
        "CREATE INDEX events_incident ON events (incident, id)",
        # The timeline is append-only, enforced by the database itself.
        ("CREATE FUNCTION events_append_only() RETURNS trigger LANGUAGE plpgsql AS"
         " $$ BEGIN RAISE EXCEPTION 'the timeline is append-only'; END $$"),
        ("CREATE TRIGGER events_append_only BEFORE UPDATE OR DELETE ON events"
         " FOR EACH ROW EXECUTE FUNCTION events_append_only()"),
    ]),
    (2, [
        # Keys of Slack deliveries already handled, so retries and redeliveries apply once.
        "CREATE TABLE deliveries (key TEXT PRIMARY KEY, at TIMESTAMPTZ NOT NULL)",
    ]),
    (3, [
        "INSERT INTO counters (name, value) VALUES ('audit', 0)",
        ("CREATE TABLE audit (seq BIGINT PRIMARY KEY, at TIMESTAMPTZ NOT NULL, attempt TEXT NOT NULL,"
         " record TEXT NOT NULL, hash TEXT NOT NULL)"),
        "CREATE INDEX audit_attempt ON audit (attempt)",
        ("CREATE TABLE plans (id TEXT PRIMARY KEY, status TEXT NOT NULL, expires_at TIMESTAMPTZ NOT NULL,"
         " doc TEXT NOT NULL)"),
    ]),
    (4, [
        "INSERT INTO counters (name, value) VALUES ('window', 0), ('checklist', 0)",
        ("CREATE TABLE windows (id BIGINT PRIMARY KEY, env TEXT NOT NULL, starts_at TIMESTAMPTZ NOT NULL,"
         " ends_at TIMESTAMPTZ NOT NULL, cancelled INTEGER NOT NULL DEFAULT 0, doc TEXT NOT NULL)"),
        "CREATE INDEX windows_env ON windows (env, starts_at)",
        # One row per reminder key: the unique key is what stops a reminder from being sent twice.
        ("CREATE TABLE reminders (key TEXT PRIMARY KEY, status TEXT NOT NULL, due_at TIMESTAMPTZ NOT NULL,"
         " doc TEXT NOT NULL)"),
        "CREATE INDEX reminders_due ON reminders (status, due_at)",
        "CREATE TABLE schedule_cursors (name TEXT PRIMARY KEY, at TIMESTAMPTZ NOT NULL)",
        "CREATE TABLE checklists (id BIGINT PRIMARY KEY, reminder TEXT NOT NULL, doc TEXT NOT NULL)",
        ("CREATE TABLE checklist_ticks (id BIGSERIAL PRIMARY KEY, checklist BIGINT NOT NULL"
         " REFERENCES checklists (id), item INTEGER NOT NULL, actor TEXT NOT NULL, at TIMESTAMPTZ NOT NULL,"
         " checked INTEGER NOT NULL)"),
    ]),
    (5, [
        # Which incidents the scheduler must look at; existing rows start flagged (see SqlStore).
        "ALTER TABLE incidents ADD COLUMN timers INTEGER NOT NULL DEFAULT 1",
        "CREATE INDEX incidents_timers ON incidents (timers)",
    ]),
    (6, [
        # Events written with Slack markup are read in the neutral shape; this marks where they end.
        ("INSERT INTO counters (name, value)"
         " SELECT 'neutral_events_from', COALESCE(MAX(id), 0) + 1 FROM events"),
    ]),
    (7, [
        # As the timeline: the database itself refuses to change or remove an audit record.
        ("CREATE FUNCTION audit_append_only() RETURNS trigger LANGUAGE plpgsql AS"
         " $$ BEGIN RAISE EXCEPTION 'the audit log is append-only'; END $$"),
        "CREATE TRIGGER audit_append_only BEFORE UPDATE OR DELETE ON audit FOR EACH ROW EXECUTE FUNCTION audit_append_only()",
        "CREATE TRIGGER audit_no_truncate BEFORE TRUNCATE ON audit FOR EACH STATEMENT EXECUTE FUNCTION audit_append_only()",
    ]),
    (8, [
        # One dangerous action at a time per target, across replicas: a row per held lease, with its expiry.
        ("CREATE TABLE leases (key TEXT PRIMARY KEY, holder TEXT NOT NULL, attempt TEXT NOT NULL,"
         " expires_at TIMESTAMPTZ NOT NULL)"),
    ]),
    (9, [
        # What a platform adapter must not forget between actions (a Docker service's spec after scale 0,
        # the image a rollback came from): one JSON document per key.
        "CREATE TABLE platform_memory (key TEXT PRIMARY KEY, doc TEXT NOT NULL)",
    ]),
    (10, [
        # At most one open incident per alert group (the key is the unique constraint concurrent deliveries meet),
        # and each alert's state recorded once per incident.
        "CREATE TABLE alert_groups (key TEXT PRIMARY KEY, incident BIGINT NOT NULL)",
        "CREATE TABLE alert_seen (incident BIGINT NOT NULL, key TEXT NOT NULL, PRIMARY KEY (incident, key))",
        # Deliveries accepted but not yet applied (the HTTP answer does not wait for Slack or the incident's changes).
        "CREATE TABLE alert_inbox (seq BIGSERIAL PRIMARY KEY, key TEXT NOT NULL UNIQUE, doc TEXT NOT NULL)",
    ]),
    (13, [
        # Incidents imported from another store: the audit records they came with (a verifiable copy; this
        # store's own audit log is never spliced). Written once with the incident, never changed.
        ("CREATE TABLE incident_archive (incident BIGINT PRIMARY KEY REFERENCES incidents (number),"
         " source_sha256 TEXT NOT NULL, audit TEXT NOT NULL)"),
        ("CREATE TRIGGER incident_archive_append_only BEFORE UPDATE OR DELETE ON incident_archive"
         " FOR EACH ROW EXECUTE FUNCTION audit_append_only()"),
    ]),
    (14, [
        # Every alert group that needed a new incident, when, and whether it joined a storm: the storm rule counts
        # them over its window (a restart or another replica sees the same rate); the counter row serialises them.
        "INSERT INTO counters (name, value) VALUES ('alert_opening', 0)",
        ("CREATE TABLE alert_openings (seq BIGINT PRIMARY KEY, at TIMESTAMPTZ NOT NULL, incident BIGINT NOT NULL,"
         " storm INTEGER NOT NULL)"),
        "CREATE INDEX alert_openings_at ON alert_openings (at)",
    ]),
    # The public status page: public incidents, component states and their history, the page's version counter.
    (20, POSTGRES_MIGRATION),
    # The search index of past incidents (bot/store/sql_search.py); its rows are built by `migrate` below.
    (27, SEARCH_MIGRATION),
    # Search filters (service, env, severity) indexed beside the words (bot/store/sql_search.py).
    (28, POSTGRES_FILTER_INDEXES),
    # Sentence vectors beside the search index (the optional extra opsbot[semantic]).
    (29, POSTGRES_VECTORS),
    # Sign-in links and web sessions, by the SHA-256 of their tokens (bot/store/sql_web.py).
    (30, [statement.format(time="TIMESTAMPTZ") for statement in WEB_MIGRATION]),
    # Status updates' times across incidents, for insights (bot/store/sql_web.py).
    (31, INSIGHTS_MIGRATION),
]

UNREACHABLE_AFTER_S = 4.0  # a command answers "unreachable" within 5 s, not after a 30 s default
_MIGRATION_LOCK = 7_345_001  # advisory lock id: one process migrates at a time


class _Qmark:
    """Lets the shared SQL use `?` placeholders on psycopg, which wants `%s`."""

    def __init__(self, conn: psycopg.Connection):
        self._conn = conn

    def execute(self, sql: str, params: tuple = ()) -> Any:
        return self._conn.execute(sql.replace("?", "%s"), params)


class PostgresStore(SqlStore):
    _lock_row = " FOR UPDATE"
    postgres = True

    def __init__(self, url: str, min_size: int = 1, max_size: int = 10):
        self.url = url
        # Connections are checked when taken, so after PostgreSQL restarts the pool replaces the dead ones by itself.
        self._pool = ConnectionPool(url, min_size=min_size, max_size=max_size, open=False,
                                    check=_check_if_signalled, reconnect_timeout=0)

    def open(self, timeout: float = 5.0) -> None:
        try:
            self._pool.open(wait=True, timeout=timeout)
        except Exception as exc:
            self._pool.close()
            raise BackendError(f"cannot connect to PostgreSQL at {hide_password(self.url)}") from exc

    def migrate(self) -> None:
        with self._pool.connection() as conn, conn.transaction():
            conn.execute("SELECT pg_advisory_xact_lock(%s)", (_MIGRATION_LOCK,))
            conn.execute(
                "CREATE TABLE IF NOT EXISTS schema_migrations"
                " (version INTEGER PRIMARY KEY, applied_at TIMESTAMPTZ NOT NULL DEFAULT now())"
            )
            done = {row[0] for row in conn.execute("SELECT version FROM schema_migrations")}
            for version, statements in MIGRATIONS:
                if version in done:
                    continue
                for statement in statements:
                    conn.execute(statement)
                conn.execute("INSERT INTO schema_migrations (version) VALUES (%s)", (version,))
            self.build_search_if_new(_Qmark(conn))

    @contextmanager
    def _write(self) -> Iterator[_Qmark]:
        """A transaction; when PostgreSQL cannot be reached within a few seconds, a BackendError that says so
        (and the pool keeps trying to reconnect in the background)."""
        try:
            with self._pool.connection(timeout=UNREACHABLE_AFTER_S) as conn, conn.transaction():
                yield _Qmark(conn)
        except (psycopg.OperationalError, PoolTimeout) as exc:
            raise BackendError(f"The database is unreachable (PostgreSQL at {hide_password(self.url)}); opsbot "
                               "keeps retrying — try again in a moment.") from exc

    _read = _write

    def ping(self) -> bool:
        try:
            with self._read() as db:
                db.execute("SELECT 1")
            return True
        except BackendError:
            return False

    def close(self) -> None:
        self._pool.close()


def _check_if_signalled(conn: psycopg.Connection) -> None:
    """An idle connection the server has written to (a restart closes it, a shutdown sends a notice) is checked
    with a round trip; a quiet one is used as it is, so the check costs nothing in normal operation."""
    readable, _, _ = select.select([conn.pgconn.socket], [], [], 0)
    if readable:
        ConnectionPool.check_connection(conn)
