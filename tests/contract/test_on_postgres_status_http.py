"""tests/unit/test_status_http.py against PostgreSQL (the unit tier runs it on SQLite, with no network)."""
from __future__ import annotations

import pytest

from tests.unit.test_status_http import *  # its tests and fixtures, collected here again


@pytest.fixture
def store_url(pg_url: str) -> str:
    return pg_url
