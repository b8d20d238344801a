"""Timeline throughput and post-mortem render time, on SQLite and PostgreSQL.

Appends N notes to one incident through the incident service — each its own committed transaction,
exactly as a user's `/incident note` is — then renders the post-mortem. Prints events/s and render ms.
Targets: >= 2,000 events/s on SQLite; render < 500 ms.

    .venv/bin/python bench/timeline.py [--events 10000]
"""
from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from bench.scratch import scratch_postgres
from bot.config import Catalog
from bot.core.incidents import IncidentService
from bot.core.postmortem import render_postmortem
from bot.store import open_store


def run(label: str, url: str, events: int) -> None:
    store = open_store(url)
    service = IncidentService(store, Catalog())
    incident = service.open("U_BENCH", "p1", "Benchmark incident", impact="none")
    started = time.perf_counter()
    for index in range(events):
        service.add_note(incident.number, "U_BENCH", f"note {index}: pool at {index % 200}/200 connections")
    elapsed = time.perf_counter() - started
    incident = service.get(incident.number)
    started = time.perf_counter()
    timeline = service.timeline(incident.number)
    draft = render_postmortem(incident, timeline, service.catalog)
    render_ms = (time.perf_counter() - started) * 1000
    store.close()
    print(f"{label:10} {events} events in {elapsed:6.2f} s = {events / elapsed:8.0f} events/s;"
          f" post-mortem of {len(timeline)} events ({len(draft) // 1024} KiB) rendered in {render_ms:6.1f} ms")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--events", type=int, default=10_000)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        run("sqlite", f"sqlite:///{folder}/bench.db", args.events)
    admin = os.environ.get("OPSBOT_BENCH_PG_URL", "postgresql://postgres@127.0.0.1:5432/postgres")
    with scratch_postgres(admin) as url:
        run("postgresql", url, args.events)


if __name__ == "__main__":
    main()
