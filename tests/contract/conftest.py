"""The contract tier runs against both stores. tests/contract/test_on_postgres_*.py import a unit module's tests to
run them on PostgreSQL: only those that use a store are kept there (the rest ran in the unit tier already)."""
from __future__ import annotations


def pytest_collection_modifyitems(config, items):
    # Not deselected (nothing is skipped): a test that uses no store is the unit tier's alone, not collected here.
    items[:] = [item for item in items if not item.module.__name__.split(".")[-1].startswith("test_on_postgres_")
                or "store_url" in getattr(item, "fixturenames", ())]
