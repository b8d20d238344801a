"""Redaction: recall and false positives on the corpus, throughput on mixed log text, and worst-case lines.

    .venv/bin/python bench/redact.py [--megabytes 20]

Targets: >= 98% of secret kinds redacted, <= 1 false positive in 30 normal lines, >= 20 MB/s on mixed log text,
a single 1 MB line in < 100 ms (RE2: linear time whatever the input).
"""
from __future__ import annotations

import argparse
import random
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bot.core.redact import default_redactor
from tests.redaction_corpus import NORMAL, SECRETS


def typical_line(rng: random.Random) -> str:
    """A line of the kinds `/ops logs` returns: access logs, JSON app logs, database and orchestrator lines."""
    ip = ".".join(str(rng.randrange(1, 255)) for _ in range(4))
    path = rng.choice(["/api/orders", "/api/cart/items", "/checkout", "/health", "/static/app.9f3c.js"])
    return rng.choice([
        (f'{ip} - - [24/Nov/2026:02:{rng.randrange(60):02d}:11 +0000] "GET {path}?page={rng.randrange(9)} HTTP/1.1" '
        f'{rng.choice([200, 200, 304, 502])} {rng.randrange(99999)} "-" "Mozilla/5.0 (X11; Linux x86_64)"'),
        (f'{{"ts":"2026-11-24T02:00:{rng.randrange(60):02d}Z","level":"info","msg":"order placed","order_id":'
        f'{rng.randrange(10**6)},"user":"u{rng.randrange(10**5)}","duration_ms":{rng.randrange(900)}}}'),
        (f"2026-11-24 02:00:{rng.randrange(60):02d} UTC [{rng.randrange(9999)}] app@shop LOG:  duration: "
        f"{rng.random() * 900:.3f} ms  statement: SELECT * FROM orders WHERE id = {rng.randrange(10**6)}"),
        (f"I1124 02:00:{rng.randrange(60):02d}.123456 1 controller.go:{rng.randrange(999)}] Successfully assigned "
        f"shop/api-{rng.randrange(16**6):06x} to node-{rng.randrange(9)}"),
        f"WARN [worker-{rng.randrange(8)}] retrying job {rng.randrange(10**5)} after timeout (attempt {rng.randrange(5)})",
    ])


def mixed_log(megabytes: float, secrets: float = 0.01, look_alikes: float = 0.01) -> str:
    """Typical log lines; a share carry a secret from the corpus, a share are the corpus's look-alike normal
    lines (TOKEN_TTL=3600 …): what `/ops logs` returns."""
    rng = random.Random(7)
    lines, size = [], 0
    while size < megabytes * 1_000_000:
        roll = rng.random()
        line = (rng.choice(SECRETS)[1] if roll < secrets else rng.choice(NORMAL) if roll < secrets + look_alikes
                else typical_line(rng))
        lines.append(line)
        size += len(line) + 1
    return "\n".join(lines)


def timed(function, *args) -> float:
    started = time.perf_counter()
    function(*args)
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--megabytes", type=float, default=20)
    args = parser.parse_args()
    redactor = default_redactor()
    redact = redactor.redact

    leaked = sorted({kind for kind, line, secret in SECRETS if secret in redact(line)})
    kinds = len({kind for kind, _, _ in SECRETS})
    changed = [line for line in NORMAL if redact(line) != line]
    print(f"rules {len(redactor.rules)}; corpus {kinds} kinds: {kinds - len(leaked)} redacted "
          f"({100 * (kinds - len(leaked)) / kinds:.1f}%), leaked: {', '.join(leaked) or 'none'}")
    print(f"normal lines: {len(changed)} of {len(NORMAL)} changed (false positives)")

    for label, secrets, look_alikes in (("mixed log, 1% secrets, 1% look-alikes", 0.01, 0.01),
                                        ("dense: 5% secrets, 25% look-alikes", 0.05, 0.25)):
        text = mixed_log(args.megabytes, secrets, look_alikes)
        best = min(timed(redact, text) for _ in range(3))
        print(f"{label:40} {len(text) / 1e6:.1f} MB in {best * 1000:5.0f} ms = {len(text) / 1e6 / best:5.1f} MB/s")
    for name, line in (("1 MB of 'A'", "A" * 1_000_000), ("1 MB of 'password=' ", "password=" * 111_112),
                       ("1 MB of 'a:' (URL-ish)", "a://b:" * 166_667), ("1 MB base64, one line", "QUJD" * 250_000),
                       ("1 MB with a key at the end", "x" * 999_900 + " ghp_" + "a" * 36)):
        best = min(timed(redact, line) for _ in range(3))
        print(f"{name:30} {best * 1000:7.1f} ms")


if __name__ == "__main__":
    main()
