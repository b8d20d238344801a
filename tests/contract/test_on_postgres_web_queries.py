"""tests/unit/test_web_queries.py against PostgreSQL (the unit tier runs it on SQLite, with no network)."""
from __future__ import annotations

import pytest

from tests.unit.test_web_queries import *  # its tests and fixtures, collected here again


@pytest.fixture
def store_url(pg_url: str) -> str:
    return pg_url
