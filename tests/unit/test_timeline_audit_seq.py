"""`/incident timeline` leads to the audit log: each ops event shows the seq of its audit record."""
from __future__ import annotations

import sys

from bot.app import build_services
from bot.config import Catalog
from bot.store.sqlite import SqliteStore
from bot.views.text import to_text
from commands.base import Context
from commands.router import Router


def test_the_timeline_shows_each_ops_events_audit_seq(tmp_path, clock):
    store = SqliteStore(f"sqlite:///{tmp_path}/opsbot.db")
    store.migrate()
    catalog = Catalog.model_validate({"environments": {"dev": {"runbook": {
        "uptime": {"argv": [sys.executable, "-c", "print('up 3 days')"], "read_only": True}}}}})
    router = Router(build_services(store, catalog, clock=clock))
    try:
        here = Context(user="U_OPS", channel="C_INC", source="console")
        assert router.handle("/incident", "open p2 Slow checkout", here).ok
        assert router.handle("/ops", "run uptime dev", here).ok
        (event,) = [e for e in store.timeline(1) if e.kind == "ops"]
        seq = event.data["audit_seq"]
        assert [r.seq for r in store.audit_records() if r.phase == "succeeded"] == [seq]
        shown = to_text(router.handle("/incident", "timeline INC-1", here))
        assert "run uptime in dev: succeeded in 0." in shown and f"(audit #{seq})" in shown, shown
        assert "/ops" not in event.text  # stored text is neutral: the surface says how it was typed
    finally:
        store.close()
