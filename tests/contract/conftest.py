"""The contract tier runs against both stores. tests/contract/test_on_postgres_*.py import a unit module's tests to
run them on PostgreSQL: only those that use a store are kept there (the rest ran in the unit tier already)."""
from __future__ import annotations


def pytest_collection_modifyitems(config, items):
    kept, dropped = [], []
    for item in items:
        on_postgres = item.module.__name__.split(".")[-1].startswith("test_on_postgres_")
        (dropped if on_postgres and "store_url" not in getattr(item, "fixturenames", ()) else kept).append(item)
    if dropped:
        config.hook.pytest_deselected(items=dropped)
        items[:] = kept
