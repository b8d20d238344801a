"""tests/unit/test_search_semantic.py against PostgreSQL (the unit tier runs it on SQLite, with no network)."""
from __future__ import annotations

import pytest

from tests.unit.test_search_semantic import *  # its tests and fixtures, collected here again


@pytest.fixture
def store_url(pg_url: str) -> str:
    return pg_url
