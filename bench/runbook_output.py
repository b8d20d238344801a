"""A runbook action that prints a great deal: peak memory and time of `/ops run` on it, end to end.

    .venv/bin/python bench/runbook_output.py [--megabytes 500]

The action prints --megabytes of log lines (one in a hundred holds a password) through the whole ops path: the
service (roles, audit records, lease), the runner (streamed through redaction, the first and last megabyte kept)
and the reply's text. Prints wall time, throughput, the reply's size and the process's peak RSS growth over idle.
Target: peak RSS growth <= 64 MB whatever the output (the issue measured ~5x the output before).
"""
from __future__ import annotations

import argparse
import resource
import sys
import tempfile
import textwrap
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bot.app import build_services
from bot.config import Catalog
from bot.store import open_store
from commands.base import Context
from commands.router import Router

PRINTER = textwrap.dedent("""
    import sys
    size = int(sys.argv[1]) * 1024 * 1024
    block = "".join(  # no braces: runbook argv items are templates
        "2026-12-04T09:00:%02dZ INFO worker-%d processed order %d in %d ms\\n" % (n % 60, n % 7, n, n % 900)
        if n % 100 else "2026-12-04T09:00:00Z DEBUG connecting with password=Hunter2Secret%d\\n" % n
        for n in range(2000)).encode()
    out, written = sys.stdout.buffer, 0
    while written < size:
        out.write(block)
        written += len(block)
""")


def peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--megabytes", type=int, default=500)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        catalog = Catalog.model_validate({"environments": {"bench": {"runbook": {"flood": {
            "argv": [sys.executable, "-c", PRINTER, str(args.megabytes)], "timeout_s": 600}}}}})
        store = open_store(f"sqlite:///{tmp}/bench.db")
        router = Router(build_services(store, catalog, evidence_dir=Path(tmp) / "evidence"))
        router.handle("/ops", "health bench", Context(user="U_BENCH"))  # warm: imports, the store, the rules
        idle = peak_mb()
        started = time.perf_counter()
        reply = router.handle("/ops", "run flood bench", Context(user="U_BENCH"))
        wall = time.perf_counter() - started
        growth = peak_mb() - idle
        shown = reply.text + (reply.file.content if reply.file and reply.file.content else "")
        assert reply.ok, reply.text
        assert "Hunter2Secret" not in shown, "a secret reached the reply"
        store.close()
    print(f"runbook output {args.megabytes:,} MB: {wall:.1f} s = {args.megabytes / wall:,.0f} MB/s; "
          f"reply {len(shown) / 1024 / 1024:.1f} MB; peak RSS growth {growth:.1f} MB (idle peak {idle:.0f} MB)")
    print('{"target": "peak RSS growth <= 64 MB"}')


if __name__ == "__main__":
    main()
