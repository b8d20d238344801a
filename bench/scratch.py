"""A PostgreSQL database of a benchmark's own, so a bench never migrates into (or leaves tables in) a database
it was pointed at."""
from __future__ import annotations

import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from urllib.parse import urlsplit, urlunsplit

import psycopg


@contextmanager
def scratch_postgres(server_url: str) -> Iterator[str]:
    """Create a fresh database on the server of `server_url` (a URL of any database there), yield its URL, drop it."""
    name = f"opsbot_bench_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(server_url, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    try:
        yield urlunsplit(urlsplit(server_url)._replace(path=f"/{name}"))  # keeps ?sslmode=… and the like
    finally:
        with psycopg.connect(server_url, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
