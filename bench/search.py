"""Search at scale, on SQLite and PostgreSQL: N past incidents with 20 timeline events each, written in bulk by SQL
(as a store holding years of incidents), the index built by `reindex_search` (the path the migration takes), then
`/incident search` p50/p99 over varied queries and the time similar-on-open adds to a declaration's background work.
Targets: search p99 < 50 ms; similar < 100 ms. With the semantic extra, the time to embed one incident (its fields
and a 20-event timeline) on one core: target < 50 ms.

    .venv/bin/python bench/search.py [--incidents 100000] [--only sqlite|postgres]
"""
from __future__ import annotations

import argparse
import os

os.environ.setdefault("OMP_NUM_THREADS", "1")  # the embedding's time on one core
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
import random
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from bench.scratch import scratch_postgres
from bot.config import Catalog
from bot.core.models import Incident, Status
from bot.core.search import SearchRequest, SearchService
from bot.store import open_store
from tests.search_set.labelled import NEW, PAST

EVENTS = 20
BATCH = 1000
QUERIES = ["connection pool exhausted", "certificate expired", "memory leak", "rolled back release", "rpc node",
           "disk full", '"no space left"', "redis -sentinel", "slow query index", "stripe", "pgbouncer",
           "oomkilled worker", "dns coredns", "nginx 502", "timeout", "checkout errors"]


def _rows(first: int, count: int, start: datetime, rng: random.Random):
    kinds = [entry for entries in PAST.values() for entry in entries]
    incidents, events = [], []
    for number in range(first, first + count):
        title, service, impact, note, resolution = rng.choice(kinds)
        at = start + timedelta(minutes=number)
        doc = Incident(number=number, title=f"{title} #{number}", severity=rng.choice(["P1", "P2", "P3"]),
                       status=Status.RESOLVED, impact=impact, service=service, opened_by="U_BENCH", declared_at=at,
                       resolved_at=at + timedelta(hours=1), resolution=resolution).model_dump_json(exclude={"version"})
        incidents.append((number, "resolved", at, doc))
        for index in range(EVENTS):
            text = note if index % 4 == 0 else f"Status update: {rng.choice(kinds)[3]} (step {index})"
            events.append((number, at + timedelta(seconds=index), "U_BENCH", "note" if index % 4 else "update",
                           text, "{}"))
    return incidents, events


def fill(store, total: int) -> None:
    rng = random.Random(27)
    start = datetime(2020, 1, 1, tzinfo=UTC)
    for first in range(1, total + 1, BATCH):
        incidents, events = _rows(first, min(BATCH, total + 1 - first), start, rng)
        with store._write() as db:
            if store.postgres:
                _pg_many(db, incidents, events)
            else:
                t = store._time
                db.executemany("INSERT INTO incidents (number, status, channel, declared_at, version, timers, doc)"
                               " VALUES (?, ?, NULL, ?, 1, 0, ?)", [(n, s, t(a), d) for n, s, a, d in incidents])
                db.executemany("INSERT INTO events (incident, at, actor, kind, text, data) VALUES (?, ?, ?, ?, ?, ?)",
                               [(n, t(a), u, k, x, d) for n, a, u, k, x, d in events])
        with store._write() as db:
            db.execute("UPDATE counters SET value = ? WHERE name = 'incident'", (first + len(incidents) - 1,))


def _pg_many(db, incidents, events) -> None:
    cursor = db._conn.cursor()
    cursor.executemany("INSERT INTO incidents (number, status, channel, declared_at, version, timers, doc)"
                       " VALUES (%s, %s, NULL, %s, 1, 0, %s)", incidents)
    cursor.executemany("INSERT INTO events (incident, at, actor, kind, text, data) VALUES (%s, %s, %s, %s, %s, %s)",
                       events)


def percentile(values: list[float], p: float) -> float:
    values = sorted(values)
    return values[min(len(values) - 1, int(len(values) * p))]


def run(label: str, url: str, total: int) -> None:
    store = open_store(url)
    started = time.perf_counter()
    fill(store, total)
    filled = time.perf_counter() - started
    started = time.perf_counter()
    count = store.reindex_search()
    indexed = time.perf_counter() - started
    search = SearchService(store, Catalog(), lambda: datetime.now(UTC))
    timings = []
    for round_ in range(10):
        for query in QUERIES:
            request = SearchRequest(query, service="api" if round_ % 3 == 0 else None)
            began = time.perf_counter()
            search.search(request, None)
            timings.append((time.perf_counter() - began) * 1000)
    similar = []
    for title, service, impact, _ in NEW:
        incident = Incident(number=total + 1, title=title, severity="P2", impact=impact, service=service,
                            opened_by="U_BENCH", declared_at=datetime.now(UTC))
        began = time.perf_counter()
        search.similar(incident, None)
        similar.append((time.perf_counter() - began) * 1000)
    store.close()
    print(f"{label:10} {total:,} incidents x {EVENTS} events: bulk insert {filled:.0f} s, index {count:,} in "
          f"{indexed:.0f} s; search p50 {statistics.median(timings):.1f} ms p99 {percentile(timings, 0.99):.1f} ms "
          f"(target < 50); similar-on-open p50 {statistics.median(similar):.1f} ms "
          f"p99 {percentile(similar, 0.99):.1f} ms (target < 100)", flush=True)


def embed_time() -> None:
    from bot.core.search_text import events_text, incident_fields, semantic_text
    from bot.semantic import load_embedder

    embedder = load_embedder()
    if embedder is None:
        print("semantic   the extra opsbot[semantic] is not installed: no embedding time", flush=True)
        return
    title, service, impact, note, resolution = PAST["pool"][0]
    incident = Incident(number=1, title=title, severity="P2", impact=impact, service=service, opened_by="U_BENCH",
                        declared_at=datetime.now(UTC), resolution=resolution)
    timeline = "\n".join([note] * EVENTS)
    text = semantic_text(*incident_fields(incident), events_text([], timeline))
    timings = []
    for _ in range(200):
        began = time.perf_counter()
        embedder.embed([text])
        timings.append((time.perf_counter() - began) * 1000)
    print(f"semantic   embedding one incident ({len(text):,} characters) on one core: p50 "
          f"{statistics.median(timings):.2f} ms p99 {percentile(timings, 0.99):.2f} ms (target < 50)", flush=True)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--incidents", type=int, default=100_000)
    parser.add_argument("--only", choices=["sqlite", "postgres"])
    args = parser.parse_args()
    embed_time()
    if args.only != "postgres":
        with tempfile.TemporaryDirectory() as tmp:
            run("SQLite", f"sqlite:///{tmp}/bench.db", args.incidents)
    if args.only != "sqlite":
        with scratch_postgres(os.environ.get("OPSBOT_BENCH_PG_URL", "postgresql://postgres@127.0.0.1:5432/postgres")) as url:
            run("PostgreSQL", url, args.incidents)


if __name__ == "__main__":
    main()
