"""Pick a store backend from OPSBOT_DATABASE_URL. No database driver is imported until one is asked for."""
from __future__ import annotations

from bot.core.audit import AuditKey
from bot.core.ports import StaleWrite, Store
from bot.errors import BackendError, UsageError
from bot.store.sql import hide_password

__all__ = ["StaleWrite", "Store", "hide_password", "open_store"]


def open_store(url: str, audit_key: AuditKey | None = None) -> Store:
    """Connect and migrate. Raises BackendError naming the URL (password hidden) if unreachable. With a key,
    audit records are authenticated (HMAC)."""
    if url.startswith("sqlite:"):
        import sqlite3

        from bot.store.sqlite import SqliteStore

        store = SqliteStore(url)
        store.audit_key = audit_key
        try:
            store.migrate()
        except sqlite3.Error as exc:
            raise BackendError(f"cannot open the SQLite database {url} ({exc})") from exc
        return store
    if url.startswith(("postgresql://", "postgres://")):
        from bot.store.postgres import PostgresStore

        pg = PostgresStore(url)
        pg.audit_key = audit_key
        pg.open()
        pg.migrate()
        return pg
    raise UsageError(f"unsupported database URL {hide_password(url)}; use sqlite:///file.db or postgresql://…")
