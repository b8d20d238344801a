"""The web view's server time (bot/webui.py rendering a page, as `opsbot serve` does for each request), SQLite:
an incident page with 10,000 timeline events, the incident list at 10,000 incidents, insights over 10,000
incidents. Targets: p99 < 300 ms, < 100 ms and < 500 ms.

    .venv/bin/python bench/web.py [--incidents 10000] [--events 10000] [--runs 20]
"""
from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from bot.app import build, web_site  # noqa: F401 — web_site: the same wiring `opsbot serve` uses
from bot.config import Settings
from bot.core.models import Event, EventKind, Incident, Status
from bot.webui import WebUI


def seed(opsbot, incidents: int, events: int) -> None:
    store = opsbot.store
    start = datetime.now(UTC) - timedelta(days=180)
    for n in range(incidents):
        at = start + timedelta(minutes=n * 20)
        store.create_incident(Incident(number=0, title=f"Checkout errors {n}", severity=["P1", "P2", "P3"][n % 3],
                                       status=Status.RESOLVED, opened_by="U0BENCH01", declared_at=at,
                                       acknowledged_at=at + timedelta(minutes=4), resolved_at=at + timedelta(hours=1),
                                       service=["api", "web", "db"][n % 3], env="prod", resolution="fixed"),
                              [Event(at=at, actor="U0BENCH01", kind=EventKind.NOTE, text="declared")])
    big = [Event(at=start + timedelta(seconds=s), actor="U0BENCH01", kind=EventKind.NOTE,
                 text=f"note {s}: the pool is at {s % 100}/100") for s in range(events)]
    for chunk in range(0, len(big), 1000):
        store.append_events(1, big[chunk:chunk + 1000])


def timed(render, path: str, runs: int) -> list[float]:
    found = []
    for _ in range(runs):
        started = time.perf_counter()
        status, _, body = render("U0BENCH01", path, {})
        found.append((time.perf_counter() - started) * 1000)
        assert status == 200, body[:300]
    return found


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--incidents", type=int, default=10_000)
    parser.add_argument("--events", type=int, default=10_000)
    parser.add_argument("--runs", type=int, default=20)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        (Path(folder) / "opsbot.yml").write_text('roles: {"*": {admin: [U0BENCH01]}}\nenvironments: {prod: {}}\n')
        opsbot = build(settings=Settings(database_url=f"sqlite:///{folder}/bench.db",
                                         config=Path(folder) / "opsbot.yml", evidence_dir=Path(folder) / "ev"))
        started = time.perf_counter()
        seed(opsbot, args.incidents, args.events)
        print(f"seeded {args.incidents} incidents and {args.events} events on INC-1 in "
              f"{time.perf_counter() - started:.0f} s")
        ui = WebUI(opsbot.services, lambda: opsbot.services.records.verify_audit(None, []), lambda user: None)
        for label, path, target in [(f"incident page, {args.events} events", "/ui/incidents/INC-1", 300),
                                    (f"list at {args.incidents} incidents", "/ui/", 100),
                                    (f"insights over {args.incidents} incidents", "/ui/insights", 500)]:
            found = timed(ui.render, path, args.runs)
            p99 = sorted(found)[min(len(found) - 1, int(0.99 * len(found)))]
            print(f"{label:<40} p50 {statistics.median(found):7.1f} ms  p99 {p99:7.1f} ms  (target p99 < {target} ms)")
        opsbot.close()


if __name__ == "__main__":
    main()
