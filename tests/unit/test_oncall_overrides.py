"""On-call overrides on both stores (re-run on PostgreSQL by tests/contract/test_on_postgres_oncall_overrides.py):
they win over every layer, say when they change who is on call now, are audited, cancel, and ten at once get ten
ids (changes are serialised)."""
from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta

import pytest

from bot.app import build_services
from bot.config import Catalog
from bot.core.oncall_overrides import Overrides
from bot.views.text import to_text
from commands.base import Context
from commands.router import Router

CATALOG = {"oncall": {"schedules": {"primary": {"time_zone": "Europe/Berlin", "layers": [
    {"name": "weekly", "users": ["U01AAAA", "U01BBBB"], "rotation": "weekly", "start": "2026-11-16T09:00"}]}}}}
OPS = Context(user="U_OPS", source="console")


@pytest.fixture
def router(store, clock):
    return Router(build_services(store, Catalog.model_validate(CATALOG), clock=clock))


def test_an_override_wins_says_it_changes_who_is_on_call_and_is_audited(router, store, clock):
    # clock: 2026-11-20 09:00 UTC; U01AAAA has this week
    added = router.handle("/oncall", "override primary @U01ZZZZ now 4h doctor", OPS)
    assert added.ok and "OV-1: @U01ZZZZ is on call for primary" in to_text(added)
    assert "It changes who is on call now: @U01AAAA hands over to @U01ZZZZ." in to_text(added)
    now = to_text(router.handle("/oncall", "", OPS))
    assert "primary: @U01ZZZZ (override OV-1) since 2026-11-20 09:00 UTC" in now and "until 2026-11-20 13:00 UTC" in now
    later = to_text(router.handle("/oncall", "primary --at 2026-11-20T14:00Z", OPS))
    assert "primary: @U01AAAA (weekly) since 2026-11-20 13:00 UTC" in later  # handed back when it ends
    [record] = [r for r in store.audit_records() if r.action == "oncall.override"]
    assert (record.user, record.target, record.args["user"]) == ("U_OPS", "primary/OV-1", "U01ZZZZ")
    listed = to_text(router.handle("/oncall", "overrides primary", OPS))
    assert "OV-1 @U01ZZZZ" in listed and "(doctor) · by @U_OPS" in listed
    assert router.handle("/oncall", "override cancel OV-1", OPS).ok
    assert "primary: @U01AAAA (weekly)" in to_text(router.handle("/oncall", "", OPS))
    assert [r.action for r in store.audit_records()] == ["oncall.override", "oncall.override.cancel"]


def test_shifts_mark_overrides_and_every_time_shows_on_the_askers_clock_too(router):
    """clock: Friday 2026-11-20 09:00 UTC; the shift began Monday 09:00 Berlin. The console or Slack gives the asker's
    zone; the reply shows it beside UTC and the schedule's, and the next person with when they start."""
    assert router.handle("/oncall", "override primary @U01ZZZZ 2026-11-21T10:00Z 2026-11-21T12:00Z cover", OPS).ok
    shifts = to_text(router.handle("/oncall", "shifts primary --days 2", OPS))
    assert "@U01ZZZZ — 2026-11-21 10:00 UTC (Sat 11:00 Europe/Berlin) → 2026-11-21 12:00 UTC (Sat 13:00 " \
           "Europe/Berlin) (override OV-1)" in shifts
    new_york = Context(user="U_OPS", source="console", zone="America/New_York")
    now = to_text(router.handle("/oncall", "", new_york))
    assert "primary: @U01AAAA (weekly) since 2026-11-16 08:00 UTC (Mon 09:00 Europe/Berlin; Mon 03:00 yours, " \
           "America/New_York)" in now
    assert "· next @U01ZZZZ from 2026-11-21 10:00 UTC (Sat 11:00 Europe/Berlin; Sat 05:00 yours," in now
    berlin = to_text(router.handle("/oncall", "", Context(user="U_OPS", source="console", zone="Europe/Berlin")))
    nowhere = to_text(router.handle("/oncall", "", Context(user="U_OPS", source="console", zone="Mars/Base")))
    assert "yours" not in berlin and "yours" not in nowhere  # the same zone, or not a zone: said once, not twice


@pytest.mark.parametrize("text,refusal", [
    ("override primary @U01ZZZZ 2026-11-21T10:00Z 2026-11-21T09:00Z", "An override ends after it starts"),
    ("override primary alice now 4h", "'alice' is not a Slack user ID"),
    ("override nope @U01ZZZZ now 4h", "There is no on-call schedule 'nope'. Schedules: primary."),
    ("override primary @U01ZZZZ now 100d", "An override lasts 90 days at most"),
    ("override cancel OV-7", "There is no override OV-7 to cancel."),
    ("override primary @U01ZZZZ now", "Give the schedule, the person, and from and to."),
])
def test_bad_overrides_are_refused_and_change_nothing(router, store, text, refusal):
    refused = router.handle("/oncall", text, OPS)
    assert not refused.ok and refusal in refused.text and store.audit_records() == []


def test_ten_overrides_at_once_get_ten_ids(store, clock):
    overrides = Overrides(store, Catalog.model_validate(CATALOG), clock)

    def add(n: int) -> int:
        return overrides.add(f"U0USER{n:02d}", "primary", "U01ZZZZ", clock() + timedelta(hours=n),
                             clock() + timedelta(hours=n + 1)).id

    with ThreadPoolExecutor(max_workers=10) as pool:
        ids = sorted(pool.map(add, range(10)))
    assert ids == list(range(1, 11)) and len(overrides.active("primary")) == 10
    assert len([r for r in store.audit_records() if r.action == "oncall.override"]) == 10


def test_the_calendar_export_includes_the_overrides(sqlite_url, clock, tmp_path, monkeypatch, capsys):
    """Through the CLI, on the SQLite file OPSBOT_DATABASE_URL names (the store contract above covers PostgreSQL)."""
    from icalendar import Calendar

    from bot.cli import main
    from bot.store import open_store

    config = tmp_path / "opsbot.yml"
    config.write_text("oncall:\n  schedules:\n    primary:\n      time_zone: Europe/Berlin\n      layers:\n        - "
                      "{name: weekly, users: [U01AAAA, U01BBBB], rotation: weekly, start: 2026-11-16T09:00}\n")
    monkeypatch.setenv("OPSBOT_DATABASE_URL", sqlite_url)
    store = open_store(sqlite_url)
    try:
        Overrides(store, Catalog.model_validate(CATALOG), clock).add(
            "U_OPS", "primary", "U01ZZZZ", clock() + timedelta(days=2), clock() + timedelta(days=2, hours=6))
    finally:
        store.close()
    assert main(["oncall", "export", "primary", "--from", "2026-11-20", "--to", "2026-11-24", "--config",
                 str(config)]) == 0
    events = Calendar.from_ical(capsys.readouterr().out).walk("VEVENT")
    assert "On call (primary): U01ZZZZ" in [str(e["summary"]) for e in events]
