"""Evidence collection at scale: 200 MB of container logs plus the other collectors, on the real engine.

    bash scripts/start-docker.sh && .venv/bin/python bench/evidence.py [--megabytes 200]

Prints, for one collection of a container that has logged --megabytes (one line in a hundred holds a password)
together with status, health, PostgreSQL and Redis:
- each collector alone (the log drained raw from the engine, nothing done with it: the slowest collector);
- the whole collection's wall time, and its ratio to the slowest collector alone;
- the pipeline alone (redact + hash + write + gzip, fed from memory) in MB/s;
- the process's peak RSS growth over idle during the collection.
Targets: peak RSS growth <= 64 MB; >= 30 MB/s through redact+hash+gzip; total wall <= 1.3 x the slowest collector.
"""
from __future__ import annotations

import argparse
import asyncio
import os
import shutil
import sys
import tempfile
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import docker

from bot.app import build_services
from bot.config import Catalog
from bot.core.evidence import Collected, EvidenceService, Job
from bot.core.ops import Actor
from bot.platforms import Platforms
from bot.store.sqlite import SqliteStore
from tests.loud import block_of_lines, loud_command

ACTOR = Actor(user="U_BENCH", channel="C1", command="/incident evidence collect")


def rss_mb(field: str) -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1]) / 1024
    raise RuntimeError(field)


def reset_peak() -> None:
    Path("/proc/self/clear_refs").write_text("5")  # VmHWM starts again from the current RSS


class FromMemory:
    """One item fed from a repeated block in memory: the pipeline without the engine."""

    def __init__(self, size: int):
        self.size = size

    def jobs(self, env_name, env, names, since):
        block = block_of_lines()

        def chunks():
            sent = 0
            while sent < self.size:
                yield block
                sent += len(block)

        async def work():
            return [Collected("logs-api-memory.log", "logs", "api/memory", chunks=chunks())]
        return [Job("logs-api.log", "logs", "api", work())]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--megabytes", type=int, default=200)
    args = parser.parse_args()
    size = args.megabytes * 1_000_000
    host = os.environ.get("DOCKER_HOST", "unix:///tmp/opsbot-docker/docker.sock")
    os.environ.setdefault("BENCH_PG", "postgresql://postgres@127.0.0.1:5432/postgres")
    os.environ.setdefault("BENCH_REDIS", "redis://127.0.0.1:6379/0")
    project = f"bench{uuid.uuid4().hex[:6]}"
    engine = docker.DockerClient(base_url=host, timeout=600)
    print(f"logging {args.megabytes} MB in a container …", flush=True)
    container = engine.containers.run("opsbot-busybox:2", ["sh", "-c", loud_command(size)], detach=True,
                                      name=f"{project}-api-1", network_mode="none",
                                      labels={"com.docker.compose.project": project,
                                              "com.docker.compose.service": "api",
                                              "com.docker.compose.container-number": "1"})
    container.wait(timeout=600)
    workdir = Path(tempfile.mkdtemp(prefix="opsbot-bench-evidence-"))
    try:
        catalog = Catalog.model_validate({"environments": {"prod": {
            "platform": {"kind": "docker", "project": project, "host": host},
            "services": {"api": {}},
            "checks": [{"name": "db", "kind": "postgres", "dsn_env": "BENCH_PG"},
                       {"name": "cache", "kind": "redis", "url_env": "BENCH_REDIS"}],
            "evidence": {"collectors": ["logs", "status", "health", "db", "cache"], "max_item_bytes": 2 * size,
                         "time_budget_s": 600}}},
            "roles": {"prod": {"responder": [ACTOR.user]}}})
        env = catalog.environments["prod"]
        store = SqliteStore(f"sqlite:///{workdir}/opsbot.db")
        store.migrate()
        services = build_services(store, catalog, evidence_dir=workdir / "evidence")
        incident = services.incidents.open(ACTOR.user, "p1", "Bench", env="prod")
        services.evidence.collect(ACTOR, incident.number, only=["status"])  # warm-up: imports, rules compiled
        since = datetime.now(UTC) - timedelta(hours=1)

        platform = Platforms()("prod", env)
        alone: dict[str, float] = {}
        started = time.perf_counter()
        drained = sum(len(chunk) for _, chunks in platform.log_streams("api", since) for chunk in chunks)
        alone["logs (engine stream, drained)"] = time.perf_counter() - started
        for name in ("status", "health", "db", "cache"):
            jobs = services.evidence.collectors.jobs("prod", env, [name], since)
            started = time.perf_counter()
            asyncio.run(_all(jobs))
            alone[name] = time.perf_counter() - started
        slowest = max(alone.values())

        idle = rss_mb("VmRSS")
        reset_peak()
        started = time.perf_counter()
        bundle = services.evidence.collect(ACTOR, incident.number, since=timedelta(hours=1))
        wall = time.perf_counter() - started
        peak = rss_mb("VmHWM")
        logged = sum(item.size for item in bundle.items if item.collector == "logs")

        pipeline = EvidenceService(services.incidents, services.ops, catalog, FromMemory(size),
                                   services.evidence.storage)
        started = time.perf_counter()
        pipeline.collect(ACTOR, incident.number, only=["logs"])
        through = size / (time.perf_counter() - started) / 1e6
        store.close()
    finally:
        container.remove(force=True)
        engine.close()
        shutil.rmtree(workdir, ignore_errors=True)

    print(f"engine stream of the log: {drained / 1e6:.0f} MB")
    for name, seconds in alone.items():
        print(f"  alone: {name:32s} {seconds:7.2f} s")
    print(f"collection (all collectors at once): {wall:.2f} s for {logged / 1e6:.0f} MB of logs "
          f"= {wall / slowest:.2f} x the slowest collector (target <= 1.3)")
    print(f"pipeline alone (redact + hash + write + gzip): {through:.1f} MB/s (target >= 30)")
    print(f"peak RSS growth over idle: {peak - idle:.1f} MB (idle {idle:.0f} MB, peak {peak:.0f} MB; target <= 64)")


async def _all(jobs: list[Job]) -> None:
    for pieces in await asyncio.gather(*(job.work for job in jobs)):
        for piece in pieces:
            for _ in piece.chunks or ():
                pass


if __name__ == "__main__":
    main()
