"""tests/unit/test_web_pages.py against PostgreSQL (the unit tier runs it on SQLite, with no network)."""
from __future__ import annotations

import pytest

from tests.unit.test_web_pages import *  # its tests and fixtures, collected here again


@pytest.fixture
def store_url(pg_url: str) -> str:
    return pg_url
