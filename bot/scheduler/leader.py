"""Who sends reminders: one leader per database.

PostgreSQL: a session advisory lock held on a dedicated connection (not from the pool), so it lives exactly as
long as the leader process; when that process dies, the server drops the lock and a standby's next attempt
(every tick) wins. SQLite: an exclusive file lock beside the database file, for one process per file.
"""
from __future__ import annotations

import fcntl
import logging
import os
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    import psycopg

log = logging.getLogger("opsbot.scheduler")
LEADER_LOCK_ID = 7_345_002  # the migration lock is 7_345_001


class LeaderLock(Protocol):
    def try_acquire(self) -> bool: ...
    def held(self) -> bool: ...
    def release(self) -> None: ...


class PostgresLeaderLock:
    def __init__(self, url: str):
        self.url = url
        self._conn: psycopg.Connection | None = None

    def try_acquire(self) -> bool:
        import psycopg

        try:
            if self._conn is None or self._conn.closed:
                self._conn = psycopg.connect(self.url, autocommit=True, connect_timeout=5)
            row = self._conn.execute("SELECT pg_try_advisory_lock(%s)", (LEADER_LOCK_ID,)).fetchone()
            got = bool(row and row[0])
        except psycopg.Error as error:
            log.warning("leader lock unavailable: %s", type(error).__name__)
            self._drop()
            return False
        return bool(got)

    def held(self) -> bool:
        """The lock lives with the connection: a connection that still answers still holds it."""
        import psycopg

        try:
            return self._conn is not None and self._conn.execute("SELECT 1").fetchone() == (1,)
        except psycopg.Error:
            self._drop()
            return False

    def release(self) -> None:
        """Unlock before closing: the server may take a moment to end the session, and a follower should not wait
        for that (nor for a lock taken twice by this session: unlock_all)."""
        import psycopg

        if self._conn is not None and not self._conn.closed:
            try:
                self._conn.execute("SELECT pg_advisory_unlock_all()")
            except psycopg.Error:
                pass  # the connection is going anyway; closing it frees the lock
        self._drop()

    def _drop(self) -> None:
        if self._conn is not None:
            try:
                self._conn.close()
            finally:
                self._conn = None


class FileLeaderLock:
    def __init__(self, path: str | Path):
        self.path = Path(path)
        self._fd: int | None = None

    def try_acquire(self) -> bool:
        if self._fd is not None:
            return True
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            os.close(fd)
            return False
        self._fd = fd
        return True

    def held(self) -> bool:
        return self._fd is not None

    def release(self) -> None:
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None


def leader_lock_for(database_url: str) -> LeaderLock:
    if database_url.startswith(("postgresql://", "postgres://")):
        return PostgresLeaderLock(database_url)
    from bot.store.sqlite import sqlite_path

    path = sqlite_path(database_url)
    return FileLeaderLock(f"{path}.scheduler-lock" if path != ":memory:" else f"/tmp/opsbot-{os.getpid()}.lock")
