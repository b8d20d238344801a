"""The public status page under load: `opsbot serve` (a real process, Slack off, SQLite) with N past public
incidents, 200 concurrent clients reading `summary.json` and `/status/`; p50/p99 of each, as the clients see them.
The page is rendered once per change (bot/http/status.py), so the figures should not grow with N.
Target: p99 < 20 ms, and no worse with 10,000 past incidents than with 100.

The 200 clients are wrk (Debian's `wrk`, a load generator in C): 200 HTTP/1.1 keep-alive connections, each sending
its next request when the last is answered, for --seconds per path — what browsers and monitors do. One client is
this process (httpx), which also reads the server's own time per answer (its Server-Timing header). With `ab`
installed (apache2-utils), the same 200 clients are also measured opening a new connection for every request — the
worst case, clients without keep-alive (ab's -k cannot keep a connection to uvicorn: ab speaks HTTP/1.0 and needs a
Keep-Alive header in the answer, which uvicorn does not send).

    apt-get install wrk apache2-utils
    .venv/bin/python bench/status_page.py [--incidents 100,1000,10000] [--clients 200] [--seconds 10]
"""
from __future__ import annotations

import argparse
import asyncio
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from bot.config import Catalog
from bot.core.models import Incident, Status
from bot.core.ports import StatusWrite
from bot.core.status_models import (
    ComponentStatus,
    Impact,
    PublicIncident,
    PublicState,
    PublicUpdate,
    new_public_id,
)
from bot.store import open_store

CATALOG = """
environments:
  prod: {services: {api: {}, web: {}}}
status_page:
  title: Bench Status
  url: https://status.example.com
  components: [{name: API, group: Platform, services: [prod/api]}, {name: Website, services: [prod/web]}]
"""


