"""Shared fixtures: both store backends (real SQLite file, real PostgreSQL), a controllable clock."""
from __future__ import annotations

import os
import uuid
from datetime import UTC, datetime, timedelta

import psycopg
import pytest

from bot.app import build_services
from bot.config import Catalog
from bot.core.incidents import IncidentService
from bot.store.postgres import PostgresStore
from bot.store.sqlite import SqliteStore
from commands.base import Context
from commands.router import Router

PG_ADMIN_URL = os.environ.get("OPSBOT_TEST_PG_URL", "postgresql://postgres@127.0.0.1:5432/postgres")


class Clock:
    """A clock the test moves by hand."""

    def __init__(self, start: datetime = datetime(2026, 11, 20, 9, 0, tzinfo=UTC)):
        self.now = start

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **kwargs) -> None:
        self.now += timedelta(**kwargs)


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture(scope="session")
def pg_server() -> str:
    """The real PostgreSQL server. Missing is a failure, not a skip: CI must not pass without it."""
    try:
        psycopg.connect(PG_ADMIN_URL, connect_timeout=5).close()
    except psycopg.Error as exc:
        pytest.fail(f"PostgreSQL is required at {PG_ADMIN_URL} (run scripts/test.sh): {exc}")
    return PG_ADMIN_URL


@pytest.fixture
def pg_url(pg_server: str):
    """A fresh database per test, dropped afterwards."""
    name = f"opsbot_test_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(pg_server, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    base, _, _ = pg_server.rpartition("/")
    yield f"{base}/{name}"
    with psycopg.connect(pg_server, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture
def sqlite_url(tmp_path) -> str:
    return f"sqlite:///{tmp_path}/opsbot.db"


@pytest.fixture(params=["sqlite", "postgres"])
def store_url(request) -> str:
    if request.param == "sqlite":
        return request.getfixturevalue("sqlite_url")
    return request.getfixturevalue("pg_url")


@pytest.fixture
def store(store_url):
    if store_url.startswith("sqlite"):
        backend = SqliteStore(store_url)
    else:
        backend = PostgresStore(store_url)
        backend.open()
    backend.migrate()
    yield backend
    backend.close()


@pytest.fixture
def service(store, clock) -> IncidentService:
    return IncidentService(store, Catalog(), clock=clock)


@pytest.fixture
def make_router(store, clock):
    """A router over the test's store and clock, for a given catalog (the composition root's own wiring)."""
    def make(catalog: Catalog | None = None) -> Router:
        return Router(build_services(store, catalog or Catalog(), clock=clock))

    return make


@pytest.fixture
def router(make_router) -> Router:
    return make_router()


@pytest.fixture
def alice() -> Context:
    return Context(user="U_ALICE", channel=None, source="console")
