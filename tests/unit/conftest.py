"""The unit tier needs no network: every store here is SQLite (a file in the test's own directory). The same tests
run against PostgreSQL in tests/contract/test_on_postgres_*.py, which import them."""
from __future__ import annotations

import pytest


@pytest.fixture
def store_url(sqlite_url: str) -> str:
    return sqlite_url


@pytest.fixture(autouse=True)
def no_network(monkeypatch):
    """A unit test that reaches for a network address fails, naming it: PostgreSQL, Redis, Docker and Slack belong
    to the contract and integration tiers."""
    import socket

    real_connect = socket.socket.connect

    def connect(sock, address):
        if sock.family in (socket.AF_INET, socket.AF_INET6):
            raise AssertionError(f"the unit tier must not use the network (connect to {address})")
        return real_connect(sock, address)

    monkeypatch.setattr(socket.socket, "connect", connect)