def seed(url: str, count: int) -> None:
    """`count` resolved public incidents over the last year, three updates each, written as the service does."""
    store = open_store(url, Catalog.model_validate({}))
    store.migrate()
    start = datetime.now(UTC) - timedelta(days=365)
    for n in range(count):
        at = start + timedelta(minutes=n * (365 * 24 * 60 // max(count, 1)))
        updates = [PublicUpdate(id=new_public_id(), state=state, body=f"{state.value} update of incident {n}", at=at,
                                components={"API": ComponentStatus.PARTIAL_OUTAGE})
                   for state in (PublicState.INVESTIGATING, PublicState.MONITORING, PublicState.RESOLVED)]
        internal = store.create_incident(Incident(number=0, title=f"internal {n}", severity="P1", status=Status.RESOLVED,
                                                  opened_by="U_BENCH", declared_at=at,
                                                  resolved_at=at + timedelta(hours=1), resolution="fixed"), [])
        public = PublicIncident(id=new_public_id(), number=internal.number, name=f"Elevated errors {n}", impact=Impact.MAJOR,
                                state=PublicState.RESOLVED, components={"API": ComponentStatus.OPERATIONAL},
                                updates=updates, created_at=at, updated_at=at + timedelta(hours=1),
                                resolved_at=at + timedelta(hours=1))
        store.write_status(store.status_version(), StatusWrite(incident=public))
    store.close()


async def one_client(base: str, path: str, requests: int) -> tuple[list[float], list[float]]:
    """Latencies as one client sees them, and the server's own time per answer (its Server-Timing header)."""
    timings: list[float] = []
    server: list[float] = []
    async with httpx.AsyncClient(base_url=base, timeout=30) as client:
        await client.get(path)  # the first read renders the page: not part of the figures
        for _ in range(requests):
            started = time.perf_counter()
            answer = await client.get(path)
            timings.append((time.perf_counter() - started) * 1000)
            assert answer.status_code == 200
            server.append(float(answer.headers["server-timing"].split("dur=")[1]))
    return timings, server


def wrk(base: str, path: str, clients: int, seconds: int) -> str:
    """`clients` keep-alive connections for `seconds`: p50, p99, requests/s and errors, as wrk reports them."""
    if shutil.which("wrk") is None:
        return "wrk not installed (apt-get install wrk): no figure at this many clients"
    out = subprocess.run(["wrk", "-t1", f"-c{clients}", f"-d{seconds}s", "--latency", base + path],
                         check=False, capture_output=True, text=True, timeout=seconds + 60).stdout
    rate = re.search(r"Requests/sec:\s+([0-9.]+)", out)
    p50, p99 = re.search(r"^\s+50%\s+(\S+)", out, re.MULTILINE), re.search(r"^\s+99%\s+(\S+)", out, re.MULTILINE)
    total = re.search(r"(\d+) requests in", out)
    if not (rate and p50 and p99 and total):
        return f"wrk gave no figures: {out.strip()[-200:]}"
    errors = re.search(r"Non-2xx or 3xx responses: (\d+)|Socket errors: (.*)", out)
    return (f"wrk (keep-alive): p50 {as_ms(p50.group(1)):5.1f} ms p99 {as_ms(p99.group(1)):5.1f} ms, "
            f"{float(rate.group(1)):,.0f} requests/s, {int(total.group(1)):,} requests"
            + (f", ERRORS: {errors.group(0)}" if errors else ""))


def as_ms(figure: str) -> float:
    """wrk's durations (`850.00us`, `6.13ms`, `1.02s`) in milliseconds."""
    number, unit = re.fullmatch(r"([0-9.]+)(us|ms|s|m)", figure).groups()  # type: ignore[union-attr]
    return float(number) * {"us": 0.001, "ms": 1.0, "s": 1000.0, "m": 60000.0}[unit]


def serve(folder: Path, url: str) -> tuple[subprocess.Popen, str]:
    port = 18000 + os.getpid() % 1000
    env = {**os.environ, "OPSBOT_DATABASE_URL": url, "OPSBOT_CONFIG": str(folder / "opsbot.yml"), "PORT": str(port),
           "OPSBOT_LOG_LEVEL": "WARNING"}
    for name in ("SLACK_BOT_TOKEN", "SLACK_SIGNING_SECRET", "SLACK_APP_TOKEN"):
        env.pop(name, None)
    process = subprocess.Popen([sys.executable, "-m", "bot.cli", "serve", "--host", "127.0.0.1", "--no-scheduler"],
                               env=env, cwd=folder, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    base = f"http://127.0.0.1:{port}"
    for _ in range(200):
        try:
            if httpx.get(f"{base}/healthz", timeout=1).status_code == 200:
                return process, base
        except httpx.HTTPError:
            time.sleep(0.1)
    process.kill()
    raise SystemExit("opsbot serve did not start")


def apache_bench(base: str, path: str, clients: int, requests: int) -> str | None:
    """The same clients from ApacheBench, each request on a new connection. None when `ab` is not installed."""
    if shutil.which("ab") is None:
        return None
    out = subprocess.run(["ab", "-q", "-n", str(clients * requests), "-c", str(clients), base + path],
                         check=False, capture_output=True, text=True, timeout=300).stdout
    rate = re.search(r"Requests per second:\s+([0-9.]+)", out)
    p50, p99 = re.search(r"^\s+50%\s+(\d+)", out, re.MULTILINE), re.search(r"^\s+99%\s+(\d+)", out, re.MULTILINE)
    if not (rate and p50 and p99):
        return "ab gave no figures"
    return (f"ab (a connection per request): p50 {p50.group(1)} ms p99 {p99.group(1)} ms, "
            f"{float(rate.group(1)):,.0f} requests/s")


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(share * len(ordered)))]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--incidents", default="100,1000,10000")
    parser.add_argument("--clients", type=int, default=200, help="concurrent clients (wrk's connections)")
    parser.add_argument("--seconds", type=int, default=10, help="of load per path")
    parser.add_argument("--requests", type=int, default=200, help="of the one client, per path")
    args = parser.parse_args()
    print(f"`opsbot serve` (one process, SQLite) on {os.cpu_count()} cores shared with the load generator")
    for count in (int(n) for n in args.incidents.split(",")):
        with tempfile.TemporaryDirectory() as folder_name:
            folder = Path(folder_name)
            (folder / "opsbot.yml").write_text(CATALOG)
            url = f"sqlite:///{folder}/bench.db"
            seed(url, count)
            process, base = serve(folder, url)
            try:
                for path in ("/status/api/v2/summary.json", "/status/"):
                    timings, server = asyncio.run(one_client(base, path, args.requests))
                    print(f"{count:>6} past incidents  {path:<28}   1 client: p50 {statistics.median(timings):5.2f} ms "
                          f"p99 {percentile(timings, 0.99):5.2f} ms (inside opsbot: p50 {statistics.median(server):.2f}"
                          f" ms p99 {percentile(server, 0.99):.2f} ms)")
                    print(f"{'':>52}{args.clients} clients: {wrk(base, path, args.clients, args.seconds)}")
                    figure = apache_bench(base, path, args.clients, max(20, 10_000 // args.clients))
                    if figure:
                        print(f"{'':>52}{args.clients} clients: {figure}")
            finally:
                process.terminate()
                process.wait(20)


if __name__ == "__main__":
    main()
