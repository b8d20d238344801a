"""Audit verification at scale: a log of N records (HMAC-keyed) on SQLite and PostgreSQL, then `verify_stream`
in a fresh process, reporting records/s and peak RSS. Targets: 1,000,000 records at >= 50,000 records/s with RSS
under 100 MB.

    .venv/bin/python bench/audit_verify.py [--records 1000000] [--pg postgresql://postgres@127.0.0.1/postgres]
"""
from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.scratch import scratch_postgres
from bot.core.audit import GENESIS, AuditKey, AuditRecord, chain
from bot.store import open_store

KEY = "bench-key-" + "k" * 22
VERIFY = """
import resource, sys, time
sys.path.insert(0, sys.argv[3])
from bot.core.audit import AuditKey, verify_stream
from bot.store import open_store
store = open_store(sys.argv[1], AuditKey(sys.argv[2]))
started = time.perf_counter()
result = verify_stream(store.iter_audit(), AuditKey(sys.argv[2]))
elapsed = time.perf_counter() - started
rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
print(f"{result.records} {elapsed:.3f} {rss:.1f} {result.ok}")
"""


def fill(url: str, count: int) -> float:
    """Write `count` chained records straight into the audit table (what years of /ops would leave)."""
    store = open_store(url, AuditKey(KEY))
    key, prev, t0 = AuditKey(KEY), GENESIS, datetime(2026, 1, 1, tzinfo=UTC)
    started = time.perf_counter()
    batch: list[tuple] = []
    for seq in range(1, count + 1):
        record = AuditRecord(at=t0 + timedelta(seconds=seq), attempt=f"a-{seq // 4:x}", phase="succeeded",
                             user="U_OPS", channel="C1", command="/ops restart api prod", env="prod",
                             action="restart", target="api", args={}, duration_ms=1200,
                             output_sha256="0" * 64, excerpt="restarted 3 containers")
        linked = chain(record, seq, prev, key)
        prev = linked.hash
        at = linked.at.isoformat() if url.startswith("sqlite") else linked.at
        batch.append((seq, at, linked.attempt, linked.model_dump_json(), linked.hash))
        if len(batch) == 10_000 or seq == count:
            with store._write() as db:
                if url.startswith("sqlite"):
                    db.executemany("INSERT INTO audit (seq, at, attempt, record, hash) VALUES (?, ?, ?, ?, ?)", batch)
                else:
                    db._conn.cursor().executemany(
                        "INSERT INTO audit (seq, at, attempt, record, hash) VALUES (%s, %s, %s, %s, %s)", batch)
            batch = []
    with store._write() as db:
        db.execute("UPDATE counters SET value = ? WHERE name = 'audit'", (count,))
    store.close()
    return time.perf_counter() - started


def run(label: str, url: str, count: int) -> None:
    filled = fill(url, count)
    out = subprocess.run([sys.executable, "-c", VERIFY, url, KEY, str(ROOT)], capture_output=True, text=True,
                         check=True).stdout.split()
    records, elapsed, rss, ok = int(out[0]), float(out[1]), float(out[2]), out[3] == "True"
    print(f"{label:10} {records:>9,} records  filled in {filled:5.1f} s  verified in {elapsed:5.1f} s = "
          f"{records / elapsed:>8,.0f} records/s  peak RSS {rss:5.1f} MB  {'intact' if ok else 'FAILED'}")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--records", type=int, default=1_000_000)
    parser.add_argument("--pg", default="postgresql://postgres@127.0.0.1:5432/postgres")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        run("SQLite", f"sqlite:///{tmp}/audit.db", args.records)
    with scratch_postgres(args.pg) as url:
        run("PostgreSQL", url, args.records)
    print(json.dumps({"target": ">= 50,000 records/s, RSS < 100 MB"}))


if __name__ == "__main__":
    main()
