"""Sign-in links and web sessions (bot/core/web_auth.py) in SQL: only a SHA-256 of each token is kept, so the
database never holds what would let someone sign in. A link is spent by one UPDATE (whoever spends it first)."""
from __future__ import annotations

from datetime import datetime

from bot.store.sql_base import SqlBase

# `who`, not `user`: a reserved word in PostgreSQL.
WEB_MIGRATION = [
    ("CREATE TABLE web_tokens (hash TEXT PRIMARY KEY, kind TEXT NOT NULL, who TEXT NOT NULL, expires_at {time} NOT NULL,"
     " spent INTEGER NOT NULL DEFAULT 0)"),
    "CREATE INDEX web_tokens_expiry ON web_tokens (expires_at)",
]

# Insights read the times of one kind of event (status updates) across every incident of a range in one query
# (bot/store/sql.py event_times): this index answers it without reading the timeline's text (bench/web.py).
INSIGHTS_MIGRATION = ["CREATE INDEX events_kind_at ON events (kind, at, incident)"]


class WebSql(SqlBase):
    def add_web_token(self, digest: str, kind: str, user: str, expires_at: datetime, now: datetime) -> None:
        with self._write() as db:
            db.execute("DELETE FROM web_tokens WHERE expires_at < ?", (self._time(now),))  # keep the table small
            db.execute("INSERT INTO web_tokens (hash, kind, who, expires_at) VALUES (?, ?, ?, ?)",
                       (digest, kind, user, self._time(expires_at)))

    def spend_web_token(self, digest: str, kind: str, now: datetime) -> str | None:
        """The user of a valid token of that kind, which is spent now (a link: once; a session: signed out)."""
        with self._write() as db:
            row = db.execute("UPDATE web_tokens SET spent = 1 WHERE hash = ? AND kind = ? AND spent = 0"
                             " AND expires_at > ? RETURNING who", (digest, kind, self._time(now))).fetchone()
        return row[0] if row else None

    def web_token_user(self, digest: str, kind: str, now: datetime) -> str | None:
        with self._read() as db:
            row = db.execute("SELECT who FROM web_tokens WHERE hash = ? AND kind = ? AND spent = 0 AND expires_at > ?",
                             (digest, kind, self._time(now))).fetchone()
        return row[0] if row else None
