"""The web view (/ui/) at size: the incident list over N incidents, one incident page with 10,000 timeline events
(its post-mortem draft rendered too) and insights over N incidents; p50/p99 of the server's time per page, through
the app `opsbot serve` runs (in process, Starlette's TestClient, signed in with a session cookie). Insights are kept
until the store changes (bot/core/insights.py CachedInsights), so they are also timed as computed afresh.
Targets: the list < 100 ms, the incident page < 300 ms, insights < 500 ms (p99, at 10,000).

    .venv/bin/python bench/web.py [--incidents 10000] [--events 10000] [--requests 20] [--postgres URL]
"""
from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

from starlette.testclient import TestClient

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from bench.scratch import scratch_postgres
from bot.app import build, served
from bot.config import Settings, SlackSettings
from bot.core.audit import AuditRecord
from bot.core.insights import insights
from bot.core.models import Event, EventKind, Incident, Status
from bot.core.privacy import Viewer

CATALOG = """
environments:
  prod: {services: {api: {}, web: {}, db: {}}}
roles:
  "*": {admin: [U0ADMIN01]}
"""
SEVERITIES = ("P1", "P2", "P3")


def seed(opsbot, incidents: int, events: int, audit: int = 0) -> None:
    """`incidents` resolved incidents over the last year (declared, acknowledged, two updates, resolved), `audit`
    audit records, then one open incident with `events` notes, written through the store as the services do."""
    store = opsbot.store
    start = datetime.now(UTC) - timedelta(days=365)
    step = timedelta(minutes=365 * 24 * 60 // max(incidents, 1))
    for n in range(incidents):
        at = start + n * step
        incident = Incident(title=f"Elevated errors {n}", severity=SEVERITIES[n % 3], status=Status.RESOLVED,
                            service=("api", "web", "db")[n % 3], env="prod", opened_by="U0RESP01",
                            commander="U0RESP01", declared_at=at, acknowledged_at=at + timedelta(minutes=4 + n % 9),
                            mitigated_at=at + timedelta(minutes=30 + n % 40), resolved_at=at + timedelta(hours=1 + n % 5),
                            resolution="fixed")
        events_of = [Event(at=at, actor="U0RESP01", kind=EventKind.DECLARED, text="declared"),
                     *(Event(at=at + timedelta(minutes=20 * k), actor="U0RESP01", kind=EventKind.UPDATE,
                             text=f"update {k}") for k in (1, 2)),
                     Event(at=at + timedelta(hours=1), actor="U0RESP01", kind=EventKind.STATUS, text="resolved")]
        store.create_incident(incident, events_of)
    for n in range(audit):
        store.append_audit(AuditRecord(at=start + n * step, attempt=uuid.uuid4().hex, phase=("succeeded", "failed")[n % 2],
                                       user="U0RESP01", env="prod", action="restart", target=("api", "web")[n % 2]))
    now = datetime.now(UTC)
    big = store.create_incident(Incident(title="The long one", severity="P1", opened_by="U0RESP01", env="prod",
                                         service="api", declared_at=now - timedelta(days=1)), [])
    for first in range(0, events, 1000):
        store.append_events(big.number, [
            Event(at=now - timedelta(days=1) + timedelta(seconds=k), actor="U0RESP01", kind=EventKind.NOTE,
                  text=f"note {k}: pool at {k % 200}/200 connections <b>bold</b>")
            for k in range(first, min(first + 1000, events))])


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(share * len(ordered)))]


def measure(label: str, url: str, folder: Path, incidents: int, events: int, audit: int, requests: int) -> None:
    opsbot = build(settings=Settings(database_url=url, config=folder / "opsbot.yml"))
    try:
        started = time.perf_counter()
        seed(opsbot, incidents, events, audit)
        print(f"{label}: seeded {incidents} incidents, {audit} audit records and {events} events in {time.perf_counter() - started:.1f} s")
        app = served(opsbot, SlackSettings(slack_bot_token=None, slack_signing_secret=None, slack_app_token=None),
                     "off").app
        client = TestClient(app, follow_redirects=False)
        assert client.get(opsbot.services.web.link("U0ADMIN01").removeprefix("http://localhost:3000")).status_code == 303
        big = incidents + 1
        for name, path, target in [("list", "/ui/", 100), ("list, filtered", "/ui/?severity=P2&service=web&page=3", 100),
                                   (f"incident ({events} events)", f"/ui/incidents/INC-{big}", 300),
                                   ("insights (12 months, cached)", "/ui/insights?months=12", 500),
                                   (f"audit ({audit} records)", "/ui/audit", 300),
                                   ("audit, a filter matching none", "/ui/audit?user=U0NOBODY", 300)]:
            client.get(path)  # warm
            timings = []
            for _ in range(requests):
                began = time.perf_counter()
                answer = client.get(path)
                timings.append((time.perf_counter() - began) * 1000)
                assert answer.status_code == 200, (path, answer.status_code, answer.text[:300])
            p99 = percentile(timings, 0.99)
            print(f"{label:10} {name:<34} p50 {statistics.median(timings):7.1f} ms  p99 {p99:7.1f} ms  "
                  f"target < {target} ms {'ok' if p99 < target else 'MISSED'}  ({len(answer.content) // 1024} KiB)")
        # Insights as computed when the store has just changed (the page above is kept until it does).
        viewer, catalog = Viewer(user="U0ADMIN01", admin=True), opsbot.catalog
        timings = []
        for _ in range(max(requests // 2, 3)):
            began = time.perf_counter()
            insights(opsbot.store, catalog, viewer, datetime.now(UTC), 12)
            timings.append((time.perf_counter() - began) * 1000)
        p99 = percentile(timings, 0.99)
        print(f"{label:10} {'insights (12 months, computed)':<34} p50 {statistics.median(timings):7.1f} ms  p99 "
              f"{p99:7.1f} ms  target < 500 ms {'ok' if p99 < 500 else 'MISSED'}")
    finally:
        opsbot.close()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--incidents", type=int, default=10_000)
    parser.add_argument("--events", type=int, default=10_000)
    parser.add_argument("--audit", type=int, default=10_000)
    parser.add_argument("--requests", type=int, default=20)
    parser.add_argument("--postgres", help="a PostgreSQL server URL: also measure there, in a scratch database")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as name:
        folder = Path(name)
        (folder / "opsbot.yml").write_text(CATALOG)
        measure("SQLite", f"sqlite:///{folder}/bench.db", folder, args.incidents, args.events, args.audit, args.requests)
        if args.postgres:
            with scratch_postgres(args.postgres) as url:
                measure("PostgreSQL", url, folder, args.incidents, args.events, args.audit, args.requests)


if __name__ == "__main__":
    main()
